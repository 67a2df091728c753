/// A 2-D convolution as torch's `nn.Conv2d` (groups 1, dilation 1, zero padding), on float32
/// NCHW tensors, with PyTorch's parameter layout: `weight` [out, in, kh, kw], `bias` [out].
///
/// Forward is a matrix product per image: `weight[out, in*kh*kw] x columns[in*kh*kw, Ho*Wo]`.
/// A 1x1 stride-1 convolution reads the image itself as the column matrix (one product, the
/// product is split over the cores, `gemm`); any other convolution copies its windows into a column buffer
/// first (im2col). Large outputs are cut into bands of output rows that each core fills and
/// multiplies on its own, so the column buffer stays in cache; small images are put side by
/// side in one column buffer so that the product stays large. The input gradient of a
/// stride-1 convolution is computed as a convolution too (flipped kernel), the others by a
/// product and col2im.
public struct Conv2d {
    public var weight: Tensor
    public var bias: Tensor?
    public var strideH: Int
    public var strideW: Int
    public var paddingH: Int
    public var paddingW: Int

    public init(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) {
        self.init(weight: weight, bias: bias, strideH: stride, strideW: stride, paddingH: padding, paddingW: padding)
    }

    public init(weight: Tensor, bias: Tensor?, strideH: Int, strideW: Int, paddingH: Int, paddingW: Int) {
        if let problem = Conv2d.parameterProblem(weight: weight, bias: bias, strideH: strideH, strideW: strideW,
                                                 paddingH: paddingH, paddingW: paddingW) {
            preconditionFailure("Conv2d: \(problem)")
        }
        self.weight = weight
        self.bias = bias
        self.strideH = strideH
        self.strideW = strideW
        self.paddingH = paddingH
        self.paddingW = paddingW
    }

    /// Checks parameters that come from a file before building the layer; `name` says where
    /// they come from (e.g. `checkpoint.pth: learner.decoder1.0`).
    public static func validate(weight: Tensor, bias: Tensor?, strideH: Int = 1, strideW: Int = 1,
                                paddingH: Int = 0, paddingW: Int = 0, name: String) throws {
        if let problem = parameterProblem(weight: weight, bias: bias, strideH: strideH, strideW: strideW,
                                          paddingH: paddingH, paddingW: paddingW) {
            throw InputError("\(name): \(problem)")
        }
    }

    static func parameterProblem(weight: Tensor, bias: Tensor?, strideH: Int, strideW: Int,
                                 paddingH: Int, paddingW: Int) -> String? {
        guard weight.rank == 4, weight.shape.allSatisfy({ $0 > 0 }) else {
            return "weight must be [out, in, kh, kw] with positive sizes, got \(weight.shapeDescription)"
        }
        if let bias, bias.shape != [weight.shape[0]] {
            return "bias must be [\(weight.shape[0])] to match weight \(weight.shapeDescription), got \(bias.shapeDescription)"
        }
        guard strideH > 0, strideW > 0, paddingH >= 0, paddingW >= 0 else {
            return "stride must be positive and padding non-negative, got stride (\(strideH), \(strideW)), padding (\(paddingH), \(paddingW))"
        }
        return nil
    }

    public var outChannels: Int { weight.shape[0] }
    public var inChannels: Int { weight.shape[1] }
    public var kernelHeight: Int { weight.shape[2] }
    public var kernelWidth: Int { weight.shape[3] }

    /// The window geometry on an input plane of `height x width`.
    public func geometry(height: Int, width: Int) -> ConvGeometry {
        ConvGeometry(inputHeight: height, inputWidth: width, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                     strideH: strideH, strideW: strideW, paddingH: paddingH, paddingW: paddingW)
    }

