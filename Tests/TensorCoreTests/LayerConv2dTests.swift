import ReferenceParity
import TensorCore
import XCTest

final class LayerConv2dTests: XCTestCase {
    typealias S = LayerTestSupport

    /// Forward, input gradient and parameter gradients of one torch case.
    func checkAgainstTorch(_ name: String, stride: (Int, Int), padding: (Int, Int), hasBias: Bool,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try S.tensor("\(name).x")
        let conv = Conv2d(weight: try S.tensor("\(name).weight"), bias: hasBias ? try S.tensor("\(name).bias") : nil,
                          strideH: stride.0, strideW: stride.1, paddingH: padding.0, paddingW: padding.1)
        let gradY = try S.tensor("\(name).grad_y")
        let y = conv.forward(x)
        let gradX = conv.backwardInput(gradY, inputShape: x.shape)
        let grads = conv.parameterGradients(gradY, input: x)
        XCTAssertEqual(grads.bias == nil, !hasBias, file: file, line: line)
        // The longest sums: an output over its window and input channels, an input gradient
        // over the windows and output channels that reach it, a parameter gradient over
        // every output position.
        let window = conv.weight.count / conv.weight.shape[0]
        let (outputChannels, positions) = (conv.weight.shape[0], y.count / conv.weight.shape[0])
        let outputs = [("y", y, window), ("grad_x", gradX, window / x.shape[1] * outputChannels),
                       ("grad_weight", grads.weight, positions)] + (hasBias ? [("grad_bias", grads.bias!, positions)] : [])
        for (what, actual, longest) in outputs {
            let check = try S.check(actual, against: "\(name).\(what)", longestSum: longest)
            print("Conv2d \(name) \(check)")
            XCTAssertTrue(check.passed, "\(name) \(check)", file: file, line: line)
        }
    }

    func testStridedNonSquareKernelMatchesTorch() throws {
        // kernel 3x2, stride (2, 1), padding (1, 2)
        try checkAgainstTorch("conv_strided", stride: (2, 1), padding: (1, 2), hasBias: true)
    }

    func testPointwiseMatchesTorch() throws {
        try checkAgainstTorch("conv_pointwise", stride: (1, 1), padding: (0, 0), hasBias: true)
    }

    func testSmallImagesSharingOneProductMatchTorch() throws {
        // Five 6x5 images: they go through one matrix product side by side.
        try checkAgainstTorch("conv_batched", stride: (1, 1), padding: (1, 1), hasBias: true)
    }

    func testStemWithoutBiasMatchesTorch() throws {
        try checkAgainstTorch("conv_stem", stride: (2, 2), padding: (3, 3), hasBias: false)
    }

    func testFoldedBatchNormMatchesTorchEvalMode() throws {
        let conv = Conv2d(weight: try S.tensor("conv_stem.weight"), bias: nil, stride: 2, padding: 3)
        let folded = conv.foldingBatchNorm(weight: try S.tensor("bn.weight"), bias: try S.tensor("bn.bias"),
                                           runningMean: try S.tensor("bn.running_mean"),
                                           runningVar: try S.tensor("bn.running_var"))
        // Folding rounds the scaled weights once more than torch's conv-then-normalise; that
        // is one more rounding per term, well inside the multiple.
        let check = try S.check(folded.forward(try S.tensor("conv_stem.x")), against: "conv_stem.y_bn",
                                longestSum: conv.weight.count / conv.weight.shape[0])
        print("Conv2d folded BatchNorm: \(check)")
        XCTAssertTrue(check.passed, "\(check)")
        XCTAssertEqual(folded.strideH, 2)
        XCTAssertEqual(folded.paddingW, 3)
    }

    /// A convolution with everything unusual at once: stride 2 and 1, asymmetric padding,
    /// a 3x2 kernel, two images.
    func makeOddConvolution() -> (Conv2d, Tensor) {
        let conv = Conv2d(weight: S.random([4, 3, 3, 2], seed: 1), bias: S.random([4], seed: 2),
                          strideH: 2, strideW: 1, paddingH: 1, paddingW: 2)
        return (conv, S.random([2, 3, 7, 6], seed: 3))
    }

