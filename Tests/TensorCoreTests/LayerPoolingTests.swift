import ReferenceParity
import TensorCore
import XCTest

/// Max pooling and ReLU, the two layers without parameters.
final class LayerPoolingTests: XCTestCase {
    typealias S = LayerTestSupport

    func testMaxPoolMatchesTorch() throws {
        let x = try S.tensor("maxpool.x")
        let pool = MaxPool2d(kernelSize: 3, stride: 2, padding: 1)
        let y = pool.forward(x)
        XCTAssertEqual(y.shape, [2, 3, 5, 5])
        XCTAssertEqual(relativeMaxError(y, try S.tensor("maxpool.y")), 0)
        // The gradient routes each upstream value to its window's maximum, summing where
        // windows overlap: a few float32 additions.
        let check = try S.check(pool.backward(try S.tensor("maxpool.grad_y"), input: x), against: "maxpool.grad_x")
        print("MaxPool2d \(check)")
        XCTAssertTrue(check.passed, "\(check)")
    }

    func testReLUForwardAndBackward() {
        let x = Tensor(shape: [1, 1, 2, 3], scalars: [-2, -0.5, 0, 0.5, 3, -1])
        let y = ReLU.forward(x)
        XCTAssertEqual(y.scalars, [0, 0, 0, 0.5, 3, 0])
        let grad = ReLU.backward(Tensor(shape: [1, 1, 2, 3], scalars: [1, 2, 3, 4, 5, 6]), output: y)
        XCTAssertEqual(grad.scalars, [0, 0, 0, 4, 5, 0])
        var z = x
        ReLU.apply(to: &z)
        XCTAssertEqual(z, y)
        // Large enough to be split over the workers.
        let big = S.random([3, 50_000], seed: 31)
        let rectified = ReLU.forward(big)
        XCTAssertEqual(rectified.scalars, big.scalars.map { max($0, 0) })
    }
}
