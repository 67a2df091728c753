import TensorCore

/// conv2 of a center-pivot convolution with few input channels, computed directly from the
/// support planes, 16 output channels at a time in vector registers.
///
/// The first squeezing layers read the correlation tensor itself (3 to 6 channels, 50 x 50
/// support planes at layer 2) with a strided kernel (5 x 5, stride 4). As window rows of the
/// joint product, each of conv2's Cin k^2 rows has to be gathered element by element through
/// a table (a strided window cannot be copied as a run), only for the product to use each
/// gathered value for 16 outputs (the layer ran at 12 to 25 GFLOP/s). Here each support value
/// is loaded once per window that reads it and multiplied into all 16 outputs at once; the
/// joint product keeps conv1's rows (plain copies) and the biases. Measured on
/// [1, 4, 50, 50, 50, 50]: 1.2 to 1.3 times faster on one core (kernel 3 stride 2, kernel 5
/// stride 4), about 2 times with two cores on a loaded machine (the gathering competed for
/// memory bandwidth). Forward only: the gradients read conv2's window rows.
extension CenterPivotConv4d {
    /// Output channels per pass: two 8-float vectors.
    static let directSupportLanes = 16

    /// From 16 input channels on, each gathered value serves a product of 64 or more outputs:
    /// at the layer-2 pyramid's second squeezing layer ([1, 16, 50, 50, 13, 13]) the direct
    /// kernel measured no faster than the joint product, so the window rows stay there.
    static func usesDirectSupport(inChannels: Int, outChannels: Int) -> Bool {
        inChannels < 16 && outChannels % directSupportLanes == 0
    }

    /// conv2.weight [o, c, ky, kx] as [o / 16, (c, ky, kx), 16]: per tap, the vector of its 16 outputs.
    func directSupportWeights() -> [Float] {
        let (cout, cin, taps) = (outChannels, inChannels, conv2.kernelHeight * conv2.kernelWidth)
        let lanes = Self.directSupportLanes
        var weights = [Float](repeating: 0, count: cout * cin * taps)
        conv2.weight.withUnsafeBufferPointer { w in
            for o in 0..<cout {
                let (group, lane) = o.quotientAndRemainder(dividingBy: lanes)
                for r in 0..<cin * taps { weights[(group * cin * taps + r) * lanes + lane] = w[o * cin * taps + r] }
            }
        }
        return weights
    }

    /// Adds conv2's output at the query positions `queries` of one sample: `planes` is the
    /// sample's input [Cin, Ha * Wa, Hb * Wb], `output` the sample's output [Cout, Ha * Wa, P].
    static func addDirectSupport(_ plan: Plan, queries: Range<Int>, weights: UnsafePointer<Float>,
                                 planes: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let s = plan.support
        let (hb, wb) = (plan.hb, plan.wb)
        let planeSize = hb * wb
        let (p, total) = (plan.positions, plan.columns)
        let lanes = directSupportLanes
        // Output columns v whose windows lie inside the plane's width: there four at a time.
        let innerStart = min((s.paddingW + s.strideW - 1) / s.strideW, s.outputWidth)
        let span = wb + s.paddingW - s.kernelWidth
        let innerEnd = span < 0 ? innerStart : max(innerStart, min(s.outputWidth, span / s.strideW + 1))
        for group in 0..<plan.outChannels / lanes {
            let groupWeights = weights + group * plan.inChannels * s.tapCount * lanes
            let groupOutput = output + group * lanes * total
            for a in queries {
                let plane = planes + a * planeSize
                for u in 0..<s.outputHeight {
                    let y0 = u * s.strideH - s.paddingH
                    let rows = clipped(s.kernelHeight, start: y0, size: hb)
                    let target = groupOutput + a * p + u * s.outputWidth
                    var v = 0
                    while v < s.outputWidth {
                        if v >= innerStart && v + 4 <= innerEnd {
                            addFourWindows(plan, plane: plane, rows: rows, y0: y0, x0: v * s.strideW - s.paddingW,
                                           weights: groupWeights, output: target + v)
                            v += 4
                        } else {
                            let x0 = v * s.strideW - s.paddingW
                            addWindow(plan, plane: plane, rows: rows, y0: y0,
                                      columns: clipped(s.kernelWidth, start: x0, size: wb), x0: x0,
                                      weights: groupWeights, output: target + v)
                            v += 1
                        }
                    }
                }
            }
        }
    }

