/// Max pooling as torch's `nn.MaxPool2d(kernel, stride, padding)` (dilation 1, floor mode),
/// on float32 NCHW; ResNet's stem uses kernel 3, stride 2, padding 1. The padding never wins
/// (it counts as -infinity), and a NaN in a window wins, as in torch.
public struct MaxPool2d: Equatable, Sendable {
    public var kernelSize: Int
    public var stride: Int
    public var padding: Int

    public init(kernelSize: Int = 3, stride: Int = 2, padding: Int = 1) {
        precondition(kernelSize > 0 && stride > 0 && padding >= 0 && 2 * padding <= kernelSize,
                     "MaxPool2d: kernel \(kernelSize), stride \(stride), padding \(padding) is not a valid pooling (padding must be at most half the kernel)")
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
    }

    public func outputShape(forInput shape: [Int]) -> [Int] {
        precondition(shape.count == 4, "MaxPool2d: expected an input [N, C, H, W], got \(shape)")
        let oh = (shape[2] + 2 * padding - kernelSize) / stride + 1
        let ow = (shape[3] + 2 * padding - kernelSize) / stride + 1
        precondition(shape[2] + 2 * padding >= kernelSize && shape[3] + 2 * padding >= kernelSize,
                     "MaxPool2d: input \(shape) is smaller than the \(kernelSize)x\(kernelSize) window")
        return [shape[0], shape[1], oh, ow]
    }

    /// Calls `body(outputIndex, inputIndex)` with the flat in-plane index of each window's
    /// maximum (the first one in row-major order on ties), for one plane.
    @inline(__always)
    func forEachArgmax(_ x: UnsafePointer<Float>, height: Int, width: Int, outHeight: Int, outWidth: Int,
                       _ body: (Int, Int) -> Void) {
        for oy in 0..<outHeight {
            let y0 = max(oy * stride - padding, 0)
            let y1 = min(oy * stride - padding + kernelSize, height)
            for ox in 0..<outWidth {
                let x0 = max(ox * stride - padding, 0)
                let x1 = min(ox * stride - padding + kernelSize, width)
                var best = y0 * width + x0
                var bestValue = x[best]
                for iy in y0..<y1 {
                    for ix in x0..<x1 {
                        let v = x[iy * width + ix]
                        if v > bestValue || v.isNaN && !bestValue.isNaN {
                            bestValue = v
                            best = iy * width + ix
                        }
                    }
                }
                body(oy * outWidth + ox, best)
            }
        }
    }

    /// Separable: for each output row, the maximum over the window's input rows (eight lanes
    /// at a time), then over the window's columns of that row maximum.
    public func forward(_ x: Tensor) -> Tensor {
        let outShape = outputShape(forInput: x.shape)
        let (h, w, oh, ow) = (x.shape[2], x.shape[3], outShape[2], outShape[3])
        let planes = x.shape[0] * x.shape[1]
        let (k, s, p) = (kernelSize, stride, padding)
        return Tensor(shape: outShape) { out in
            let y = out.baseAddress!
            x.withUnsafeBufferPointer { xb in
                let xp = xb.baseAddress!
                parallelFor(planes * oh, minimumChunk: max(1, 8_192 / max(k * w, 1))) { range in
                    let rowMax = UnsafeMutablePointer<Float>.allocate(capacity: w)
                    defer { rowMax.deallocate() }
                    for outputRow in range {
                        let (plane, oy) = outputRow.quotientAndRemainder(dividingBy: oh)
                        let src = xp + plane * h * w
                        let y0 = max(oy * s - p, 0)
                        let y1 = min(oy * s - p + k, h)
                        rowMax.update(from: src + y0 * w, count: w)
                        for iy in (y0 + 1)..<max(y1, y0 + 1) { maximumInPlace(rowMax, src + iy * w, count: w) }
                        let dst = y + outputRow * ow
                        for ox in 0..<ow {
                            let x0 = max(ox * s - p, 0)
                            let x1 = min(ox * s - p + k, w)
                            var best = rowMax[x0]
                            for ix in (x0 + 1)..<max(x1, x0 + 1) {
                                let v = rowMax[ix]
                                if v > best || v.isNaN { best = v }
                            }
                            dst[ox] = best
                        }
                    }
                }
            }
        }
    }

    /// Routes each output gradient to the input position that won its window (the forward's
    /// argmax, recomputed from `input`); overlapping windows add up.
    public func backward(_ gradOutput: Tensor, input: Tensor) -> Tensor {
        let outShape = outputShape(forInput: input.shape)
        precondition(gradOutput.shape == outShape,
                     "MaxPool2d.backward: gradOutput is \(gradOutput.shapeDescription), expected \(outShape)")
        let (h, w, oh, ow) = (input.shape[2], input.shape[3], outShape[2], outShape[3])
        let planes = input.shape[0] * input.shape[1]
        return Tensor(shape: input.shape) { out in
            let gx = out.baseAddress!
            input.withUnsafeBufferPointer { xb in
                gradOutput.withUnsafeBufferPointer { gb in
                    let xp = xb.baseAddress!
                    let gy = gb.baseAddress!
                    parallelFor(planes, minimumChunk: max(1, 16_384 / max(oh * ow, 1))) { range in
                        for plane in range {
                            let dst = gx + plane * h * w
                            let g = gy + plane * oh * ow
                            dst.update(repeating: 0, count: h * w)
                            forEachArgmax(xp + plane * h * w, height: h, width: w, outHeight: oh, outWidth: ow) { o, i in
                                dst[i] += g[o]
                            }
                        }
                    }
                }
            }
        }
    }
}

/// a[i] = max(a[i], b[i]), a NaN in either winning (as torch's max pooling).
@inline(__always)
func maximumInPlace(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        let pa = UnsafeMutableRawPointer(a + i)
        let va = pa.loadUnaligned(as: SIMD8<Float>.self)
        let vb = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        pa.storeBytes(of: va.replacing(with: vb, where: (vb .> va) .| (vb .!= vb)), as: SIMD8<Float>.self)
        i += 8
    }
    while i < count {
        if b[i] > a[i] || b[i].isNaN { a[i] = b[i] }
        i += 1
    }
}
