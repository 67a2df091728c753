/// Bilinear resizing with aligned corners, as torch's
/// `F.interpolate(x, size, mode='bilinear', align_corners=True)`: the corner pixels of input
/// and output coincide, output pixel o samples input position o * (in - 1) / (out - 1).
/// Works up and down, to any size, on any two adjacent axes: by default the last two
/// ([N, C, H, W]); HSNet also resizes the query axes 2 and 3 of its 6-D correlation tensors
/// [B, C, Ha, Wa, Hb, Wb], which is `heightAxis: 2` here, without permuting them.
///
/// The tensor is read as [outer, H, W, inner]; the interpolation weights are computed in
/// float32 exactly as torch computes them, so the results match torch to rounding.
public struct BilinearResize: Equatable, Sendable {
    public var outputHeight: Int
    public var outputWidth: Int

    public init(outputHeight: Int, outputWidth: Int) {
        precondition(outputHeight > 0 && outputWidth > 0,
                     "BilinearResize: output size must be positive, got \(outputHeight)x\(outputWidth)")
        self.outputHeight = outputHeight
        self.outputWidth = outputWidth
    }

    /// The two source indices and their weights for each output index along one axis.
    struct Taps {
        var first: [Int]
        var second: [Int]
        var firstWeight: [Float]
        var secondWeight: [Float]

        init(input: Int, output: Int) {
            // Float arithmetic as torch's CPU kernel: scale = (in - 1) / (out - 1), src = scale * o.
            let scale: Float = output > 1 ? Float(input - 1) / Float(output - 1) : 0
            first = []; second = []; firstWeight = []; secondWeight = []
            first.reserveCapacity(output); second.reserveCapacity(output)
            firstWeight.reserveCapacity(output); secondWeight.reserveCapacity(output)
            for o in 0..<output {
                let source = scale * Float(o)
                let i0 = min(Int(source), input - 1)
                let lambda = min(max(source - Float(i0), 0), 1)
                first.append(i0)
                second.append(i0 < input - 1 ? i0 + 1 : i0)
                firstWeight.append(1 - lambda)
                secondWeight.append(lambda)
            }
        }
    }

    func layout(_ shape: [Int], heightAxis: Int?) -> (axis: Int, outer: Int, height: Int, width: Int, inner: Int) {
        let axis = heightAxis ?? shape.count - 2
        precondition(axis >= 0 && axis + 1 < shape.count,
                     "BilinearResize: height axis \(axis) needs two axes in the input shape \(shape)")
        precondition(shape[axis] > 0 && shape[axis + 1] > 0, "BilinearResize: empty input \(shape)")
        return (axis, shape[..<axis].reduce(1, *), shape[axis], shape[axis + 1], shape[(axis + 2)...].reduce(1, *))
    }

    public func outputShape(forInput shape: [Int], heightAxis: Int? = nil) -> [Int] {
        let axis = layout(shape, heightAxis: heightAxis).axis
        var out = shape
        out[axis] = outputHeight
        out[axis + 1] = outputWidth
        return out
    }

    // MARK: Forward

    public func forward(_ x: Tensor, heightAxis: Int? = nil) -> Tensor {
        let (_, outer, h, w, inner) = layout(x.shape, heightAxis: heightAxis)
        let (oh, ow) = (outputHeight, outputWidth)
        let rowsTaps = Taps(input: h, output: oh)
        let columnTaps = Taps(input: w, output: ow)
        return Tensor(shape: outputShape(forInput: x.shape, heightAxis: heightAxis)) { out in
            let y = out.baseAddress!
            x.withUnsafeBufferPointer { xb in
                let xp = xb.baseAddress!
                columnTaps.first.withUnsafeBufferPointer { x0 in
                columnTaps.second.withUnsafeBufferPointer { x1 in
                columnTaps.firstWeight.withUnsafeBufferPointer { w0 in
                columnTaps.secondWeight.withUnsafeBufferPointer { w1 in
                    parallelFor(outer * oh, minimumChunk: max(1, 16_384 / max(ow * inner, 1))) { range in
                        for row in range {
                            let (o, oy) = row.quotientAndRemainder(dividingBy: oh)
                            let h0 = rowsTaps.firstWeight[oy], h1 = rowsTaps.secondWeight[oy]
                            let r0 = xp + (o * h + rowsTaps.first[oy]) * w * inner
                            let r1 = xp + (o * h + rowsTaps.second[oy]) * w * inner
                            let dst = y + row * ow * inner
                            if inner == 1 {
                                for ox in 0..<ow {
                                    let (a, b, wa, wb) = (x0[ox], x1[ox], w0[ox], w1[ox])
                                    dst[ox] = h0 * (wa * r0[a] + wb * r0[b]) + h1 * (wa * r1[a] + wb * r1[b])
                                }
                            } else {
                                for ox in 0..<ow {
                                    let (wa, wb) = (w0[ox], w1[ox])
                                    let p00 = r0 + x0[ox] * inner, p01 = r0 + x1[ox] * inner
                                    let p10 = r1 + x0[ox] * inner, p11 = r1 + x1[ox] * inner
                                    let d = dst + ox * inner
                                    for t in 0..<inner {
                                        d[t] = h0 * (wa * p00[t] + wb * p01[t]) + h1 * (wa * p10[t] + wb * p11[t])
                                    }
                                }
                            }
                        }
                    }
                }}}}
            }
        }
    }

