import Foundation
import TensorCore

/// A sum of products evaluated twice: exactly (in double precision, which is exact enough for
/// the sizes the tests use) and as a literal float32 implementation of the definition would
/// (float32 products accumulated one by one). Tests whose reference is computed inside the
/// test use the literal float32 sum as "the reference's float32 result": its distance from
/// the exact sum is the rounding error the definition itself carries in float32, and our
/// kernels (blocked, vectorised, split over threads) may land `ParityBound.referenceMultiple`
/// times as far, never more. That bound follows the data on every machine, where a fixed
/// number would follow one machine's summation order.
public struct LiteralSum {
    public private(set) var exact = 0.0
    public private(set) var float32: Float = 0

    public init() {}

    public mutating func add(_ a: Float, _ b: Float) {
        exact += Double(a) * Double(b)
        float32 += a * b
    }

    public mutating func add(_ a: Float) {
        exact += Double(a)
        float32 += a
    }
}

/// Our values at sampled elements against literal sums of the definition: the largest errors,
/// relative to the largest exact value, as a `ParityCheck`.
public struct SampledParity {
    public let name: String
    var oursDifference = 0.0
    var literalDifference = 0.0
    var scale = 0.0
    public private(set) var samples = 0

    public init(_ name: String) { self.name = name }

    public mutating func record(ours: Float, _ sum: LiteralSum) {
        record(ours: ours, exact: sum.exact, literal: sum.float32)
    }

    /// One element: our value, the exact one, and the literal float32 evaluation's.
    public mutating func record(ours: Float, exact: Double, literal: Float) {
        oursDifference = max(oursDifference, abs(Double(ours) - exact))
        literalDifference = max(literalDifference, abs(Double(literal) - exact))
        scale = max(scale, abs(exact))
        samples += 1
    }

    public var check: ParityCheck {
        let s = scale == 0 ? 1 : scale
        return ParityCheck(name: "\(name) (\(samples) samples)", metric: .maxRelative, error: oursDifference / s,
                           referenceError: literalDifference / s, multiple: ParityBound.referenceMultiple)
    }
}
