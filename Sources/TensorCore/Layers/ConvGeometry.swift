/// Where a 2-D convolution window lands on one input plane, and the im2col / col2im copies
/// that turn a convolution into a matrix product.
///
/// The column matrix of one plane has `kernelHeight * kernelWidth` rows, one per kernel tap
/// in (ky, kx) order, and `outputHeight * outputWidth` columns, one per output position, so a
/// convolution is `weight[out, in * kh * kw] x columns[in * kh * kw, outH * outW]`, PyTorch's
/// weight layout read as a matrix. Taps that fall on the zero padding read as 0.
public struct ConvGeometry: Equatable, Sendable {
    public let inputHeight: Int
    public let inputWidth: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let strideH: Int
    public let strideW: Int
    public let paddingH: Int
    public let paddingW: Int
    /// floor((H + 2p - k) / s) + 1, as torch's Conv2d; may be zero or negative for a window
    /// larger than the padded input (callers check `isValid`).
    public let outputHeight: Int
    public let outputWidth: Int

    public init(inputHeight: Int, inputWidth: Int, kernelHeight: Int, kernelWidth: Int,
                strideH: Int, strideW: Int, paddingH: Int, paddingW: Int) {
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideH = strideH
        self.strideW = strideW
        self.paddingH = paddingH
        self.paddingW = paddingW
        let spanH = inputHeight + 2 * paddingH - kernelHeight
        let spanW = inputWidth + 2 * paddingW - kernelWidth
        outputHeight = spanH < 0 ? 0 : spanH / max(strideH, 1) + 1
        outputWidth = spanW < 0 ? 0 : spanW / max(strideW, 1) + 1
    }

    /// Whether the window fits: positive sizes and strides, non-negative padding, at least
    /// one output position.
    public var isValid: Bool {
        inputHeight > 0 && inputWidth > 0 && kernelHeight > 0 && kernelWidth > 0
            && strideH > 0 && strideW > 0 && paddingH >= 0 && paddingW >= 0
            && outputHeight > 0 && outputWidth > 0
    }

    public var tapCount: Int { kernelHeight * kernelWidth }
    public var outputCount: Int { outputHeight * outputWidth }
    public var inputCount: Int { inputHeight * inputWidth }

    public var hasPadding: Bool { paddingH > 0 || paddingW > 0 }
    public var paddedHeight: Int { inputHeight + 2 * paddingH }
    public var paddedWidth: Int { inputWidth + 2 * paddingW }

    /// Floats of scratch `im2col` and `col2im` need for a zero-padded copy of the plane
    /// (0 without padding: the plane is read in place). Callers allocate it once per worker.
    public var scratchCount: Int { hasPadding ? paddedHeight * paddedWidth : 0 }

    /// Padded input rows that the output rows `oy0 ..< oy0 + count` read.
    func bandHeight(outputRows count: Int) -> Int { (count - 1) * strideH + kernelHeight }

    /// Scratch `im2col` needs for bands of at most `count` output rows.
    public func scratchCount(outputRows count: Int) -> Int {
        hasPadding ? min(bandHeight(outputRows: count), paddedHeight) * paddedWidth : 0
    }

    /// The input rows under output rows `rows`, with their zero border: a padded copy in
    /// `scratch`, or the plane itself. With the border in memory every window row is one
    /// strided run, with no bounds tests. Returns the band's first row and its end.
    @inline(__always)
    func paddedBand(_ plane: UnsafePointer<Float>, outputRows rows: Range<Int>, scratch: UnsafeMutablePointer<Float>?)
        -> (start: UnsafePointer<Float>, end: UnsafePointer<Float>) {
        guard hasPadding else {
            return (plane + rows.lowerBound * strideH * inputWidth, plane + inputCount)
        }
        let padded = scratch!
        let pw = paddedWidth
        let bandRows = min(bandHeight(outputRows: rows.count), paddedHeight - rows.lowerBound * strideH)
        for r in 0..<bandRows {
            let row = padded + r * pw
            let iy = rows.lowerBound * strideH + r - paddingH
            guard iy >= 0, iy < inputHeight else {
                row.update(repeating: 0, count: pw)
                continue
            }
            if paddingW > 0 {
                row.update(repeating: 0, count: paddingW)
                (row + paddingW + inputWidth).update(repeating: 0, count: paddingW)
            }
            (row + paddingW).update(from: plane + iy * inputWidth, count: inputWidth)
        }
        return (UnsafePointer(padded), UnsafePointer(padded + bandRows * pw))
    }