    /// Why `shape` is not a valid input, or nil.
    public func inputProblem(_ shape: [Int]) -> String? {
        guard shape.count == 4 else {
            return "expected an input [N, \(inChannels), H, W], got [\(shape.map(String.init).joined(separator: ", "))]"
        }
        guard shape[1] == inChannels else {
            return "expected \(inChannels) input channels, got \(shape[1]) in [\(shape.map(String.init).joined(separator: ", "))]"
        }
        guard shape[0] > 0, geometry(height: shape[2], width: shape[3]).isValid else {
            return "input [\(shape.map(String.init).joined(separator: ", "))] is empty or smaller than the \(kernelHeight)x\(kernelWidth) kernel with padding (\(paddingH), \(paddingW))"
        }
        return nil
    }

    /// Throws an `InputError` naming `name` when `shape` cannot go through this convolution.
    public func validate(inputShape shape: [Int], name: String) throws {
        if let problem = inputProblem(shape) { throw InputError("\(name): \(problem)") }
    }

    public func outputShape(forInput shape: [Int]) -> [Int] {
        if let problem = inputProblem(shape) { preconditionFailure("Conv2d: \(problem)") }
        let g = geometry(height: shape[2], width: shape[3])
        return [shape[0], outChannels, g.outputHeight, g.outputWidth]
    }

