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
        let errors = [
            ("y", relativeMaxError(y, try S.tensor("\(name).y"))),
            ("grad_x", relativeMaxError(gradX, try S.tensor("\(name).grad_x"))),
            ("grad_weight", relativeMaxError(grads.weight, try S.tensor("\(name).grad_weight"))),
        ] + (hasBias ? [("grad_bias", relativeMaxError(grads.bias!, try S.tensor("\(name).grad_bias")))] : [])
        XCTAssertEqual(grads.bias == nil, !hasBias, file: file, line: line)
        for (what, error) in errors {
            print("Conv2d \(name) \(what): relative max error \(error)")
            XCTAssertLessThan(error, 1e-5, "\(name) \(what)", file: file, line: line)
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
        let error = relativeMaxError(folded.forward(try S.tensor("conv_stem.x")), try S.tensor("conv_stem.y_bn"))
        print("Conv2d folded BatchNorm: relative max error \(error)")
        XCTAssertLessThan(error, 1e-5)
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
        XCTAssertLessThan(weightError, 1e-4)
        XCTAssertLessThan(biasError, 1e-4)
    }

    /// Checks `conv` on `x` against direct sums at sampled outputs, and its input gradient
    /// through the adjoint identity <conv(x) - bias, r> = <x, conv^T r>.
    func checkAgainstDirectSums(_ conv: Conv2d, _ x: Tensor, line: UInt = #line) {
        let y = conv.forward(x)
        let (cin, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let (cout, oh, ow) = (y.shape[1], y.shape[2], y.shape[3])
        let (kh, kw) = (conv.kernelHeight, conv.kernelWidth)
        var maxDiff = 0.0
        var maxValue = 0.0
        var state: UInt64 = 7
        for _ in 0..<400 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let index = Int(state >> 33) % y.count
            let (n, rest) = index.quotientAndRemainder(dividingBy: cout * oh * ow)
            let (o, position) = rest.quotientAndRemainder(dividingBy: oh * ow)
            let (oy, ox) = position.quotientAndRemainder(dividingBy: ow)
            var total = Double(conv.bias?.scalars[o] ?? 0)
            for c in 0..<cin {
                for ky in 0..<kh {
                    for kx in 0..<kw {
                        let iy = oy * conv.strideH + ky - conv.paddingH, ix = ox * conv.strideW + kx - conv.paddingW
                        guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                        total += Double(conv.weight.scalars[((o * cin + c) * kh + ky) * kw + kx])
                            * Double(x.scalars[((n * cin + c) * h + iy) * w + ix])
                    }
                }
            }
            maxDiff = max(maxDiff, abs(total - Double(y.scalars[index])))
            maxValue = max(maxValue, abs(total))
        }
        var unbiased = conv
        unbiased.bias = nil
        let r = S.random(y.shape, seed: 44)
        let lhs = S.dot(unbiased.forward(x), r)
        let rhs = S.dot(x, conv.backwardInput(r, inputShape: x.shape))
        print("Conv2d \(x.shape) -> \(y.shape) vs direct sums: \(maxDiff / maxValue), adjoint: \(abs(lhs - rhs) / abs(rhs))")
        XCTAssertLessThan(maxDiff / maxValue, 1e-5, line: line)
        XCTAssertLessThan(abs(lhs - rhs) / abs(rhs), 1e-5, line: line)
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
