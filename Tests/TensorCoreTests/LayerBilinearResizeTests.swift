import ReferenceParity
import TensorCore
import XCTest

final class LayerBilinearResizeTests: XCTestCase {
    typealias S = LayerTestSupport

    func checkAgainstTorch(_ name: String, heightAxis: Int? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try S.tensor("\(name).x")
        let expected = try S.tensor("\(name).y")
        let axis = heightAxis ?? expected.rank - 2
        let resize = BilinearResize(outputHeight: expected.shape[axis], outputWidth: expected.shape[axis + 1])
        let gradX = resize.backward(try S.tensor("\(name).grad_y"), inputShape: x.shape, heightAxis: heightAxis)
        for check in [try S.check(resize.forward(x, heightAxis: heightAxis), against: "\(name).y"),
                      try S.check(gradX, against: "\(name).grad_x")] {
            print("BilinearResize \(name) \(check)")
            XCTAssertTrue(check.passed, "\(name) \(check)", file: file, line: line)
        }
    }

    func testUpMatchesTorch() throws { try checkAgainstTorch("resize_up") }            // 5x7 -> 11x13
    func testDownMatchesTorch() throws { try checkAgainstTorch("resize_down") }        // 9x10 -> 4x3
    func testMixedMatchesTorch() throws { try checkAgainstTorch("resize_mixed") }      // 6x4 -> 3x9
    func testSingleRowMatchesTorch() throws { try checkAgainstTorch("resize_to_one") } // 5x5 -> 1x3
    func testLearnerSizeMatchesTorch() throws { try checkAgainstTorch("resize_large") } // 13x13 -> 50x50

    func testQueryAxesOfCorrelationMatchTorch() throws {
        // [1, 2, 5, 4, 3, 2] -> [1, 2, 9, 7, 3, 2], as the learner resizes its 4-D tensors.
        try checkAgainstTorch("resize_6d", heightAxis: 2)
    }

    func testBackwardIsTheAdjointByFiniteDifferences() {
        for (shape, size, axis) in [([2, 2, 4, 5], (7, 3), nil as Int?), ([1, 2, 6, 5, 2, 3], (3, 8), 2)] {
            let x = S.random(shape, seed: 21)
            let resize = BilinearResize(outputHeight: size.0, outputWidth: size.1)
            let weights = S.random(resize.outputShape(forInput: shape, heightAxis: axis), seed: 22)
            let analytic = resize.backward(weights, inputShape: shape, heightAxis: axis)
            let error = S.finiteDifferenceError(at: x, weights: weights, analytic: analytic, step: 1e-2) {
                resize.forward($0, heightAxis: axis)
            }
            print("BilinearResize \(shape) -> \(size) vs finite differences: \(error)")
            // Linear in what is stepped, so central differences carry no truncation error: only the float32
            // rounding of the outputs (u = 6e-8 of each) summed in double over the outputs a step moves and
            // divided by the step; that is some 1e-5 of the gradient's scale, and 1e-4 leaves a factor 10.
            XCTAssertLessThan(error, 1e-4)
        }
    }
}
