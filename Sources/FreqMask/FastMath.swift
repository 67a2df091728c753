/// Vectorised atan2 and sincos accurate to float32 (a few ulp), for the maskers' hot loops.
///
/// One masker pass over six 2048 x 13 x 13 feature maps needs about two million atan2 and four
/// million sin/cos; the C library does them one at a time. These work on eight lanes at once
/// with the classic Cephes single-precision polynomials and a Cody-Waite range reduction.
public typealias FloatVector = SIMD8<Float>

public enum FastMath {
    /// atan(z) for z in [0, 1], reduced once more around tan(pi/8).
    @inline(__always)
    static func arctangentUnit(_ z: FloatVector) -> FloatVector {
        let large = z .> FloatVector(repeating: 0.414_213_562_373_095_05)  // tan(pi/8)
        let reduced = (z - 1) / (z + 1)
        let t = z.replacing(with: reduced, where: large)
        let offset = FloatVector(repeating: 0).replacing(with: .pi / 4, where: large)
        let t2 = t * t
        var p = FloatVector(repeating: 8.053_744_495_38e-2)
        p = p * t2 - 1.387_768_560_32e-1
        p = p * t2 + 1.997_771_064_78e-1
        p = p * t2 - 3.333_294_915_39e-1
        return offset + t + t * t2 * p
    }

    /// atan2(y, x) lane by lane, with atan2's quadrants and signs; atan2(0, 0) = 0 as torch's
    /// `angle` of a zero complex number.
    @inline(__always)
    public static func atan2(_ y: FloatVector, _ x: FloatVector) -> FloatVector {
        let ax = FloatVector(bitPattern: x.bitPattern & 0x7fff_ffff)
        let ay = FloatVector(bitPattern: y.bitPattern & 0x7fff_ffff)
        let largest = pointwiseMax(ax, ay)
        let smallest = pointwiseMin(ax, ay)
        let safeLargest = largest.replacing(with: 1, where: largest .== 0)
        var r = arctangentUnit(smallest / safeLargest)
        r = r.replacing(with: .pi / 2 - r, where: ay .> ax)
        // x < 0, or x = -0 (sign bit set): reflect into the left half-plane.
        let negativeX = (x.bitPattern & 0x8000_0000) .!= 0
        r = r.replacing(with: .pi - r, where: negativeX .& (largest .!= 0))
        // Copy the sign of y, including y = -0.
        return FloatVector(bitPattern: r.bitPattern | (y.bitPattern & 0x8000_0000))
    }

    /// sin(x) and cos(x) lane by lane, for |x| up to a few thousand.
    @inline(__always)
    public static func sincos(_ x: FloatVector) -> (sin: FloatVector, cos: FloatVector) {
        let quadrant = (x * (2 / Float.pi)).rounded(.toNearestOrEven)
        // x - quadrant * pi/2, with pi/2 split in three parts so the subtraction is exact.
        var r = x - quadrant * 1.570_312_5
        r = r - quadrant * 4.837_512_969_970_703_125e-4
        r = r - quadrant * 7.549_789_954_891_882_16e-8
        let r2 = r * r
        var s = FloatVector(repeating: -1.951_529_589_1e-4)
        s = s * r2 + 8.332_160_873_6e-3
        s = s * r2 - 1.666_665_461_1e-1
        s = s * r2 * r + r
        var c = FloatVector(repeating: 2.443_315_711_809_948e-5)
        c = c * r2 - 1.388_731_625_493_765e-3
        c = c * r2 + 4.166_664_568_298_827e-2
        c = c * r2 * r2 - 0.5 * r2 + 1
        let q = SIMD8<Int32>(quadrant, rounding: .towardZero) & 3
        // Quadrant 1: (c, -s); 2: (-s, -c); 3: (-c, s).
        let swap = (q & 1) .!= 0
        let sine = s.replacing(with: c, where: swap)
        let cosine = c.replacing(with: s, where: swap)
        let negateSine = q .>= 2
        let negateCosine = (q .== 1) .| (q .== 2)
        return (sine.replacing(with: -sine, where: negateSine),
                cosine.replacing(with: -cosine, where: negateCosine))
    }
}

extension SIMD8 where Scalar == Float {
    @inline(__always)
    var bitPattern: SIMD8<UInt32> { unsafeBitCast(self, to: SIMD8<UInt32>.self) }

    @inline(__always)
    init(bitPattern: SIMD8<UInt32>) { self = unsafeBitCast(bitPattern, to: SIMD8<Float>.self) }
}
