import Foundation
import HSNetCore
import ReferenceParity
import TensorCore
import XCTest

/// One training step of the whole HPN learner (every weight gradient) against the published
/// code's autograd, and against finite differences of our own loss.
final class LearnerTrainingStepTests: XCTestCase {
    static let names = HPNLearner.parameterShapes(backbone: .resnet50).map { HSNet.learnerPrefix + $0.name }

    func testEveryLearnerWeightGradientMatchesAutograd() throws {
        let fixture = try ReferenceFixture(HSNetFixtures.url("hsnet/learner_step.safetensors"))
        let pyramids = try ["corr_l4", "corr_l3", "corr_l2"].map { try fixture.tensor($0) }
        let masks = try fixture.tensor("query_mask")
        let model = HSNetFixtures.model

        // The longest sum anywhere in the step: a weight gradient of the first layer-2
        // squeezing convolution sums over every position of the batch's layer-2 pyramid
        // (2 x 12^4 terms); every other reduction (decoder convolutions, 96 x 96 loss, the
        // resizes' adjoints) is shorter. sqrt of it is the multiple (ParityBound).
        let longest = 2 * 12 * 12 * 12 * 12
        let (decoderLogits, _) = try model.learner.forwardForTraining(pyramids: pyramids)
        let logitCheck = try fixture.output("logits_decoder").check(decoderLogits, longestSum: longest)
        XCTAssertTrue(logitCheck.passed, "\(logitCheck)")

        let (loss, gradients) = try model.learnerLossAndGradients(pyramids: pyramids, queryMasks: masks)
        let lossCheck = try fixture.output("loss").check(Tensor(shape: [1], scalars: [loss]), longestSum: longest)
        XCTAssertTrue(lossCheck.passed, "\(lossCheck)")
        XCTAssertEqual(Set(gradients.keys), Set(Self.names))

        var worst: ParityCheck?
        for name in Self.names {
            let ours = try XCTUnwrap(gradients[name], name)
            var checks: [ParityCheck] = []
            if fixture.float32.tensors["grad." + name] != nil {
                checks.append(try fixture.output("grad." + name).check(ours, metric: .normRelative, longestSum: longest))
            } else {
                // Rows 0, C/4, C/2 and 3C/4 of the output axis: one channel of each GroupNorm group.
                let c = ours.shape[0], row = ours.count / c
                let rows = [0, c / 4, c / 2, 3 * c / 4].flatMap { Array(ours.scalars[$0 * row..<($0 + 1) * row]) }
                let sampled = Tensor(shape: [4] + Array(ours.shape.dropFirst()), scalars: rows)
                checks.append(try fixture.output("grad_rows." + name).check(sampled, metric: .normRelative, longestSum: longest))
            }
            let norm = Float(ours.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
            checks.append(try fixture.output("grad_norm." + name).check(Tensor(shape: [1], scalars: [norm]), longestSum: longest))
            for check in checks {
                XCTAssertTrue(check.passed, "\(name): \(check)")
                // The ceiling for a whole learner step, far above the derived bound.
                XCTAssertLessThan(check.error, 5e-3, name)
                if worst.map({ check.error > $0.error }) ?? true { worst = check }
            }
        }
        print("learner step: \(logitCheck); \(lossCheck); worst weight gradient \(worst!)")
    }

    /// The loss along a direction in one group of weights against the gradient: central
    /// differences on a 96 x 96 episode with random pyramids, one direction per block.
    func testWeightGradientsMatchFiniteDifferences() throws {
        var generator = SeededGenerator(seed: 11)
        func pyramid(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in max(0, generator.uniform(-0.25, 1)) })
        }
        let pyramids = [pyramid([1, 3, 3, 3, 3, 3]), pyramid([1, 6, 6, 6, 6, 6]), pyramid([1, 4, 12, 12, 12, 12])]
        let mask = Tensor(shape: [1, 96, 96], scalars: (0..<96 * 96).map { i in
            let (y, x) = (i / 96, i % 96)
            return (y - 40) * (y - 40) + (x - 52) * (x - 52) < 600 ? 1 : 0
        })
        let base = HSNetFixtures.model.learner.namedParameters
        func loss(_ parameters: [(name: String, tensor: Tensor)]) throws -> Double {
            let model = HSNet(backbone: HSNetFixtures.model.backbone,
                              learner: try HPNLearner(stateDict: parameters, prefix: ""))
            return Double(try model.learnerLossAndGradients(pyramids: pyramids, queryMasks: mask).loss)
        }
        let (_, gradients) = try HSNetFixtures.model.learnerLossAndGradients(pyramids: pyramids, queryMasks: mask)
        try assertLearnerGradientsMatchFiniteDifferences(
            parameters: base, gradients: gradients,
            groups: ["encoder_layer4.", "encoder_layer3.", "encoder_layer2.", "encoder_layer4to3.", "encoder_layer3to2.",
                     "decoder1.", "decoder2."], loss: loss)
    }
}