    func testInputGradientMatchesFiniteDifferences() {
        for (conv, x) in [makeOddConvolution(),
                          (Conv2d(weight: S.random([3, 2, 3, 3], seed: 4), bias: nil, stride: 2, padding: 1),
                           S.random([1, 2, 8, 7], seed: 5))] {
            let weights = S.random(conv.outputShape(forInput: x.shape), seed: 6)
            let analytic = conv.backwardInput(weights, inputShape: x.shape)
            let error = S.finiteDifferenceError(at: x, weights: weights, analytic: analytic, step: 1e-2) { conv.forward($0) }
            print("Conv2d input gradient vs finite differences: \(error)")
            // Linear in what is stepped, so central differences carry no truncation error: only the float32
            // rounding of the outputs (u = 6e-8 of each) summed in double over the outputs a step moves and
            // divided by the step; that is some 1e-5 of the gradient's scale, and 1e-4 leaves a factor 10.
            XCTAssertLessThan(error, 1e-4)
        }
    }

    func testParameterGradientsMatchFiniteDifferences() {
        let (conv, x) = makeOddConvolution()
        let weights = S.random(conv.outputShape(forInput: x.shape), seed: 7)
        let grads = conv.parameterGradients(weights, input: x)
        let weightError = S.finiteDifferenceError(at: conv.weight, weights: weights, analytic: grads.weight, step: 1e-2) { w in
            var c = conv
            c.weight = w
            return c.forward(x)
        }
        let biasError = S.finiteDifferenceError(at: conv.bias!, weights: weights, analytic: grads.bias!, step: 1e-2) { b in
            var c = conv
            c.bias = b
            return c.forward(x)
        }
        print("Conv2d weight gradient vs finite differences: \(weightError), bias: \(biasError)")
        // Linear in what is stepped, so central differences carry no truncation error: only the float32
        // rounding of the outputs (u = 6e-8 of each) summed in double over the outputs a step moves and
        // divided by the step; that is some 1e-5 of the gradient's scale, and 1e-4 leaves a factor 10.
        XCTAssertLessThan(weightError, 1e-4)
        XCTAssertLessThan(biasError, 1e-4)
    }

