import Finetune
import Foundation
import HSNetCore
import TensorCore
import XCTest

/// Three Adam steps (lr 1e-3, betas 0.9/0.999, eps 1e-8) on the reference episode against the
/// trajectory torch records: the loss before each step and the masker parameters after the third.
final class AdamTrajectoryTests: XCTestCase {
    func testThreeAdamStepsFollowTheReferenceTrajectory() throws {
        let model = FinetuneFixtures.model
        model.plugins.removeAll()
        _ = try XCTUnwrap(try model.installCheckpointMaskers(imageSize: 400), "checkpoint holds apm/acpa")
        defer { model.plugins.removeAll() }
        let expected = try FinetuneFixtures.tensors("hsnet/hsnet_apm_episode_adam.safetensors")

        let start = Date()
        let episode = try model.prepareMaskerEpisode(
            query: FinetuneFixtures.image("query"), support: FinetuneFixtures.image("support"),
            supportMask: FinetuneFixtures.mask("support_mask"), queryMask: FinetuneFixtures.mask("query_mask"))
        let before = try model.maskerParameters()
        var adam = try Adam()
        var losses: [Float] = []
        var updateSeconds = 0.0
        for step in 0..<3 {
            let (loss, gradients) = try model.maskerLossAndGradients(episode)
            losses.append(loss)
            let updateStart = Date()
            try model.applyMaskerStep(&adam, gradients: gradients, learningRate: LearningRateSchedule.constant(1e-3).rate(atStep: step))
            updateSeconds += Date().timeIntervalSince(updateStart)
        }
        XCTAssertEqual(adam.stepCount, 3)
        let after = try model.maskerParameters()
        var report = "adam trajectory (\(String(format: "%.1f", Date().timeIntervalSince(start))) s, optimiser updates \(String(format: "%.1f", updateSeconds * 1000 / 3)) ms each):"

        let expectedLosses = try XCTUnwrap(expected["adam_losses"]).scalars
        XCTAssertEqual(expectedLosses.count, 3)
        for (ours, reference) in zip(losses, expectedLosses) {
            let error = abs(Double(ours) - Double(reference)) / abs(Double(reference))
            XCTAssertLessThan(error, 1e-4, "loss \(ours), reference \(reference)")
            report += " loss \(ours) (rel \(String(format: "%.2e", error)))"
        }

        let names = ["apm.mask_amplitude", "apm.mask_phase", "acpa.phase_attn.0.weight", "acpa.phase_attn.2.weight"]
        XCTAssertEqual(Set(after.keys), Set(names))
        for name in names {
            let ours = try XCTUnwrap(after[name], name)
            let reference = try XCTUnwrap(expected["adam3." + name], name)
            let start = try XCTUnwrap(before[name], name)
            XCTAssertEqual(ours.shape, reference.shape, name)
            guard ours.shape == reference.shape else { continue }
            // The parameters themselves, max |a - e| / max |e|. They move by at most 3 lr = 3e-3
            // from det-fill values (max |e| about 2 for the masks, 0.05 to 0.9 for the attention
            // weights); one element whose update took the other sign (2e-3 per step) would
            // exceed 2e-4 in every tensor. Measured up to 5.5e-5.
            let valueError = relativeMaxError(ours, reference)
            XCTAssertLessThan(valueError, 2e-4, name)
            // The displacements as vectors. The parameters barely move, so their own error says
            // little; the displacement is what the gradients decide. Adam normalises each
            // element's update by its own gradient scale, so a gradient that is off by the
            // README's 5e-3 (relative, as a vector) moves the update by at most about as much
            // where |grad| >> eps; the bound is that same 5e-3.
            let ourStep = Tensor(shape: ours.shape, scalars: zip(ours.scalars, start.scalars).map { $0 - $1 })
            let referenceStep = Tensor(shape: ours.shape, scalars: zip(reference.scalars, start.scalars).map { $0 - $1 })
            let stepError = relativeNormError(ourStep, referenceStep)
            XCTAssertLessThan(stepError, 5e-3, name)
            let size = referenceStep.scalars.map { abs($0) }.max() ?? 0
            report += ", \(name) value \(String(format: "%.2e", valueError)) step \(String(format: "%.2e", stepError)) (max |step| \(size))"
        }
        print(report)
    }
}
