import HSNetCore
import TensorCore
import XCTest

/// The learner's weight gradients against central differences of its training loss, one
/// parameter group (block) at a time.
///
/// The direction is the group's own gradient, normalised, so the derivative along it is the
/// gradient's norm and the check cannot pass on a gradient of zero. The step moves the loss by
/// about 1e-3: float32 noise in the loss (~1e-7) is then 1e-4 of the difference, and the central
/// difference's truncation O(eps^2). Float32 weights round the shifted values (relative 6e-8
/// of each weight) and the loss carries float32 rounding: 2% covers both with a wide margin,
/// while a missing term, wrong sign or factor is off by far more.
func assertLearnerGradientsMatchFiniteDifferences(
    parameters base: [(name: String, tensor: Tensor)], gradients: [String: Tensor], groups: [String],
    loss: ([(name: String, tensor: Tensor)]) throws -> Double, file: StaticString = #filePath, line: UInt = #line
) throws {
    for group in groups {
        var direction: [String: [Float]] = [:]
        var norm = 0.0
        for (name, _) in base where name.hasPrefix(group) {
            let g = gradients[HSNet.learnerPrefix + name]!.scalars
            direction[name] = g
            norm += g.reduce(0.0) { $0 + Double($1) * Double($1) }
        }
        norm = norm.squareRoot()
        XCTAssertGreaterThan(norm, 0, group, file: file, line: line)
        let eps = 1e-3 / norm
        func shifted(_ sign: Double) -> [(name: String, tensor: Tensor)] {
            base.map { entry in
                guard let d = direction[entry.name] else { return entry }
                return (entry.name, Tensor(shape: entry.tensor.shape, scalars: zip(entry.tensor.scalars, d).map {
                    Float(Double($0) + sign * eps * Double($1) / norm)
                }))
            }
        }
        let numeric = (try loss(shifted(1)) - loss(shifted(-1))) / (2 * eps)
        XCTAssertEqual(numeric, norm, accuracy: 0.02 * norm, group, file: file, line: line)
        print("finite differences \(group): analytic \(norm), numeric \(numeric)")
    }
}
