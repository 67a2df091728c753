import Foundation
@testable import TensorCore
import XCTest

/// Winograd F(2 x 2, 3 x 3) against the convolution summed in float64, with a first-order
/// rounding bound computed alongside it (see `check`).
final class LayerWinograd3x3Tests: XCTestCase {
    /// Direct 3 x 3 convolution (stride 1, padding 1) in float64 on [B, C, H, W, L].
    private func reference(_ x: Tensor, weight: Tensor, bias: [Float]?, shape: (b: Int, h: Int, w: Int, l: Int)) -> [Double] {
        let (cout, cin) = (weight.shape[0], weight.shape[1])
        var y = [Double](repeating: 0, count: shape.b * cout * shape.h * shape.w * shape.l)
        for b in 0..<shape.b {
            for o in 0..<cout {
                for r in 0..<shape.h {
                    for s in 0..<shape.w {
                        for l in 0..<shape.l {
                            var total = Double(bias?[o] ?? 0)
                            for c in 0..<cin {
                                for ky in 0..<3 {
                                    for kx in 0..<3 {
                                        let (rr, ss) = (r + ky - 1, s + kx - 1)
                                        guard rr >= 0, rr < shape.h, ss >= 0, ss < shape.w else { continue }
                                        total += Double(weight.scalars[((o * cin + c) * 3 + ky) * 3 + kx])
                                            * Double(x.scalars[((((b * cin + c) * shape.h + rr) * shape.w + ss) * shape.l + l)])
                                    }
                                }
                            }
                            y[(((b * cout + o) * shape.h + r) * shape.w + s) * shape.l + l] = total
                        }
                    }
                }
            }
        }
        return y
    }

