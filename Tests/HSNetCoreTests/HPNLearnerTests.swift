import HSNetCore
import ReferenceParity
import TensorCore
import XCTest

/// The learner's gradient for the layer-4 pyramid against torch's autograd.
final class HPNLearnerBackwardTests: XCTestCase {
    func testLayer4PyramidGradientMatchesAutograd() throws {
        let fixture = try ReferenceFixture(HSNetFixtures.url("hsnet/learner_backward.safetensors"))
        let f = fixture.float32.tensors
        let learner = HSNetFixtures.model.learner
        let squeezed3 = learner.squeezingBlock(forLayer: 3).forward(try XCTUnwrap(f["corr_l3"]))
        let squeezed2 = learner.squeezingBlock(forLayer: 2).forward(try XCTUnwrap(f["corr_l2"]))
        let (logits, tape) = try learner.forwardForTraining(layer4Pyramid: try XCTUnwrap(f["corr_l4"]),
                                                            squeezed3: squeezed3, squeezed2: squeezed2)
        XCTAssertEqual(logits.shape, [1, 2, 24, 24])
        // The longest sums: the decoder's 3 x 3 convolutions over 128 channels.
        let longest = 128 * 9
        let logitCheck = try fixture.output("logits").check(logits, longestSum: longest)
        XCTAssertTrue(logitCheck.passed, "\(logitCheck)")
        // The plain forward gives the same logits.
        let plain = try learner([try XCTUnwrap(f["corr_l4"]), try XCTUnwrap(f["corr_l3"]), try XCTUnwrap(f["corr_l2"])])
        XCTAssertEqual(plain, logits)

        let grad = learner.backwardToLayer4Pyramid(try XCTUnwrap(f["w"]), tape: tape)
        let gradCheck = try fixture.output("grad_corr_l4").check(grad, longestSum: longest)
        XCTAssertTrue(gradCheck.passed, "\(gradCheck)")
        print("learner backward: \(logitCheck); \(gradCheck)")
    }
}
