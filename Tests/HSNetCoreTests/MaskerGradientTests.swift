import Foundation
import FreqMask
import HSNetCore
import ReferenceParity
import TensorCore
import XCTest

/// The loss and masker-parameter gradients of the reference 1-shot episode (det-fill HSNet with
/// APM-M and ACPA on layer 4, backbone and learner frozen) against torch's autograd in float64.
/// The gradients are tiny (the loss is a mean over 160,000 pixels) and summed over millions of
/// correlation entries, so they are compared as vectors (relative norm), each within
/// `ParityBound.multiple(longestSum:)` times the published code's own float32 error on it.
final class MaskerGradientTests: XCTestCase {
    /// The loss is a mean over 400 x 400 pixels.
    static let lossTerms = 400 * 400
    /// The longest single sum on the gradients' path, forward and backward: the 3 x 3
    /// convolutions of ResNet-50's layer 4, 512 channels x 9 taps.
    static let longestSum = 512 * 9

    func testEpisodeLossAndMaskerGradientsMatchAutograd() throws {
        let model = HSNetFixtures.model
        model.plugins.removeAll()
        _ = try XCTUnwrap(try model.installCheckpointMaskers(imageSize: 400), "checkpoint holds apm/acpa")
        defer { model.plugins.removeAll() }
        let expected = try ReferenceFixture(HSNetFixtures.url("hsnet/hsnet_apm_episode_gradients.safetensors"))

        let start = Date()
        let (loss, gradients) = try model.maskerLossAndGradients(
            query: HSNetFixtures.image("query"), support: HSNetFixtures.image("support"),
            supportMask: HSNetFixtures.mask("support_mask"), queryMask: HSNetFixtures.mask("query_mask"))
        let seconds = Date().timeIntervalSince(start)
        // The same step on a prepared episode (what a fine-tuning loop repeats) gives the same numbers.
        let episode = try model.prepareMaskerEpisode(
            query: HSNetFixtures.image("query"), support: HSNetFixtures.image("support"),
            supportMask: HSNetFixtures.mask("support_mask"), queryMask: HSNetFixtures.mask("query_mask"))
        let stepStart = Date()
        let step = try model.maskerLossAndGradients(episode)
        let stepSeconds = Date().timeIntervalSince(stepStart)
        XCTAssertEqual(step.loss, loss)
        for (name, value) in gradients {
            // The same arithmetic on the same cached intermediates: equal.
            XCTAssertEqual(try XCTUnwrap(step.gradients[name]), value, name)
        }

        let lossCheck = try expected.output("loss").check(Tensor(shape: [1], scalars: [loss]), longestSum: Self.lossTerms)
        XCTAssertTrue(lossCheck.passed, "\(lossCheck)")

        let names = ["apm.mask_amplitude", "apm.mask_phase", "acpa.phase_attn.0.weight", "acpa.phase_attn.2.weight"]
        XCTAssertEqual(Set(gradients.keys), Set(names))
        var report = "masker gradients (whole step \(String(format: "%.2f", seconds)) s, prepared step \(String(format: "%.2f", stepSeconds)) s): \(lossCheck)"
        for name in names {
            let ours = try XCTUnwrap(gradients[name], name)
            let reference = try expected.output("grad." + name)
            XCTAssertEqual(ours.shape, reference.shape, name)
            guard ours.shape == reference.shape else { continue }
            let check = reference.check(ours, metric: .normRelative, longestSum: Self.longestSum)
            XCTAssertTrue(check.passed, "\(check)")
            report += "; \(check)"
        }
        print(report)
    }

    func testCrossEntropyMatchesDefinition() {
        // Two pixels: target 1 with logits (0, 2), target 0 with logits (1, -1).
        let logits = Tensor(shape: [1, 2, 1, 2], scalars: [0, 1, 2, -1])
        let target = Tensor(shape: [1, 2], scalars: [1, 0])
        let (loss, gradient) = HSNet.crossEntropy(logits: logits, target: target)
        let l0 = log(1 + exp(-2.0)), l1 = log(1 + exp(-2.0))
        // A float32 log-sum-exp of values of order 1: a few roundings, u = 6e-8 each.
        XCTAssertEqual(Double(loss), (l0 + l1) / 2, accuracy: 1e-6)
        let p = 1 / (1 + exp(-2.0)) // the probability of the right class at both pixels
        let expected: [Double] = [(1 - p) / 2, -(1 - p) / 2, -(1 - p) / 2, (1 - p) / 2]
        for (a, b) in zip(gradient.scalars, expected) { XCTAssertEqual(Double(a), b, accuracy: 1e-6) }
    }
}
