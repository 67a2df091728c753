import TensorCore

/// conv2 of a center-pivot convolution on tiny support planes, as one dense map.
///
/// HSNet's mixing blocks run on support planes of 2 x 2 with 3 x 3 kernels: window by window,
/// 5 of each window's 9 taps fall on the padding, so more than half of conv2's products
/// multiply zeros. On such planes conv2 is better seen as what it is, a linear map of the
/// whole plane: output (u, v) of channel o is `sum over c, (y, x) of
/// w2[o, c, y - u + pad, x - v + pad] * x[c, y, x]` (zero where the kernel does not reach).
/// With the P = hb * wb positions of a plane, that is one product of a (P Cout) x (Cin P)
/// matrix with the Cin P values of each query position's planes, for all query positions at
/// once: P^2 instead of P k^2 multiply-adds per channel pair, 2.25 times fewer at 2 x 2.
/// It applies when P < k^2, stride 1, not collapsed; the joint product then keeps conv1 and
/// the biases, and conv2's part is added here, forward and backward.
extension CenterPivotConv4d {
    static func usesDenseSupport(_ support: ConvGeometry, collapsed: Bool) -> Bool {
        !collapsed && support.strideH == 1 && support.strideW == 1
            && support.inputHeight * support.inputWidth < support.tapCount
    }

    /// [(u, v, o), (c, y, x)]: conv2's weights placed for every output and input position.
    func denseSupportWeights(_ plan: Plan) -> [Float] {
        let (cin, cout, hb, wb) = (plan.inChannels, plan.outChannels, plan.hb, plan.wb)
        let positions = hb * wb
        let (kh, kw, ph, pw) = (conv2.kernelHeight, conv2.kernelWidth, conv2.paddingH, conv2.paddingW)
        let columns = cin * positions
        var dense = [Float](repeating: 0, count: positions * cout * columns)
        conv2.weight.withUnsafeBufferPointer { w in
            dense.withUnsafeMutableBufferPointer { d in
                // Each row written in order: (c, y, x) innermost.
                for u in 0..<hb {
                    for v in 0..<wb {
                        for o in 0..<cout {
                            let row = ((u * wb + v) * cout + o) * columns
                            for c in 0..<cin {
                                let kernel = (o * cin + c) * kh * kw
                                for y in 0..<hb {
                                    let ky = y - u + ph
                                    guard ky >= 0, ky < kh else { continue }
                                    for x in 0..<wb {
                                        let kx = x - v + pw
                                        guard kx >= 0, kx < kw else { continue }
                                        d[row + c * positions + y * wb + x] = w[kernel + ky * kw + kx]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dense
    }

    /// y[b, o, q, p] += sum over (c, p') of dense[(p, o), (c, p')] * x[b, c, q, p'], q the query
    /// positions.
    func addDenseSupportForward(input x: UnsafePointer<Float>, _ plan: Plan, into y: UnsafeMutablePointer<Float>) {
        applyDenseSupport(x, plan, adjoint: false, addingInto: y)
    }

    /// gx[b, c, q, p'] += sum over (p, o) of dense[(p, o), (c, p')] * gy[b, o, q, p].
    func addDenseSupportBackward(gradOutput gy: UnsafePointer<Float>, _ plan: Plan, into gx: UnsafeMutablePointer<Float>) {
        applyDenseSupport(gy, plan, adjoint: true, addingInto: gx)
    }

    /// The dense map (or with `adjoint` its transpose) applied to every query position's
    /// planes, sample by sample: the source planes transposed to rows, one product, the result
    /// transposed back and added. The dense matrix's rows are position-major (p, o) and its
    /// columns channel-major (c, p'), so each side reads and writes its own order.
    private func applyDenseSupport(_ source: UnsafePointer<Float>, _ plan: Plan, adjoint: Bool,
                                   addingInto destination: UnsafeMutablePointer<Float>) {
        let dense = derived.denseSupport(height: plan.hb, width: plan.wb) { denseSupportWeights(plan) }
        let p = plan.hb * plan.wb
        let queries = plan.ha * plan.wa
        let (inChannels, outChannels) = adjoint ? (plan.outChannels, plan.inChannels) : (plan.inChannels, plan.outChannels)
        var planes = [Float](repeating: 0, count: inChannels * p * queries)
        var product = [Float](repeating: 0, count: outChannels * p * queries)
        for b in 0..<plan.batch {
            planes.withUnsafeMutableBufferPointer { buffer in
                Self.transposePlanes(source + b * inChannels * queries * p, channels: inChannels, queries: queries,
                                     positions: p, into: buffer.baseAddress!, positionMajor: adjoint)
            }
            dense.withUnsafeBufferPointer { d in
                planes.withUnsafeBufferPointer { rows in
                    product.withUnsafeMutableBufferPointer { t in
                        gemm(transposeA: adjoint, m: outChannels * p, n: queries, k: inChannels * p,
                             a: d.baseAddress!, lda: plan.inChannels * p,
                             b: rows.baseAddress!, ldb: queries, c: t.baseAddress!, ldc: queries)
                    }
                }
            }
            product.withUnsafeBufferPointer { t in
                Self.addTransposedPlanes(t.baseAddress!, channels: outChannels, queries: queries, positions: p,
                                         positionMajor: !adjoint, into: destination + b * outChannels * queries * p)
            }
        }
    }

    /// From [channels, queries, positions] to [(channel, position), queries], or with
    /// `positionMajor` to [(position, channel), queries].
    static func transposePlanes(_ source: UnsafePointer<Float>, channels: Int, queries: Int, positions: Int,
                                into destination: UnsafeMutablePointer<Float>, positionMajor: Bool = false) {
        forEachPlaneRow(channels: channels, queries: queries, positions: positions, positionMajor: positionMajor) {
            planeOffset, rowOffset, position in
            let (planes, row) = (source + planeOffset, destination + rowOffset)
            for q in 0..<queries { row[q] = planes[q * positions + position] }
        }
    }

    /// The way back, added: [(channel, position), queries] (or position-major) into
    /// [channels, queries, positions].
    static func addTransposedPlanes(_ source: UnsafePointer<Float>, channels: Int, queries: Int, positions: Int,
                                    positionMajor: Bool, into destination: UnsafeMutablePointer<Float>) {
        forEachPlaneRow(channels: channels, queries: queries, positions: positions, positionMajor: positionMajor) {
            planeOffset, rowOffset, position in
            let (planes, row) = (destination + planeOffset, source + rowOffset)
            for q in 0..<queries { planes[q * positions + position] += row[q] }
        }
    }

    /// For every channel and position, in parallel over channels: the offset of the channel's
    /// planes in the [channels, queries, positions] layout and of its row in the transposed one.
    @inline(__always)
    static func forEachPlaneRow(channels: Int, queries: Int, positions: Int, positionMajor: Bool,
                                _ body: (Int, Int, Int) -> Void) {
        parallelFor(channels, minimumChunk: 1) { range in
            for c in range {
                for position in 0..<positions {
                    let row = positionMajor ? position * channels + c : c * positions + position
                    body(c * queries * positions, row * queries, position)
                }
            }
        }
    }
}
