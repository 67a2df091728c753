/// Spectrum terms that are exactly real on a sparse plane, found from the plane's non-zero
/// positions without transforming it.
///
/// F(k) = sum_n x_n e^{-2 pi i t(k, n) / (H W)} with t(k, n) = (k1 n1 W + k2 n2 H) mod H W.
/// For generic values F(k) is real exactly when every non-zero position n has t(k, n) equal to
/// 0 (a term +x_n) or H W / 2 (a term -x_n). torch's FFT then gives an imaginary part of +0,
/// so `angle` is +pi wherever such a term is negative, at k and at its mirror alike: both
/// maskers follow that (ACPA in its pooled phase, APM in the phase it scales).
enum ExactlyRealTerms {
    /// The positions of the non-zero values of the `height` x `width` plane at `base`,
    /// written into `nonZero` (working memory, reused).
    static func nonZeroPositions(_ base: UnsafePointer<Float>, count: Int, into nonZero: inout [Int]) {
        nonZero.removeAll(keepingCapacity: true)
        for i in 0..<count where base[i] != 0 { nonZero.append(i) }
    }

    /// F(k1, k2) when it is exactly real (by the rule above), nil otherwise. Most k fail at
    /// their first non-zero position or two.
    @inline(__always)
    static func realValue(k1: Int, k2: Int, _ base: UnsafePointer<Float>, height: Int, width: Int,
                          nonZero: [Int]) -> Double? {
        let planeSize = height * width
        var total = 0.0
        for i in nonZero {
            let t = (k1 * (i / width) * width + k2 * (i % width) * height) % planeSize
            if t == 0 {
                total += Double(base[i])
            } else if 2 * t == planeSize {
                total -= Double(base[i])
            } else {
                return nil
            }
        }
        return total
    }
}
