import Foundation
import ReferenceParity
import TensorCore
import XCTest

/// Shared helpers of the layer tests: the torch fixture, seeded random tensors and
/// finite-difference gradients.
enum LayerTestSupport {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// Small torch cases (torch 2 on CPU, float32), with their float64 references.
    static let small: ReferenceFixture = {
        try! ReferenceFixture(fixtures.appendingPathComponent("layers_small.safetensors"))
    }()

    static func tensor(_ name: String) throws -> Tensor {
        try small.tensor(name)
    }

    /// `actual` against the float64 reference of output `name`, with the bound
    /// `ParityBound.multiple(longestSum:)` times torch's own float32 error on it.
    static func check(_ actual: Tensor, against name: String, longestSum: Int = 1) throws -> ParityCheck {
        try small.output(name).check(actual, longestSum: longestSum)
    }

    /// Uniform values in [-scale, scale) from a fixed seed (SplitMix64).
    static func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var state = seed
        let count = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            values[i] = (Float(Double(z >> 11) * 0x1p-53) * 2 - 1) * scale
        }
        return Tensor(shape: shape, scalars: values)
    }

    /// sum(weights * y) in double precision.
    static func dot(_ a: Tensor, _ b: Tensor) -> Double {
        precondition(a.shape == b.shape)
        var total = 0.0
        for i in 0..<a.count { total += Double(a.scalars[i]) * Double(b.scalars[i]) }
        return total
    }

    /// Central differences of L(x) = sum(weights * f(x)) at every element of x, compared with
    /// `analytic`, the gradient of L: returns max |fd - analytic| / max |analytic|. The loss is
    /// summed in double precision and the actual float step is used, so for layers linear in
    /// x the differences are exact up to the rounding of f's float outputs.
    static func finiteDifferenceError(at x: Tensor, weights: Tensor, analytic: Tensor, step: Float,
                                      _ f: (Tensor) -> Tensor) -> Double {
        precondition(analytic.shape == x.shape)
        var maxDiff = 0.0
        var maxRef = 0.0
        for i in 0..<x.count {
            var plus = x
            var minus = x
            plus.scalars[i] += step
            minus.scalars[i] -= step
            let h = Double(plus.scalars[i]) - Double(minus.scalars[i])
            let numeric = (dot(f(plus), weights) - dot(f(minus), weights)) / h
            maxDiff = max(maxDiff, abs(numeric - Double(analytic.scalars[i])))
            maxRef = max(maxRef, abs(Double(analytic.scalars[i])))
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef
    }
}
