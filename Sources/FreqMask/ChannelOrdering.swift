import TensorCore

/// Orders channels so that those that correlate sit together, for pictures of correlation
/// matrices: spectral seriation. With W = |r| as a similarity (missing entries 0), the
/// channels are sorted by the Fiedler vector of the graph Laplacian L = D - W, the smoothest
/// non-constant assignment of positions to channels (Atkins, Boman and Hendrickson, 1998).
public enum ChannelOrdering {
    /// The spectral order of the channels of the [C, C] matrix `r` (NaN entries count as 0).
    /// Deterministic: the same matrix gives the same order.
    public static func spectral(_ r: Tensor, iterations: Int = 300) -> [Int] {
        precondition(r.rank == 2 && r.shape[0] == r.shape[1], "a square matrix is needed")
        let c = r.shape[0]
        guard c > 2 else { return Array(0..<c) }
        var w = r.scalars.map { $0.isNaN ? 0 : abs($0) }
        for i in 0..<c { w[i * c + i] = 0 }
        let degree = (0..<c).map { i in (0..<c).reduce(Float(0)) { $0 + w[i * c + $1] } }
        // Power iteration on sigma I - L (positive semidefinite for sigma = 2 max degree),
        // kept orthogonal to the constant vector (L's null space): it converges to the
        // eigenvector of L with the smallest non-zero eigenvalue.
        let sigma = 2 * (degree.max() ?? 0) + 1
        var v = (0..<c).map { Float($0) - Float(c - 1) / 2 }
        var next = [Float](repeating: 0, count: c)
        for _ in 0..<iterations {
            w.withUnsafeBufferPointer { wp in
                v.withUnsafeBufferPointer { vp in
                    next.withUnsafeMutableBufferPointer { out in
                        // W v in one product, then (sigma - D) v + W v.
                        gemm(m: c, n: 1, k: c, a: wp.baseAddress!, lda: c, b: vp.baseAddress!, ldb: 1,
                             c: out.baseAddress!, ldc: 1)
                        for i in 0..<c { out[i] += (sigma - degree[i]) * vp[i] }
                    }
                }
            }
            let mean = next.reduce(0, +) / Float(c)
            var norm: Float = 0
            for i in 0..<c {
                next[i] -= mean
                norm += next[i] * next[i]
            }
            guard norm > 0 else { return Array(0..<c) }
            let scale = 1 / norm.squareRoot()
            for i in 0..<c { v[i] = next[i] * scale }
        }
        return (0..<c).sorted { v[$0] != v[$1] ? v[$0] < v[$1] : $0 < $1 }
    }

    /// `matrix` [C, C] with rows and columns in `order`, averaged over square blocks so that
    /// the side is at most `maximumSide` (NaN entries left out of each block's mean; a block
    /// of NaN stays NaN). Returns the values row-major and the side.
    public static func reorderedAndPooled(_ matrix: Tensor, order: [Int], maximumSide: Int) -> (values: [Float], side: Int) {
        let c = matrix.shape[0]
        precondition(order.count == c && maximumSide > 0)
        let block = (c + maximumSide - 1) / maximumSide
        let side = (c + block - 1) / block
        var sums = [Double](repeating: 0, count: side * side)
        var counts = [Int](repeating: 0, count: side * side)
        for (bi, i) in order.enumerated() {
            for (bj, j) in order.enumerated() {
                let value = matrix.scalars[i * c + j]
                guard !value.isNaN else { continue }
                let slot = (bi / block) * side + bj / block
                sums[slot] += Double(value)
                counts[slot] += 1
            }
        }
        return (zip(sums, counts).map { $1 > 0 ? Float($0 / Double($1)) : .nan }, side)
    }
}