    // MARK: Backward

    /// The adjoint of `forward`: each output gradient is spread over its four source pixels
    /// with the forward's weights.
    public func backward(_ gradOutput: Tensor, inputShape: [Int], heightAxis: Int? = nil) -> Tensor {
        let (_, outer, h, w, inner) = layout(inputShape, heightAxis: heightAxis)
        let expected = outputShape(forInput: inputShape, heightAxis: heightAxis)
        precondition(gradOutput.shape == expected,
                     "BilinearResize.backward: gradOutput is \(gradOutput.shapeDescription), expected \(expected)")
        let (oh, ow) = (outputHeight, outputWidth)
        let rowsTaps = Taps(input: h, output: oh)
        let columnTaps = Taps(input: w, output: ow)
        return Tensor(shape: inputShape) { out in
            let gx = out.baseAddress!
            gradOutput.withUnsafeBufferPointer { gb in
                let gy = gb.baseAddress!
                columnTaps.first.withUnsafeBufferPointer { x0 in
                columnTaps.second.withUnsafeBufferPointer { x1 in
                columnTaps.firstWeight.withUnsafeBufferPointer { w0 in
                columnTaps.secondWeight.withUnsafeBufferPointer { w1 in
                    // One task per outer slice: the slices' input gradients do not overlap.
                    parallelFor(outer, minimumChunk: max(1, 16_384 / max(oh * ow * inner, 1))) { range in
                        for o in range {
                            let plane = gx + o * h * w * inner
                            plane.update(repeating: 0, count: h * w * inner)
                            for oy in 0..<oh {
                                let h0 = rowsTaps.firstWeight[oy], h1 = rowsTaps.secondWeight[oy]
                                let r0 = plane + rowsTaps.first[oy] * w * inner
                                let r1 = plane + rowsTaps.second[oy] * w * inner
                                let src = gy + (o * oh + oy) * ow * inner
                                if inner == 1 {
                                    for ox in 0..<ow {
                                        let g = src[ox]
                                        let (a, b, wa, wb) = (x0[ox], x1[ox], w0[ox], w1[ox])
                                        r0[a] += h0 * wa * g
                                        r0[b] += h0 * wb * g
                                        r1[a] += h1 * wa * g
                                        r1[b] += h1 * wb * g
                                    }
                                } else {
                                    for ox in 0..<ow {
                                        let (wa, wb) = (w0[ox], w1[ox])
                                        let p00 = r0 + x0[ox] * inner, p01 = r0 + x1[ox] * inner
                                        let p10 = r1 + x0[ox] * inner, p11 = r1 + x1[ox] * inner
                                        let s = src + ox * inner
                                        let (c00, c01, c10, c11) = (h0 * wa, h0 * wb, h1 * wa, h1 * wb)
                                        for t in 0..<inner {
                                            let g = s[t]
                                            p00[t] += c00 * g
                                            p01[t] += c01 * g
                                            p10[t] += c10 * g
                                            p11[t] += c11 * g
                                        }
                                    }
                                }
                            }
                        }
                    }
                }}}}
            }
        }
    }
}
