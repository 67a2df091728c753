import ReferenceParity
import TensorCore
import XCTest

final class LayerGroupNormTests: XCTestCase {
    typealias S = LayerTestSupport

    func checkAgainstTorch(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try S.tensor("\(name).x")
        let norm = GroupNorm(groupCount: 4, weight: try S.tensor("\(name).weight"), bias: try S.tensor("\(name).bias"))
        let gradY = try S.tensor("\(name).grad_y")
        let grads = norm.parameterGradients(gradY, input: x)
        var inPlace = x
        norm.apply(to: &inPlace)
        for (what, actual) in [("y", norm.forward(x)), ("y", inPlace), ("grad_x", norm.backwardInput(gradY, input: x)),
                               ("grad_weight", grads.weight), ("grad_bias", grads.bias)] {
            // The longest sums: the mean and variance over one group of one sample, and the
            // parameter gradients over every element of a channel; neither exceeds a quarter
            // of the tensor.
            let check = try S.check(actual, against: "\(name).\(what)", longestSum: x.count / 4)
            print("GroupNorm \(name) \(check)")
            XCTAssertTrue(check.passed, "\(name) \(check)", file: file, line: line)
        }
    }

    func testFourDimensionalMatchesTorch() throws {
        try checkAgainstTorch("gn_4d")
    }

    func testSixDimensionalWithOffsetMeanMatchesTorch() throws {
        // [1, 8, 3, 4, 3, 2] with mean 3: the learner's correlation tensors, and a mean that
        // is large next to the spread.
        try checkAgainstTorch("gn_6d")
    }

    func testGradientsMatchFiniteDifferences() {
        let x = S.random([2, 6, 3, 4], seed: 11, scale: 2)
        let norm = GroupNorm(groupCount: 3, weight: S.random([6], seed: 12), bias: S.random([6], seed: 13))
        let weights = S.random(x.shape, seed: 14)
        // Nonlinear in x: a step of 1e-2 leaves a truncation error of order 1e-4 relative.
        let inputError = S.finiteDifferenceError(at: x, weights: weights, analytic: norm.backwardInput(weights, input: x),
                                                 step: 1e-2) { norm.forward($0) }
        let grads = norm.parameterGradients(weights, input: x)
        let weightError = S.finiteDifferenceError(at: norm.weight, weights: weights, analytic: grads.weight, step: 1e-2) { w in
            var n = norm
            n.weight = w
            return n.forward(x)
        }
        let biasError = S.finiteDifferenceError(at: norm.bias, weights: weights, analytic: grads.bias, step: 1e-2) { b in
            var n = norm
            n.bias = b
            return n.forward(x)
        }
        print("GroupNorm vs finite differences: input \(inputError), weight \(weightError), bias \(biasError)")
        // The input step meets the truncation error above (1e-4), so 10 times that.
        XCTAssertLessThan(inputError, 1e-3)
        // Linear in what is stepped, so central differences carry no truncation error: only the float32
        // rounding of the outputs (u = 6e-8 of each) summed in double over the outputs a step moves and
        // divided by the step; that is some 1e-5 of the gradient's scale, and 1e-4 leaves a factor 10.
        XCTAssertLessThan(weightError, 1e-4)
        XCTAssertLessThan(biasError, 1e-4)
    }

    func testBadParametersAreInputErrors() {
        XCTAssertThrowsError(try GroupNorm.validate(groupCount: 4, weight: S.random([6], seed: 1),
                                                    bias: S.random([6], seed: 2), name: "ckpt: gn")) { error in
            XCTAssertEqual((error as? InputError)?.message, "ckpt: gn: 6 channels cannot be split into 4 groups")
        }
        XCTAssertThrowsError(try GroupNorm.validate(groupCount: 2, weight: S.random([6], seed: 1),
                                                    bias: S.random([4], seed: 2), name: "ckpt: gn"))
        XCTAssertNoThrow(try GroupNorm.validate(groupCount: 2, weight: S.random([6], seed: 1),
                                                bias: S.random([6], seed: 2), name: "ckpt: gn"))
    }
}