    /// Checks `conv` on `x`, and its input gradient for an upstream gradient r, against the
    /// definitions summed at sampled elements, exactly and as literal float32 sums
    /// (`LiteralSum`): ours may be `ParityBound.referenceMultiple` times as far from the exact
    /// sum as the literal float32 sum is.
    func checkAgainstDirectSums(_ conv: Conv2d, _ x: Tensor, line: UInt = #line) {
        let y = conv.forward(x)
        let (cin, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let (cout, oh, ow) = (y.shape[1], y.shape[2], y.shape[3])
        let (kh, kw) = (conv.kernelHeight, conv.kernelWidth)
        func weight(_ o: Int, _ c: Int, _ ky: Int, _ kx: Int) -> Float { conv.weight.scalars[((o * cin + c) * kh + ky) * kw + kx] }
        var forward = SampledParity("forward")
        var state: UInt64 = 7
        func draw(_ count: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % count
        }
        for _ in 0..<400 {
            let index = draw(y.count)
            let (n, rest) = index.quotientAndRemainder(dividingBy: cout * oh * ow)
            let (o, position) = rest.quotientAndRemainder(dividingBy: oh * ow)
            let (oy, ox) = position.quotientAndRemainder(dividingBy: ow)
            var sum = LiteralSum()
            for c in 0..<cin {
                for ky in 0..<kh {
                    for kx in 0..<kw {
                        let iy = oy * conv.strideH + ky - conv.paddingH, ix = ox * conv.strideW + kx - conv.paddingW
                        guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                        sum.add(weight(o, c, ky, kx), x.scalars[((n * cin + c) * h + iy) * w + ix])
                    }
                }
            }
            if let bias = conv.bias { sum.add(bias.scalars[o]) }
            forward.record(ours: y.scalars[index], sum)
        }
        // dL/dx[n, c, iy, ix] = sum over the outputs whose window covers (iy, ix) of w * r.
        let r = S.random(y.shape, seed: 44)
        let gradX = conv.backwardInput(r, inputShape: x.shape)
        var backward = SampledParity("input gradient")
        for _ in 0..<400 {
            let index = draw(x.count)
            let (n, rest) = index.quotientAndRemainder(dividingBy: cin * h * w)
            let (c, position) = rest.quotientAndRemainder(dividingBy: h * w)
            let (iy, ix) = position.quotientAndRemainder(dividingBy: w)
            var sum = LiteralSum()
            for o in 0..<cout {
                for ky in 0..<kh {
                    for kx in 0..<kw {
                        let (sy, sx) = (iy + conv.paddingH - ky, ix + conv.paddingW - kx)
                        guard sy >= 0, sx >= 0, sy % conv.strideH == 0, sx % conv.strideW == 0 else { continue }
                        let (oy, ox) = (sy / conv.strideH, sx / conv.strideW)
                        guard oy < oh, ox < ow else { continue }
                        sum.add(weight(o, c, ky, kx), r.scalars[((n * cout + o) * oh + oy) * ow + ox])
                    }
                }
            }
            backward.record(ours: gradX.scalars[index], sum)
        }
        for check in [forward.check, backward.check] {
            print("Conv2d \(x.shape) -> \(y.shape) \(check)")
            XCTAssertTrue(check.passed, "\(check)", line: line)
        }
    }

    /// Large images go through bands of output rows on each core; stride 4 takes its own
    /// vector path in im2col.
    func testLargeImagesInBandsMatchDirectSums() {
        checkAgainstDirectSums(Conv2d(weight: S.random([5, 32, 3, 2], seed: 41), bias: S.random([5], seed: 42),
                                      strideH: 2, strideW: 1, paddingH: 1, paddingW: 1),
                               S.random([2, 32, 100, 33], seed: 43))
        checkAgainstDirectSums(Conv2d(weight: S.random([4, 3, 5, 5], seed: 45), bias: S.random([4], seed: 46),
                                      stride: 4, padding: 2),
                               S.random([1, 3, 41, 70], seed: 47))
        // Stride 1: the input gradient is computed as a convolution itself.
        checkAgainstDirectSums(Conv2d(weight: S.random([6, 16, 3, 3], seed: 48), bias: nil, stride: 1, padding: 1),
                               S.random([1, 16, 64, 40], seed: 49))
    }

    func testBadShapesAreInputErrors() {
        let conv = Conv2d(weight: S.random([4, 3, 3, 3], seed: 8), bias: nil, stride: 1, padding: 0)
        XCTAssertThrowsError(try conv.validate(inputShape: [1, 2, 8, 8], name: "query image")) { error in
            XCTAssertTrue((error as? InputError)?.message.hasPrefix("query image: expected 3 input channels") == true, "\(error)")
        }
        XCTAssertThrowsError(try conv.validate(inputShape: [1, 3, 2, 8], name: "x"))
        XCTAssertThrowsError(try conv.validate(inputShape: [3, 8, 8], name: "x"))
        XCTAssertNoThrow(try conv.validate(inputShape: [1, 3, 3, 3], name: "x"))
        XCTAssertThrowsError(try Conv2d.validate(weight: S.random([4, 3, 3], seed: 9), bias: nil, name: "ckpt: conv1"))
        XCTAssertThrowsError(try Conv2d.validate(weight: S.random([4, 3, 3, 3], seed: 9), bias: S.random([3], seed: 1),
                                                 name: "ckpt: conv1")) { error in
            XCTAssertTrue((error as? InputError)?.message.hasPrefix("ckpt: conv1: bias must be [4]") == true, "\(error)")
        }
    }
}
