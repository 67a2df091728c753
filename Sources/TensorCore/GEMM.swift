import CBLAS

/// Row-major single-precision matrix product over OpenBLAS:
/// `C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C`.
///
/// `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored (before any transpose).
@inlinable
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
    cblas_sgemm(CblasRowMajor,
                transposeA ? CblasTrans : CblasNoTrans,
                transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha,
                a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
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

/// How many threads OpenBLAS uses. Kernels that parallelise themselves with
/// `parallelFor` call OpenBLAS from inside the workers with one thread each, never both.
public enum BLASThreads {
    public static func set(_ count: Int) { openblas_set_num_threads(Int32(count)) }
    public static var current: Int { Int(openblas_get_num_threads()) }
}

/// Row-major single-precision symmetric rank-k update over OpenBLAS, upper triangle only:
/// `C[n x n] = alpha * A[n x k] * A[n x k]ᵀ + beta * C`, half the work of the full product.
/// The strictly lower triangle of C is left untouched.
@inlinable
public func syrkUpper(n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, beta: Float = 0,
                      c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard n > 0, k > 0 else { return }
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(n), Int32(k), alpha, a, Int32(lda), beta, c, Int32(ldc))
}
