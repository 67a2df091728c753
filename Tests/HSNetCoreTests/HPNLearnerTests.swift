import HSNetCore
import ReferenceParity
import TensorCore
import XCTest

/// The learner's gradients for its pyramids against torch's autograd.
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

    /// The gradients for all three pyramids (what plug-ins on layers 3 and 2, or PATNet's
    /// reference layers, train through), from the tape of the plain training forward and from
    /// the fine-tuning forward that squeezes the changing pyramids only.
    func testEveryPyramidGradientMatchesAutograd() throws {
        let inputs = try ReferenceFixture(HSNetFixtures.url("hsnet/learner_backward.safetensors")).float32.tensors
        let fixture = try ReferenceFixture(HSNetFixtures.url("hsnet/learner_pyramid_gradients.safetensors"))
        let learner = HSNetFixtures.model.learner
        let pyramids = [4: try XCTUnwrap(inputs["corr_l4"]), 3: try XCTUnwrap(inputs["corr_l3"]), 2: try XCTUnwrap(inputs["corr_l2"])]
        let upstream = try XCTUnwrap(inputs["w"])
        let (_, tape) = try learner.forwardForTraining(pyramids: [pyramids[4]!, pyramids[3]!, pyramids[2]!])
        let all = learner.backwardToPyramids(upstream, tape: tape)
        XCTAssertEqual(Set(all.keys), [2, 3, 4])
        // The longest sums on the way back: the decoder's and the blocks' 3 x 3 convolutions
        // over 128 channels.
        let longest = 128 * 9
        var report = "learner pyramid gradients:"
        for layer in [4, 3, 2] {
            let check = try fixture.output("grad_corr_l\(layer)").check(try XCTUnwrap(all[layer]), longestSum: longest)
            XCTAssertTrue(check.passed, "\(check)")
            report += " \(check);"
        }
        print(report)
        // Squeezing only the pyramids that change, the others given squeezed: the same gradients,
        // for any choice of changing layers (the same operations on the same numbers).
        for changing in [[3], [2], [3, 4], [2, 3, 4]] as [[Int]] {
            var given: [Int: Tensor] = [:]
            for layer in [2, 3, 4] where !changing.contains(layer) {
                given[layer] = learner.squeezingBlock(forLayer: layer).forward(pyramids[layer]!)
            }
            let (_, partial) = try learner.forwardForTraining(pyramids: pyramids.filter { changing.contains($0.key) }, squeezed: given)
            let gradients = learner.backwardToPyramids(upstream, tape: partial)
            XCTAssertEqual(Set(gradients.keys), Set(changing))
            for layer in changing { XCTAssertEqual(gradients[layer], all[layer], "layer \(layer) of \(changing)") }
        }
        // Asking for the layer-4 gradient alone, or for layer 2 alone, gives those same numbers.
        XCTAssertEqual(learner.backwardToLayer4Pyramid(upstream, tape: tape), all[4])
        XCTAssertEqual(learner.backwardToPyramids(upstream, tape: tape, layers: [2]), [2: all[2]!])
    }
}
