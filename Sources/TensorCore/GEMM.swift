import CBLAS

/// Row-major single-precision matrix product over OpenBLAS:
/// `C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C`.
///
/// `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored (before any transpose).
///
/// OpenBLAS itself runs single-threaded (`BLASThreads`); a large product is cut here into
/// one slice of C per core, along its longer side, each slice a product of its own with the
/// whole inner dimension: no sum is split, so an element's rounding error stays that of a
/// dot product of k terms whatever the number of cores. (The bits may still differ from the
/// whole product's: OpenBLAS's Haswell kernels order a sum differently at a slice's edges.)
/// Inside work that is already split over the cores (`insideParallelWork`), the product runs
/// whole on its thread.
public func gemm(
    transposeA: Bool = false, transposeB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
        // BLAS leaves C untouched for k == 0 only when beta == 1; make it beta * C.
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    BLASThreads.keepSingleThreaded()
    func product(rows: Range<Int>, columns: Range<Int>) {
        let (i, j) = (rows.lowerBound, columns.lowerBound)
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(rows.count), Int32(columns.count), Int32(k), alpha,
                    a + (transposeA ? i : i * lda), Int32(lda),
                    b + (transposeB ? j * ldb : j), Int32(ldb), beta,
                    c + i * ldc + j, Int32(ldc))
    }
    let slices = GEMMSplit.slices(m: m, n: n, k: k)
    if slices == 1 {
        product(rows: 0..<m, columns: 0..<n)
        return
    }
    let alongColumns = n >= m
    let length = alongColumns ? n : m
    parallelFor(slices) { range in
        for s in range {
            let part = GEMMSplit.slice(s, of: slices, length: length)
            if part.isEmpty { continue }
            if alongColumns { product(rows: 0..<m, columns: part) } else { product(rows: part, columns: 0..<n) }
        }
    }
}

/// How a product is cut over the cores.
enum GEMMSplit {
    /// Products under this many multiply-adds stay whole: a slice would cost less than
    /// handing it to another thread.
    static let smallestSplit = 1 << 21
    /// Slice boundaries fall on multiples of this, the width of OpenBLAS's micro-kernels.
    static let alignment = 16

    static func slices(m: Int, n: Int, k: Int) -> Int {
        guard workerCount > 1, m * n * k >= smallestSplit, !insideParallelWork else { return 1 }
        return min(workerCount, max(m, n) / alignment)
    }

    /// The `s`-th of `count` slices of `0..<length`, boundaries on multiples of `alignment`.
    static func slice(_ s: Int, of count: Int, length: Int) -> Range<Int> {
        func boundary(_ t: Int) -> Int {
            t == count ? length : min(length, (length * t / count + alignment / 2) / alignment * alignment)
        }
        return boundary(s)..<boundary(s + 1)
    }
}

/// Tensor-level matrix product of 2-D tensors: `op(a) * op(b)`.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "matmul needs 2-D tensors, got \(a.shapeDescription) and \(b.shapeDescription)")
    let m = transposeA ? a.shape[1] : a.shape[0]
    let k = transposeA ? a.shape[0] : a.shape[1]
    let kb = transposeB ? b.shape[1] : b.shape[0]
    let n = transposeB ? b.shape[0] : b.shape[1]
    precondition(k == kb, "matmul inner dimensions differ: \(k) vs \(kb)")
    return Tensor(shape: [m, n], unsafeUninitialized: { out in
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                     a: pa.baseAddress!, lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1],
                     c: out.baseAddress!, ldc: n)
            }
        }
    })
}

/// OpenBLAS's own threads. cdfss keeps it at one thread and splits work over the cores
/// itself (`gemm`, `parallelFor`): OpenBLAS's idle threads spin on `sched_yield` between
/// products, and on a machine with few cores they take turns with the threads doing work.
public enum BLASThreads {
    private static let singleThreaded: Void = { openblas_set_num_threads(1) }()
    /// Sets OpenBLAS to one thread, once per process.
    public static func keepSingleThreaded() { _ = singleThreaded }
}

/// Row-major single-precision symmetric rank-k update over OpenBLAS, upper triangle only:
/// `C[n x n] = alpha * A[n x k] * A[n x k]ᵀ + beta * C`, half the work of the full product.
/// The strictly lower triangle of C is left untouched.
///
/// On several cores (outside work already split over them) the triangle is cut in two
/// shares of equal work: the rows below n1 = n (1 - 1/√2), their diagonal block by `ssyrk`
/// and the block right of it by `sgemm`, and the remaining diagonal block by `ssyrk`, each
/// (n² / 4 multiply-adds) on its own core.
public func syrkUpper(n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, beta: Float = 0,
                      c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard n > 0, k > 0 else { return }
    BLASThreads.keepSingleThreaded()
    func diagonalBlock(_ rows: Range<Int>) {
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(rows.count), Int32(k), alpha,
                    a + rows.lowerBound * lda, Int32(lda), beta, c + rows.lowerBound * (ldc + 1), Int32(ldc))
    }
    let first = Int((Double(n) * (1 - 0.5.squareRoot())).rounded())
    guard workerCount > 1, !insideParallelWork, n * n * k / 2 >= GEMMSplit.smallestSplit, first > 0, first < n else {
        diagonalBlock(0..<n)
        return
    }
    parallelFor(2) { shares in
        for share in shares {
            if share == 0 {
                diagonalBlock(0..<first)
                gemm(transposeB: true, m: first, n: n - first, k: k, alpha: alpha, a: a, lda: lda,
                     b: a + first * lda, ldb: lda, beta: beta, c: c + first, ldc: ldc)
            } else {
                diagonalBlock(first..<n)
            }
        }
    }
}