    /// Writes the `tapCount` rows of `plane`'s column matrix, row r at `columns + r * rowStride`,
    /// for the output rows `outputRows` (all by default; the columns of output row oy start
    /// at column (oy - outputRows.lowerBound) * outputWidth). `scratch` must hold
    /// `scratchCount(outputRows:)` floats for that many rows (nil is fine when that is 0).
    public func im2col(_ plane: UnsafePointer<Float>, outputRows: Range<Int>? = nil,
                       into columns: UnsafeMutablePointer<Float>, rowStride: Int,
                       scratch: UnsafeMutablePointer<Float>?) {
        let rows = outputRows ?? 0..<outputHeight
        let (source, end) = paddedBand(plane, outputRows: rows, scratch: scratch)
        let pw = hasPadding ? paddedWidth : inputWidth
        let ow = outputWidth
        for ky in 0..<kernelHeight {
            for kx in 0..<kernelWidth {
                let row = columns + (ky * kernelWidth + kx) * rowStride
                for oy in 0..<rows.count {
                    let src = source + (oy * strideH + ky) * pw + kx
                    stridedCopy(from: src, readable: end - src, stride: strideW, to: row + oy * ow, count: ow)
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds every column entry back onto the input position it was
    /// read from (entries that came from the padding are dropped).
    public func col2im(_ columns: UnsafePointer<Float>, rowStride: Int, addingInto plane: UnsafeMutablePointer<Float>,
                       scratch: UnsafeMutablePointer<Float>?) {
        let target: UnsafeMutablePointer<Float>
        let pw: Int
        if hasPadding {
            target = scratch!
            target.update(repeating: 0, count: scratchCount)
            pw = paddedWidth
        } else {
            target = plane
            pw = inputWidth
        }
        let end = target + (hasPadding ? paddedHeight : inputHeight) * pw
        let ow = outputWidth
        for ky in 0..<kernelHeight {
            for kx in 0..<kernelWidth {
                let row = columns + (ky * kernelWidth + kx) * rowStride
                for oy in 0..<outputHeight {
                    let dst = target + (oy * strideH + ky) * pw + kx
                    stridedAdd(from: row + oy * ow, count: ow, to: dst, writable: end - dst, stride: strideW)
                }
            }
        }
        if hasPadding {
            for y in 0..<inputHeight {
                addVectors(target + (y + paddingH) * pw + paddingW, into: plane + y * inputWidth, count: inputWidth)
            }
        }
    }
}

/// dst[i] = src[i * stride] for i < count. `readable` floats may be read from src (the
/// vector paths read whole vectors, including the lanes they drop).
@inlinable @inline(__always)
public func stridedCopy(from src: UnsafePointer<Float>, readable: Int, stride: Int, to dst: UnsafeMutablePointer<Float>,
                 count: Int) {
    var i = 0
    switch stride {
    case 1:
        dst.update(from: src, count: count)
        return
    case 2:
        while i + 8 <= count && 2 * i + 16 <= readable {
            let v = UnsafeRawPointer(src + 2 * i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(dst + i).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
            i += 8
        }
    case 4:
        while i + 8 <= count && 4 * i + 32 <= readable {
            let v = UnsafeRawPointer(src + 4 * i).loadUnaligned(as: SIMD32<Float>.self)
            UnsafeMutableRawPointer(dst + i).storeBytes(of: v.evenHalf.evenHalf, as: SIMD8<Float>.self)
            i += 8
        }
    default:
        break
    }
    while i < count {
        dst[i] = src[i * stride]
        i += 1
    }
}

/// dst[i * stride] += src[i] for i < count; `writable` floats from dst belong to the caller
/// (the vector paths rewrite the lanes in between unchanged).
@inline(__always)
func stridedAdd(from src: UnsafePointer<Float>, count: Int, to dst: UnsafeMutablePointer<Float>, writable: Int,
                stride: Int) {
    var i = 0
    switch stride {
    case 1:
        addVectors(src, into: dst, count: count)
        return
    case 2:
        while i + 8 <= count && 2 * i + 16 <= writable {
            let p = UnsafeMutableRawPointer(dst + 2 * i)
            var v = p.loadUnaligned(as: SIMD16<Float>.self)
            v.evenHalf += UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
            p.storeBytes(of: v, as: SIMD16<Float>.self)
            i += 8
        }
    default:
        break
    }
    while i < count {
        dst[i * stride] += src[i]
        i += 1
    }
}

/// dst[i] += src[i] for i < count, eight lanes at a time.
@inline(__always)
func addVectors(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        let p = UnsafeMutableRawPointer(dst + i)
        let sum = p.loadUnaligned(as: SIMD8<Float>.self) + UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
        p.storeBytes(of: sum, as: SIMD8<Float>.self)
        i += 8
    }
    while i < count {
        dst[i] += src[i]
        i += 1
    }
}
