import Foundation
import FreqMask
import TensorCore
import XCTest

/// The project's test fixtures, in Tests/Fixtures.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func safetensors(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile.read(directory.appendingPathComponent(name))
    }
}

/// Reproducible test inputs, drawn from the project's generator.
struct TestRandom {
    var generator: SeededGenerator

    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    /// Uniform in [-1, 1).
    mutating func symmetric() -> Float { Float(Double(next() >> 11) * 0x1p-53 * 2 - 1) }

    mutating func tensor(_ shape: [Int], scale: Float = 1) -> Tensor {
        let count = shape.reduce(1, *)
        return Tensor(shape: shape, scalars: (0..<count).map { _ in scale * symmetric() })
    }
}

/// <a, b> in double precision.
func dot(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.shape == b.shape)
    var total = 0.0
    for i in 0..<a.count { total += Double(a.scalars[i]) * Double(b.scalars[i]) }
    return total
}

/// The amplitude-phase masker's two mask gradients against central differences of `loss`
/// along a random direction each, step `epsilon`. Float32 finite differences of a loss of
/// 10^2 to 10^3 terms: rounding noise / (2 epsilon) is ~1e-4 of the derivative, truncation
/// ~epsilon^2, so 2e-3 (relative, or absolute below 1) covers both.
func assertMaskGradientsMatchFiniteDifferences(_ masker: AmplitudePhaseMasker, gradients: [String: Tensor],
                                               loss: () throws -> Double, random: inout TestRandom,
                                               epsilon: Float = 1e-2, _ message: String,
                                               file: StaticString = #filePath, line: UInt = #line) throws {
    for name in ["mask_amplitude", "mask_phase"] {
        let original = masker.parameters.first { $0.name == name }!.value
        let step = random.tensor(original.shape)
        try masker.setParameter(name, to: original + epsilon * step)
        let plus = try loss()
        try masker.setParameter(name, to: original - epsilon * step)
        let minus = try loss()
        try masker.setParameter(name, to: original)
        let numeric = (plus - minus) / Double(2 * epsilon)
        let analytic = dot(gradients[name]!, step)
        XCTAssertEqual(numeric, analytic, accuracy: 2e-3 * max(1, abs(analytic)), "\(name), \(message)", file: file, line: line)
    }
}