    /// The kernel offsets 0..<kernel whose position start + offset lies in 0..<size.
    @inline(__always)
    static func clipped(_ kernel: Int, start: Int, size: Int) -> Range<Int> {
        let lower = min(max(0, -start), kernel)
        return lower..<max(lower, min(kernel, size - start))
    }

    /// One window (rows and columns of the kernel clipped to the plane), 16 outputs.
    @inline(__always)
    static func addWindow(_ plan: Plan, plane: UnsafePointer<Float>, rows: Range<Int>, y0: Int,
                          columns: Range<Int>, x0: Int, weights: UnsafePointer<Float>,
                          output: UnsafeMutablePointer<Float>) {
        let s = plan.support
        let channelStride = plan.ha * plan.wa * plan.hb * plan.wb
        var low = SIMD8<Float>(), high = SIMD8<Float>()
        for c in 0..<plan.inChannels {
            for ky in rows {
                let row = plane + c * channelStride + (y0 + ky) * plan.wb + x0
                let tapRow = UnsafeRawPointer(weights + ((c * s.kernelHeight + ky) * s.kernelWidth) * directSupportLanes)
                for kx in columns {
                    let value = SIMD8<Float>(repeating: row[kx])
                    let w = tapRow + kx * directSupportLanes * 4
                    low = low.addingProduct(value, w.loadUnaligned(as: SIMD8<Float>.self))
                    high = high.addingProduct(value, w.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                }
            }
        }
        store(low, high, at: output, stride: plan.columns)
    }

    /// Four neighbouring windows inside the plane's width: each weight vector loaded once for
    /// the four, and eight independent sums so that the multiply-adds overlap.
    @inline(__always)
    static func addFourWindows(_ plan: Plan, plane: UnsafePointer<Float>, rows: Range<Int>, y0: Int, x0: Int,
                               weights: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let s = plan.support
        let step = s.strideW
        let channelStride = plan.ha * plan.wa * plan.hb * plan.wb
        var l0 = SIMD8<Float>(), l1 = SIMD8<Float>(), l2 = SIMD8<Float>(), l3 = SIMD8<Float>()
        var h0 = SIMD8<Float>(), h1 = SIMD8<Float>(), h2 = SIMD8<Float>(), h3 = SIMD8<Float>()
        for c in 0..<plan.inChannels {
            for ky in rows {
                let row = plane + c * channelStride + (y0 + ky) * plan.wb + x0
                let tapRow = UnsafeRawPointer(weights + ((c * s.kernelHeight + ky) * s.kernelWidth) * directSupportLanes)
                for kx in 0..<s.kernelWidth {
                    let w = tapRow + kx * directSupportLanes * 4
                    let wl = w.loadUnaligned(as: SIMD8<Float>.self)
                    let wh = w.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                    let x = row + kx
                    let (v0, v1) = (SIMD8<Float>(repeating: x[0]), SIMD8<Float>(repeating: x[step]))
                    let (v2, v3) = (SIMD8<Float>(repeating: x[2 * step]), SIMD8<Float>(repeating: x[3 * step]))
                    l0 = l0.addingProduct(v0, wl); h0 = h0.addingProduct(v0, wh)
                    l1 = l1.addingProduct(v1, wl); h1 = h1.addingProduct(v1, wh)
                    l2 = l2.addingProduct(v2, wl); h2 = h2.addingProduct(v2, wh)
                    l3 = l3.addingProduct(v3, wl); h3 = h3.addingProduct(v3, wh)
                }
            }
        }
        let stride = plan.columns
        store(l0, h0, at: output, stride: stride)
        store(l1, h1, at: output + 1, stride: stride)
        store(l2, h2, at: output + 2, stride: stride)
        store(l3, h3, at: output + 3, stride: stride)
    }

    /// Adds the 16 sums to the outputs of 16 channels, `stride` apart.
    @inline(__always)
    static func store(_ low: SIMD8<Float>, _ high: SIMD8<Float>, at output: UnsafeMutablePointer<Float>, stride: Int) {
        for lane in 0..<8 {
            output[lane * stride] += low[lane]
            output[(lane + 8) * stride] += high[lane]
        }
    }
}