    /// 1x1, stride 1, no padding: the image is its own column matrix.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideH == 1 && strideW == 1 && paddingH == 0 && paddingW == 0
    }

    /// How many images share one matrix product: enough that it has at least ~2048 columns,
    /// so that the products of small feature maps (13 x 13 at layer 4) stay efficient.
    func imagesPerProduct(batch: Int, outputCount: Int) -> Int {
        if isPointwise { return 1 }
        return max(1, min(batch, 2048 / max(outputCount, 1)))
    }

    /// Whether this convolution runs by Winograd's method (`Winograd3x3`) on planes of
    /// `height x width`: 3 x 3, stride 1, padding 1, at least 16 channels in and out, and
    /// planes of at least 48 x 48. Measured against im2col on 2 cores: 1.25 to 1.4 times
    /// faster at 64 channels on 100 x 100 and 128 on 50 x 50 (ResNet's layer 1 and 2 at a
    /// 400 x 400 image, HSNet's decoder), slower at 256 channels on 25 x 25 and below, where
    /// the transforms outweigh the products saved.
    func usesWinograd(height: Int, width: Int) -> Bool {
        kernelHeight == 3 && kernelWidth == 3 && strideH == 1 && strideW == 1 && paddingH == 1 && paddingW == 1
            && min(inChannels, outChannels) >= 16 && height >= 48 && width >= 48
    }

    // MARK: Forward

    public func forward(_ x: Tensor) -> Tensor {
        let outShape = outputShape(forInput: x.shape)
        let (batch, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        if usesWinograd(height: h, width: w) {
            return Tensor(shape: outShape) { out in
                x.withUnsafeBufferPointer { xb in
                    Winograd3x3(weight: weight).apply(xb.baseAddress!, batch: batch, height: h, width: w, lanes: 1,
                                                      bias: bias?.scalars, into: out.baseAddress!)
                }
            }
        }
        let cout = outChannels
        let geo = geometry(height: h, width: w)
        let positions = geo.outputCount
        let rows = cin * geo.tapCount
        let group = imagesPerProduct(batch: batch, outputCount: positions)
        let ld = group * positions
        return Tensor(shape: outShape) { out in
            let y = out.baseAddress!
            x.withUnsafeBufferPointer { xb in
                weight.withUnsafeBufferPointer { wb in
                    let xp = xb.baseAddress!
                    let wp = wb.baseAddress!
                    // The output starts as the bias and the product is added to it (beta 1):
                    // with beta 0 the BLAS would spend the same pass zeroing it.
                    let beta: Float = fillBias(y, images: batch, positions: positions, skipped: group > 1) ? 1 : 0
                    if isPointwise {
                        for n in 0..<batch {
                            gemm(m: cout, n: positions, k: cin, a: wp, lda: cin,
                                 b: xp + n * cin * positions, ldb: positions, beta: beta,
                                 c: y + n * cout * positions, ldc: positions)
                        }
                        return
                    }
                    let band = outputRowsPerBand(geo, rows: rows)
                    let bands = batch * ((geo.outputHeight + band - 1) / band)
                    if group == 1 && bands >= 2 * workerCount {
                        forwardInBands(geo, input: xp, weight: wp, output: y, batch: batch, band: band, beta: beta)
                        return
                    }
                    let columns = UnsafeMutablePointer<Float>.allocate(capacity: rows * ld)
                    defer { columns.deallocate() }
                    let product = group > 1 ? UnsafeMutablePointer<Float>.allocate(capacity: cout * ld) : nil
                    defer { product?.deallocate() }
                    var n0 = 0
                    while n0 < batch {
                        let g = min(group, batch - n0)
                        let width = g * positions
                        Conv2d.fillColumns(geo, input: xp, channels: cin, firstImage: n0, images: g,
                                           columns: columns, ld: width)
                        if let product {
                            gemm(m: cout, n: width, k: rows, a: wp, lda: rows, b: columns, ldb: width,
                                 c: product, ldc: width)
                            Conv2d.scatterImages(product, rows: cout, positions: positions, images: g,
                                                 into: y + n0 * cout * positions)
                        } else {
                            gemm(m: cout, n: width, k: rows, a: wp, lda: rows, b: columns, ldb: width, beta: beta,
                                 c: y + n0 * cout * positions, ldc: width)
                        }
                        n0 += g
                    }
                    if group > 1 { addBias(to: y, images: batch, positions: positions) }
                }
            }
        }
    }

    /// Output rows per band: enough columns for an efficient product, few enough that the
    /// band's column matrix stays within about 1 MB of cache.
    func outputRowsPerBand(_ geo: ConvGeometry, rows: Int) -> Int {
        let columns = max(512, (1 << 18) / max(rows, 1))
        return max(1, min(geo.outputHeight, columns / max(geo.outputWidth, 1)))
    }

    /// Large images: each core takes bands of output rows, fills their column matrix and
    /// multiplies it on its own thread straight into the output. The columns never
    /// leave the cache, and im2col runs on both cores as well as the product.
    func forwardInBands(_ geo: ConvGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, batch: Int, band: Int, beta: Float) {
        let (cin, cout) = (inChannels, outChannels)
        let rows = cin * geo.tapCount
        let positions = geo.outputCount
        let bandsPerImage = (geo.outputHeight + band - 1) / band
        parallelTasks(batch * bandsPerImage) { _, tasks in
            let columns = UnsafeMutablePointer<Float>.allocate(capacity: rows * band * geo.outputWidth)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: geo.scratchCount(outputRows: band))
            defer { columns.deallocate(); scratch.deallocate() }
            for task in tasks {
                let (n, b) = task.quotientAndRemainder(dividingBy: bandsPerImage)
                let outputRows = b * band..<min((b + 1) * band, geo.outputHeight)
                let ld = outputRows.count * geo.outputWidth
                for c in 0..<cin {
                    geo.im2col(input + (n * cin + c) * geo.inputCount, outputRows: outputRows,
                               into: columns + c * geo.tapCount * ld, rowStride: ld, scratch: scratch)
                }
                gemm(m: cout, n: ld, k: rows, a: weight, lda: rows, b: columns, ldb: ld, beta: beta,
                     c: output + n * cout * positions + outputRows.lowerBound * geo.outputWidth, ldc: positions)
            }
        }
    }

    /// im2col of `images` images starting at `firstImage`, side by side: image t's columns
    /// start at column t * positions of a matrix with row stride `ld`.
    static func fillColumns(_ geo: ConvGeometry, input: UnsafePointer<Float>, channels: Int, firstImage: Int,
                            images: Int, columns: UnsafeMutablePointer<Float>, ld: Int) {
        let planeWork = geo.tapCount * geo.outputCount
        parallelFor(images * channels, minimumChunk: max(1, 32_768 / max(planeWork, 1))) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: geo.scratchCount)
            defer { scratch.deallocate() }
            for task in range {
                let (t, c) = task.quotientAndRemainder(dividingBy: channels)
                geo.im2col(input + ((firstImage + t) * channels + c) * geo.inputCount,
                           into: columns + c * geo.tapCount * ld + t * geo.outputCount, rowStride: ld,
                           scratch: scratch)
            }
        }
    }

    /// Copies a [rows, images * positions] product into `images` consecutive [rows, positions] images.
    static func scatterImages(_ product: UnsafePointer<Float>, rows: Int, positions: Int, images: Int,
                              into out: UnsafeMutablePointer<Float>) {
        let ld = images * positions
        for t in 0..<images {
            for r in 0..<rows {
                (out + (t * rows + r) * positions).update(from: product + r * ld + t * positions, count: positions)
            }
        }
    }

    /// The inverse of `scatterImages`: [images][rows, positions] into one [rows, images * positions] matrix.
    static func gatherImages(_ input: UnsafePointer<Float>, rows: Int, positions: Int, images: Int,
                             into product: UnsafeMutablePointer<Float>) {
        let ld = images * positions
        for t in 0..<images {
            for r in 0..<rows {
                (product + r * ld + t * positions).update(from: input + (t * rows + r) * positions, count: positions)
            }
        }
    }

    /// Writes the bias into every output plane; false (and nothing written) without a bias
    /// or when `skipped`.
    func fillBias(_ y: UnsafeMutablePointer<Float>, images: Int, positions: Int, skipped: Bool) -> Bool {
        guard let bias, !skipped else { return false }
        let cout = outChannels
        bias.withUnsafeBufferPointer { bb in
            let b = bb.baseAddress!
            parallelFor(images * cout, minimumChunk: max(1, 65_536 / max(positions, 1))) { range in
                for plane in range { (y + plane * positions).update(repeating: b[plane % cout], count: positions) }
            }
        }
        return true
    }

    func addBias(to y: UnsafeMutablePointer<Float>, images: Int, positions: Int) {
        guard let bias else { return }
        let cout = outChannels
        bias.withUnsafeBufferPointer { bb in
            let b = bb.baseAddress!
            parallelFor(images * cout, minimumChunk: max(1, 65_536 / max(positions, 1))) { range in
                for plane in range {
                    let value = b[plane % cout]
                    let p = y + plane * positions
                    for i in 0..<positions { p[i] += value }
                }
            }
        }
    }

    // MARK: Backward

    /// The gradient with respect to the input, given the gradient of the output:
    /// `columns = weight^T x gradOutput`, then col2im adds each column entry back where it was read.
    public func backwardInput(_ gradOutput: Tensor, inputShape: [Int]) -> Tensor {
        let outShape = outputShape(forInput: inputShape)
        precondition(gradOutput.shape == outShape,
                     "Conv2d.backwardInput: gradOutput is \(gradOutput.shapeDescription), expected \(outShape)")
        if let transposed = transposedForStrideOne(), !isPointwise {
            // Stride 1: the input gradient is itself a convolution of the output gradient, with
            // the kernel flipped and in/out swapped, padded by k - 1 - p; the forward's banded
            // path then computes it with no scatter.
            return transposed.forward(gradOutput)
        }
        let (batch, cin, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let cout = outChannels
        let geo = geometry(height: h, width: w)
        let positions = geo.outputCount
        let rows = cin * geo.tapCount
        let group = imagesPerProduct(batch: batch, outputCount: positions)
        return Tensor(shape: inputShape) { out in
            let gx = out.baseAddress!
            gradOutput.withUnsafeBufferPointer { gb in
                weight.withUnsafeBufferPointer { wb in
                    let gy = gb.baseAddress!
                    let wp = wb.baseAddress!
                    if isPointwise {
                        for n in 0..<batch {
                            gemm(transposeA: true, m: cin, n: positions, k: cout, a: wp, lda: cin,
                                 b: gy + n * cout * positions, ldb: positions,
                                 c: gx + n * cin * positions, ldc: positions)
                        }
                        return
                    }
                    forEachImageGroup(batch: batch, group: group, positions: positions, rows: rows,
                                      gradOutput: gy) { n0, g, width, columns, source in
                        gemm(transposeA: true, m: rows, n: width, k: cout, a: wp, lda: rows, b: source, ldb: width,
                             c: columns, ldc: width)
                        // Each input plane receives only its own rows: planes are independent tasks.
                        let planeWork = geo.tapCount * positions
                        parallelFor(g * cin, minimumChunk: max(1, 32_768 / max(planeWork, 1))) { range in
                            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: geo.scratchCount)
                            defer { scratch.deallocate() }
                            for task in range {
                                let (t, c) = task.quotientAndRemainder(dividingBy: cin)
                                let plane = gx + ((n0 + t) * cin + c) * geo.inputCount
                                plane.update(repeating: 0, count: geo.inputCount)
                                geo.col2im(columns + c * geo.tapCount * width + t * positions, rowStride: width,
                                           addingInto: plane, scratch: scratch)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The loop both backward passes share: images in groups of `group`; for each group, its
    /// output gradient as one [cout, images * positions] matrix (gathered when the group holds
    /// several images) and a column buffer of `rows` x that width for `body` to fill or read.
    private func forEachImageGroup(
        batch: Int, group: Int, positions: Int, rows: Int, gradOutput gy: UnsafePointer<Float>,
        _ body: (_ firstImage: Int, _ images: Int, _ width: Int, _ columns: UnsafeMutablePointer<Float>,
                 _ gradOutput: UnsafePointer<Float>) -> Void
    ) {
        let cout = outChannels
        let ld = group * positions
        let columns = UnsafeMutablePointer<Float>.allocate(capacity: rows * ld)
        defer { columns.deallocate() }
        let gathered = group > 1 ? UnsafeMutablePointer<Float>.allocate(capacity: cout * ld) : nil
        defer { gathered?.deallocate() }
        var n0 = 0
        while n0 < batch {
            let g = min(group, batch - n0)
            var source = gy + n0 * cout * positions
            if let gathered {
                Conv2d.gatherImages(source, rows: cout, positions: positions, images: g, into: gathered)
                source = UnsafePointer(gathered)
            }
            body(n0, g, g * positions, columns, source)
            n0 += g
        }
    }

    /// For stride 1 and padding below the kernel size: the convolution whose forward is this
    /// one's input gradient, weight'[c, o, ky, kx] = weight[o, c, kh-1-ky, kw-1-kx].
    func transposedForStrideOne() -> Conv2d? {
        guard strideH == 1, strideW == 1, paddingH < kernelHeight, paddingW < kernelWidth else { return nil }
        let (cout, cin, kh, kw) = (outChannels, inChannels, kernelHeight, kernelWidth)
        let flipped = Tensor(shape: [cin, cout, kh, kw]) { out in
            weight.withUnsafeBufferPointer { w in
                for o in 0..<cout {
                    for c in 0..<cin {
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                out[((c * cout + o) * kh + ky) * kw + kx] = w[((o * cin + c) * kh + kh - 1 - ky) * kw + kw - 1 - kx]
                            }
                        }
                    }
                }
            }
        }
        return Conv2d(weight: flipped, bias: nil, strideH: 1, strideW: 1,
                      paddingH: kh - 1 - paddingH, paddingW: kw - 1 - paddingW)
    }

    /// The gradients of `weight` and `bias` for one batch: `gradOutput x columns^T`, summed
    /// over the images, and the output gradient summed over images and positions.
    public func parameterGradients(_ gradOutput: Tensor, input: Tensor) -> (weight: Tensor, bias: Tensor?) {
        let outShape = outputShape(forInput: input.shape)
        precondition(gradOutput.shape == outShape,
                     "Conv2d.parameterGradients: gradOutput is \(gradOutput.shapeDescription), expected \(outShape)")
        let (batch, cin, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let cout = outChannels
        let geo = geometry(height: h, width: w)
        let positions = geo.outputCount
        let rows = cin * geo.tapCount
        let group = imagesPerProduct(batch: batch, outputCount: positions)
        let gradWeight = Tensor(shape: weight.shape) { gw in
            let gwp = gw.baseAddress!
            gradOutput.withUnsafeBufferPointer { gb in
                input.withUnsafeBufferPointer { xb in
                    let gy = gb.baseAddress!
                    let xp = xb.baseAddress!
                    if isPointwise {
                        for n in 0..<batch {
                            gemm(transposeB: true, m: cout, n: cin, k: positions,
                                 a: gy + n * cout * positions, lda: positions,
                                 b: xp + n * cin * positions, ldb: positions,
                                 beta: n == 0 ? 0 : 1, c: gwp, ldc: cin)
                        }
                        return
                    }
                    forEachImageGroup(batch: batch, group: group, positions: positions, rows: rows,
                                      gradOutput: gy) { n0, g, width, columns, source in
                        Conv2d.fillColumns(geo, input: xp, channels: cin, firstImage: n0, images: g,
                                           columns: columns, ld: width)
                        gemm(transposeB: true, m: cout, n: rows, k: width, a: source, lda: width,
                             b: columns, ldb: width, beta: n0 == 0 ? 0 : 1, c: gwp, ldc: rows)
                    }
                }
            }
        }
        guard bias != nil else { return (gradWeight, nil) }
        let gradBias = Tensor(shape: [cout]) { gb in
            gradOutput.withUnsafeBufferPointer { gyb in
                let gy = gyb.baseAddress!
                for c in 0..<cout {
                    var total = 0.0
                    for n in 0..<batch {
                        total += sumOfPlane(gy + (n * cout + c) * positions, count: positions)
                    }
                    gb[c] = Float(total)
                }
            }
        }
        return (gradWeight, gradBias)
    }

    // MARK: BatchNorm folding

    /// Folds an eval-mode BatchNorm2d that follows this convolution into its weight and bias:
    /// `bn(conv(x)) = conv'(x)` with `w' = w * s`, `b' = (b - mean) * s + beta`,
    /// `s = gamma / sqrt(runningVar + eps)`, computed in double precision.
    public func foldingBatchNorm(weight gamma: Tensor, bias beta: Tensor, runningMean: Tensor, runningVar: Tensor,
                                 eps: Float = 1e-5) -> Conv2d {
        let cout = outChannels
        for (name, t) in [("weight", gamma), ("bias", beta), ("running_mean", runningMean), ("running_var", runningVar)] {
            precondition(t.shape == [cout], "Conv2d.foldingBatchNorm: BatchNorm \(name) must be [\(cout)], got \(t.shapeDescription)")
        }
        let perOutput = weight.count / cout
        var folded = weight
        var foldedBias = [Float](repeating: 0, count: cout)
        folded.withUnsafeMutableBufferPointer { w in
            for c in 0..<cout {
                let scale = Double(gamma.scalars[c]) / (Double(runningVar.scalars[c]) + Double(eps)).squareRoot()
                for i in c * perOutput..<(c + 1) * perOutput { w[i] = Float(Double(w[i]) * scale) }
                let b = bias.map { Double($0.scalars[c]) } ?? 0
                foldedBias[c] = Float((b - Double(runningMean.scalars[c])) * scale + Double(beta.scalars[c]))
            }
        }
        return Conv2d(weight: folded, bias: Tensor(shape: [cout], scalars: foldedBias),
                      strideH: strideH, strideW: strideW, paddingH: paddingH, paddingW: paddingW)
    }
}

/// The sum of `count` floats, accumulated in eight float lanes over short blocks and in
/// double precision across blocks: fast, and accurate for the sizes layers reduce over.
@inlinable
public func sumOfPlane(_ p: UnsafePointer<Float>, count: Int) -> Double {
    var total = 0.0
    var i = 0
    while i + 8 <= count {
        var lanes = SIMD8<Float>(repeating: 0)
        let blockEnd = min(count - (count - i) % 8, i + 512)
        while i < blockEnd {
            lanes += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        total += Double(lanes.sum())
    }
    while i < count {
        total += Double(p[i])
        i += 1
    }
    return total
}