    /// The first-order bound on the float32 error of every output, from the magnitudes the
    /// algorithm works on: |Aᵀ| (Σ over channels of |G||g||Gᵀ| ⊙ |Bᵀ||d||B|) |A| (every
    /// transform with its coefficients' absolute values, in float64), times eps times the
    /// longest chain of roundings an output goes through: 1 + 1 additions in the two passes
    /// of Bᵀ, 1 for rounding U, 1 product, `cin` additions in the matrix product, 2 + 2 in
    /// Aᵀ, 1 for the bias; each step's error is relative to magnitudes no larger than these.
    private func bound(_ x: Tensor, weight: Tensor, shape: (b: Int, h: Int, w: Int, l: Int)) -> [Double] {
        let bt: [[Double]] = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
        let g: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        let at: [[Double]] = [[1, 1, 1, 0], [0, 1, -1, -1]]
        func sandwich(_ left: [[Double]], _ m: [[Double]], _ right: [[Double]]) -> [[Double]] {
            // |left| m |right|ᵀ
            let inner = left.map { row in (0..<m[0].count).map { j in zip(row, m).reduce(0) { $0 + abs($1.0) * $1.1[j] } } }
            return inner.map { row in right.map { r in zip(row, r).reduce(0) { $0 + $1.0 * abs($1.1) } } }
        }
        let (cout, cin) = (weight.shape[0], weight.shape[1])
        let chain = Double(1 + 1 + 1 + 1 + cin + 2 + 2 + 1)
        let eps = Double(Float.ulpOfOne) / 2
        var result = [Double](repeating: 0, count: shape.b * cout * shape.h * shape.w * shape.l)
        for b in 0..<shape.b {
            for o in 0..<cout {
                for th in 0..<(shape.h + 1) / 2 {
                    for tw in 0..<(shape.w + 1) / 2 {
                        for l in 0..<shape.l {
                            var sum = [[Double]](repeating: [Double](repeating: 0, count: 4), count: 4)
                            for c in 0..<cin {
                                var d = [[Double]](repeating: [Double](repeating: 0, count: 4), count: 4)
                                for i in 0..<4 {
                                    for j in 0..<4 {
                                        let (r, s) = (2 * th - 1 + i, 2 * tw - 1 + j)
                                        guard r >= 0, r < shape.h, s >= 0, s < shape.w else { continue }
                                        d[i][j] = abs(Double(x.scalars[(((b * cin + c) * shape.h + r) * shape.w + s) * shape.l + l]))
                                    }
                                }
                                let kernel = (0..<3).map { ky in (0..<3).map { kx in abs(Double(weight.scalars[((o * cin + c) * 3 + ky) * 3 + kx])) } }
                                let v = sandwich(bt, d, bt)
                                let u = sandwich(g, kernel, g)
                                for i in 0..<4 { for j in 0..<4 { sum[i][j] += u[i][j] * v[i][j] } }
                            }
                            let y = sandwich(at, sum, at)
                            for i in 0..<2 {
                                for j in 0..<2 {
                                    let (r, s) = (2 * th + i, 2 * tw + j)
                                    guard r < shape.h, s < shape.w else { continue }
                                    result[(((b * cout + o) * shape.h + r) * shape.w + s) * shape.l + l] = chain * eps * y[i][j]
                                }
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    private func check(batch: Int, cin: Int, cout: Int, height: Int, width: Int, lanes: Int, seed: UInt64,
                       file: StaticString = #filePath, line: UInt = #line) {
        let shape = (b: batch, h: height, w: width, l: lanes)
        let x = LayerTestSupport.random([batch, cin, height, width, lanes], seed: seed)
        let weight = LayerTestSupport.random([cout, cin, 3, 3], seed: seed + 1, scale: 0.5)
        let bias = LayerTestSupport.random([cout], seed: seed + 2).scalars
        let winograd = Winograd3x3(weight: weight)
        var y = [Float](repeating: .nan, count: batch * cout * height * width * lanes)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                winograd.apply(xp.baseAddress!, batch: batch, height: height, width: width, lanes: lanes,
                               bias: bias, into: yp.baseAddress!)
            }
        }
        let exact = reference(x, weight: weight, bias: bias, shape: shape)
        let limits = bound(x, weight: weight, shape: shape)
        var worst = 0.0
        for i in exact.indices {
            let error = abs(Double(y[i]) - exact[i])
            // Bias rounding: one more half ulp of the output.
            let allowed = limits[i] + abs(exact[i]) * Double(Float.ulpOfOne)
            XCTAssertLessThanOrEqual(error, allowed, "output \(i) of \(y.count)", file: file, line: line)
            if error > allowed { return }
            worst = max(worst, error / allowed)
        }
        XCTAssertGreaterThan(worst, 0, "the float32 result should not be exact everywhere", file: file, line: line)

        // The adjoint: <conv(x), z> = <x, adjoint(z)> in float64 up to the same kind of bound.
        let adjoint = Winograd3x3(adjointOf: weight)
        let z = LayerTestSupport.random([batch, cout, height, width, lanes], seed: seed + 3)
        var gx = [Float](repeating: 1, count: x.count)
        z.withUnsafeBufferPointer { zp in
            gx.withUnsafeMutableBufferPointer { gp in
                adjoint.apply(zp.baseAddress!, batch: batch, height: height, width: width, lanes: lanes,
                              accumulate: true, into: gp.baseAddress!)
            }
        }
        let exactAdjoint = reference(z, weight: Self.adjointWeight(weight), bias: nil, shape: shape)
        let adjointLimits = bound(z, weight: Self.adjointWeight(weight), shape: shape)
        for i in exactAdjoint.indices {
            // `accumulate` added to the ones already there.
            let error = abs(Double(gx[i]) - 1 - exactAdjoint[i])
            XCTAssertLessThanOrEqual(error, adjointLimits[i] + (abs(exactAdjoint[i]) + 1) * Double(Float.ulpOfOne),
                                     "adjoint output \(i)", file: file, line: line)
            if error > adjointLimits[i] + (abs(exactAdjoint[i]) + 1) * Double(Float.ulpOfOne) { return }
        }
        var inner = 0.0, adjointInner = 0.0
        for i in exact.indices { inner += (exact[i] - Double(bias[(i / (height * width * lanes)) % cout])) * Double(z.scalars[i]) }
        for i in exactAdjoint.indices { adjointInner += exactAdjoint[i] * Double(x.scalars[i]) }
        XCTAssertEqual(inner, adjointInner, accuracy: 1e-9 * max(1, abs(inner)), "the adjoint is not the transpose", file: file, line: line)
    }

    /// weight'[c, o, ky, kx] = weight[o, c, 2 - ky, 2 - kx].
    private static func adjointWeight(_ weight: Tensor) -> Tensor {
        let (cout, cin) = (weight.shape[0], weight.shape[1])
        var values = [Float](repeating: 0, count: weight.count)
        for o in 0..<cout {
            for c in 0..<cin {
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        values[((c * cout + o) * 3 + ky) * 3 + kx] = weight.scalars[((o * cin + c) * 3 + 2 - ky) * 3 + 2 - kx]
                    }
                }
            }
        }
        return Tensor(shape: [cin, cout, 3, 3], scalars: values)
    }

    func testPlanesCutIntoWholeTilesMatchFloat64() {
        check(batch: 1, cin: 6, cout: 5, height: 8, width: 12, lanes: 4, seed: 10)
    }

    func testPartialTilesAtTheBordersMatchFloat64() {
        check(batch: 2, cin: 3, cout: 7, height: 11, width: 9, lanes: 3, seed: 20)
        check(batch: 1, cin: 4, cout: 2, height: 13, width: 13, lanes: 1, seed: 30)
    }

    func testPlanesSmallerThanOneTileMatchFloat64() {
        check(batch: 1, cin: 5, cout: 3, height: 2, width: 3, lanes: 2, seed: 40)
        check(batch: 1, cin: 2, cout: 2, height: 1, width: 1, lanes: 4, seed: 50)
    }

    /// Enough channels and tiles that the 16 products are split over the cores.
    func testManyChannelsMatchFloat64() {
        check(batch: 1, cin: 40, cout: 48, height: 14, width: 10, lanes: 4, seed: 60)
    }
}
