import Foundation
import TensorCore

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
