/// Vectorised atan2 and sincos accurate to float32 (a few ulp), for the maskers' hot loops.
///
/// One masker pass over six 2048 x 13 x 13 feature maps needs about two million atan2 and four
/// million sin/cos; the C library does them one at a time. These work on eight lanes at once
/// with the classic Cephes single-precision polynomials and a Cody-Waite range reduction.
typealias FloatVector = SIMD8<Float>

enum FastMath {
    /// atan(z) for z in [0, 1], reduced once more around tan(pi/8).
    @_transparent
    static func arctangentUnit(_ z: FloatVector) -> FloatVector {
        let large = z .> FloatVector(repeating: 0.414_213_562_373_095_05)  // tan(pi/8)
        let reduced = (z - 1) / (z + 1)
        let t = z.replacing(with: reduced, where: large)
        let offset = FloatVector(repeating: 0).replacing(with: .pi / 4, where: large)
        let t2 = t * t
        var p = FloatVector(repeating: 8.053_744_495_38e-2)
        p = FloatVector(repeating: -1.387_768_560_32e-1).addingProduct(p, t2)
        p = FloatVector(repeating: 1.997_771_064_78e-1).addingProduct(p, t2)
        p = FloatVector(repeating: -3.333_294_915_39e-1).addingProduct(p, t2)
        return (offset + t).addingProduct(t * t2, p)
    }

    /// atan2(y, x) lane by lane, with atan2's quadrants and signs; atan2(0, 0) = 0 as torch's
    /// `angle` of a zero complex number.
    @_transparent
    static func atan2(_ y: FloatVector, _ x: FloatVector) -> FloatVector {
        let ax = FloatVector(bitPattern: x.bitPattern & 0x7fff_ffff)
        let ay = FloatVector(bitPattern: y.bitPattern & 0x7fff_ffff)
        let yLarger = ay .> ax
        let largest = ax.replacing(with: ay, where: yLarger)
        let smallest = ay.replacing(with: ax, where: yLarger)
        let safeLargest = largest.replacing(with: 1, where: largest .== 0)
        var r = arctangentUnit(smallest / safeLargest)
        r = r.replacing(with: .pi / 2 - r, where: yLarger)
        // Left half-plane. (Only single float comparisons here: Swift lowers integer-vector
        // comparisons and mask logic lane by lane.) x = -0 with y = 0 gives 0, not pi.
        r = r.replacing(with: .pi - r, where: x .< 0)
        // Copy the sign of y, including y = -0.
        return FloatVector(bitPattern: r.bitPattern | (y.bitPattern & 0x8000_0000))
    }

    /// sin(x) and cos(x) lane by lane, for |x| up to a few thousand.
    @_transparent  // mandatory inlining: out of line, the two halves of each vector go through the stack
    static func sincos(_ x: FloatVector) -> (sin: FloatVector, cos: FloatVector) {
        // Round to the nearest integer with the 1.5 * 2^23 trick (exact for |x| < 2^22); the
        // generic SIMD rounding and float-to-int conversions are not vectorised.
        let magic = FloatVector(repeating: 12_582_912)
        let quadrant = (x * (2 / Float.pi) + magic) - magic
        // x - quadrant * pi/2, with pi/2 split in three parts so the subtraction is exact.
        var r = x.addingProduct(quadrant, FloatVector(repeating: -1.570_312_5))
        r = r.addingProduct(quadrant, FloatVector(repeating: -4.837_512_969_970_703_125e-4))
        r = r.addingProduct(quadrant, FloatVector(repeating: -7.549_789_954_891_882_16e-8))
        let r2 = r * r
        var s = FloatVector(repeating: -1.951_529_589_1e-4)
        s = FloatVector(repeating: 8.332_160_873_6e-3).addingProduct(s, r2)
        s = FloatVector(repeating: -1.666_665_461_1e-1).addingProduct(s, r2)
        s = r.addingProduct(s * r2, r)
        var c = FloatVector(repeating: 2.443_315_711_809_948e-5)
        c = FloatVector(repeating: -1.388_731_625_493_765e-3).addingProduct(c, r2)
        c = FloatVector(repeating: 4.166_664_568_298_827e-2).addingProduct(c, r2)
        c = FloatVector(repeating: 1).addingProduct(r2, FloatVector(repeating: -0.5)).addingProduct(c * r2, r2)
        // quadrant mod 4, as a float in {0, 1, 2, 3}: quadrant - 4 floor(quadrant / 4).
        let quarter = quadrant * 0.25
        var floorQuarter = (quarter + magic) - magic
        floorQuarter = floorQuarter.replacing(with: floorQuarter - 1, where: floorQuarter .> quarter)
        let q = quadrant - 4 * floorQuarter
        // Quadrant 1: (c, -s); 2: (-s, -c); 3: (-c, s). Each test is one float comparison.
        let swap = (q - 2) * (q - 2) .== 1  // q odd
        let sine = s.replacing(with: c, where: swap)
        let cosine = c.replacing(with: s, where: swap)
        let sineSign = FloatVector(repeating: 1).replacing(with: -1, where: q .> 1.5)
        let cosineSign = FloatVector(repeating: 1).replacing(with: -1, where: (q - 1.5) * (q - 1.5) .< 1)
        return (sine * sineSign, cosine * cosineSign)
    }
}

extension SIMD8 where Scalar == Float {
    @inline(__always)
    var bitPattern: SIMD8<UInt32> { unsafeBitCast(self, to: SIMD8<UInt32>.self) }

    @inline(__always)
    init(bitPattern: SIMD8<UInt32>) { self = unsafeBitCast(bitPattern, to: SIMD8<Float>.self) }
}
