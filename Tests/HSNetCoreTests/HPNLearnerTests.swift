import HSNetCore
import TensorCore
import XCTest

/// The learner's gradient for the layer-4 pyramid against torch's autograd.
final class HPNLearnerBackwardTests: XCTestCase {
    func testLayer4PyramidGradientMatchesAutograd() throws {
        let f = try HSNetFixtures.tensors("hsnet/learner_backward.safetensors")
        let learner = HSNetFixtures.model.learner
        let squeezed3 = learner.squeezingBlock(forLayer: 3).forward(try XCTUnwrap(f["corr_l3"]))
        let squeezed2 = learner.squeezingBlock(forLayer: 2).forward(try XCTUnwrap(f["corr_l2"]))
        let (logits, tape) = try learner.forwardForTraining(layer4Pyramid: try XCTUnwrap(f["corr_l4"]),
                                                            squeezed3: squeezed3, squeezed2: squeezed2)
        let expectedLogits = try XCTUnwrap(f["logits"])
        XCTAssertEqual(logits.shape, [1, 2, 24, 24])
        let logitError = relativeMaxError(logits, expectedLogits)
        XCTAssertLessThan(logitError, 1e-5)
        // The plain forward gives the same logits.
        let plain = try learner([try XCTUnwrap(f["corr_l4"]), try XCTUnwrap(f["corr_l3"]), try XCTUnwrap(f["corr_l2"])])
        XCTAssertEqual(plain, logits)

        let grad = learner.backwardToLayer4Pyramid(try XCTUnwrap(f["w"]), tape: tape)
        let gradError = relativeMaxError(grad, try XCTUnwrap(f["grad_corr_l4"]))
        XCTAssertLessThan(gradError, 1e-5)
        print("learner backward: logits \(logitError), grad corr_l4 \(gradError)")
    }
}
