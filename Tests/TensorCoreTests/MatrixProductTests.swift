import Foundation
@testable import TensorCore
import XCTest

/// `gemm` and `syrkUpper` cut large products over the cores themselves; these check the cut
/// products against float64 sums.
final class MatrixProductTests: XCTestCase {
    /// Every element within the worst-case bound of a float32 dot product of k terms,
    /// k 2^-24 sum |a_i b_i| (each addition rounds once, each product once more).
    private func checkAgainstFloat64(_ c: [Float], m: Int, n: Int, k: Int, ldc: Int,
                                     _ a: (Int, Int) -> Float, _ b: (Int, Int) -> Float, alpha: Float = 1,
                                     rows: (Int) -> Range<Int> = { _ in 0..<Int.max },
                                     file: StaticString = #filePath, line: UInt = #line) {
        for i in 0..<m {
            for j in 0..<n where rows(i).contains(j) {
                var exact = 0.0, magnitude = 0.0
                for t in 0..<k {
                    let product = Double(a(i, t)) * Double(b(t, j))
                    exact += product
                    magnitude += abs(product)
                }
                exact *= Double(alpha)
                let bound = Double(k + 2) * 0x1p-24 * magnitude * Double(abs(alpha))
                let error = abs(Double(c[i * ldc + j]) - exact)
                if error > bound {
                    XCTFail("element (\(i), \(j)): \(c[i * ldc + j]) against \(exact), bound \(bound)", file: file, line: line)
                    return
                }
            }
        }
    }

    private func values(_ count: Int, seed: UInt64) -> [Float] {
        LayerTestSupport.random([count], seed: seed).scalars
    }

    /// One shape per way of cutting: along C's columns (n >= m) and along its rows, with
    /// every combination of transposes; the whole product (inside parallel work) too. (The
    /// two need not agree bit for bit: OpenBLAS's Haswell kernels order a sum differently at
    /// the edges of a slice than inside it.)
    func testProductsCutOverTheCoresMatchFloat64() {
        for (m, n, k) in [(40, 1000, 120), (1000, 40, 120)] {
            XCTAssertGreaterThan(GEMMSplit.slices(m: m, n: n, k: k), workerCount > 1 ? 1 : 0, "the shape should be cut")
            for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = values(m * k, seed: 1), b = values(k * n, seed: 2)
                let (lda, ldb) = (transposeA ? m : k, transposeB ? k : n)
                func run() -> [Float] {
                    var c = values(m * n, seed: 3)
                    a.withUnsafeBufferPointer { pa in
                        b.withUnsafeBufferPointer { pb in
                            c.withUnsafeMutableBufferPointer { pc in
                                gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5,
                                     a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb, beta: 0,
                                     c: pc.baseAddress!, ldc: n)
                            }
                        }
                    }
                    return c
                }
                for result in [run(), ParallelWork.marking { run() }] {
                    checkAgainstFloat64(result, m: m, n: n, k: k, ldc: n,
                                        { i, t in transposeA ? a[t * lda + i] : a[i * lda + t] },
                                        { t, j in transposeB ? b[j * ldb + t] : b[t * ldb + j] }, alpha: 0.5)
                }
            }
        }
    }

    /// The upper triangle of alpha A Aᵀ in two shares; the strictly lower triangle untouched.
    func testSymmetricUpdateCutInTwoSharesMatchesFloat64() {
        let (n, k) = (300, 64)
        let a = values(n * k, seed: 4)
        var c = [Float](repeating: .nan, count: n * n)
        a.withUnsafeBufferPointer { pa in
            c.withUnsafeMutableBufferPointer { pc in
                syrkUpper(n: n, k: k, alpha: 0.25, a: pa.baseAddress!, lda: k, c: pc.baseAddress!, ldc: n)
            }
        }
        for i in 0..<n {
            for j in 0..<i where !c[i * n + j].isNaN {
                XCTFail("lower element (\(i), \(j)) was written")
                return
            }
        }
        checkAgainstFloat64(c, m: n, n: n, k: k, ldc: n, { i, t in a[i * k + t] }, { t, j in a[j * k + t] }, alpha: 0.25,
                            rows: { i in i..<n })
    }
}
