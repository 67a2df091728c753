import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import HSNetCore
import ReferenceParity
import TensorCore
import XCTest

/// Adam on the reference episode, with the optimizer's arithmetic and the gradients tested
/// apart. Adam divides each gradient element by its own running scale, so an element whose
/// gradient is tiny moves by about lr whatever its size, in the direction of its sign: where
/// float32 reordering flips the sign of a near-zero gradient element, two exact
/// implementations part by 2 lr on that element. Parameters after Adam steps therefore say
/// nothing about gradient parity; the gradients are tested as gradients in
/// `MaskerGradientTests`, and here the update itself.
final class AdamTrajectoryTests: XCTestCase {
    static let names = ["apm.mask_amplitude", "apm.mask_phase", "acpa.phase_attn.0.weight", "acpa.phase_attn.2.weight"]

    /// The published code's gradients of three Adam steps (lr 1e-3, betas 0.9/0.999, eps 1e-8)
    /// fed to our Adam give torch's parameters after every step, to float32 rounding.
    func testAdamOnTheReferenceGradientsFollowsTorchToFloat32Rounding() throws {
        let fixture = try SafetensorsFile.read(FinetuneFixtures.url("hsnet/adam_arithmetic.safetensors"))
        func t(_ key: String) throws -> Tensor { try fixture.tensor(key, in: "adam_arithmetic.safetensors") }
        var parameters = try Dictionary(uniqueKeysWithValues: Self.names.map { ($0, try t("start." + $0)) })
        var adam = try Adam()
        var report = "Adam on the reference gradients (largest difference / allowed):"
        // Per element, what float32 rounding allows after k steps: the parameter's own
        // rounding at each step (two roundings of nearby values differ by up to one unit in
        // the last place of p), and the rounding of the update chain (lerp of m,
        // the square and scaling of v, sqrt, bias corrections, eps, step size, division:
        // some ten float32 operations, each u relative) at each step, carried into later
        // steps through m and v; 16 u |update| per step and per step carried covers both.
        let u = Double(Float.ulpOfOne) / 2
        var allowed = try Dictionary(uniqueKeysWithValues: Self.names.map { ($0, [Double](repeating: 0, count: try t("start." + $0).count)) })
        var previous = try Dictionary(uniqueKeysWithValues: Self.names.map { ($0, try t("start." + $0)) })
        for step in 0..<3 {
            let gradients = try Dictionary(uniqueKeysWithValues: Self.names.map { ($0, try t("grad\(step)." + $0)) })
            try adam.step(&parameters, gradients: gradients, learningRate: 1e-3)
            for name in Self.names {
                let ours = try XCTUnwrap(parameters[name]), torch = try t("after\(step)." + name)
                XCTAssertEqual(ours.shape, torch.shape)
                var worst = 0.0
                for i in 0..<torch.count {
                    let (p, update) = (Double(torch.scalars[i]), Double(torch.scalars[i]) - Double(previous[name]!.scalars[i]))
                    allowed[name]![i] += Double(torch.scalars[i].ulp) + 16 * u * Double(step + 1) * abs(update)
                    worst = max(worst, abs(Double(ours.scalars[i]) - p) / allowed[name]![i])
                }
                XCTAssertLessThanOrEqual(worst, 1, "\(name) after step \(step + 1): \(worst) of the rounding allowance")
                report += String(format: " step %d %@ %.2f;", step + 1, name, worst)
                previous[name] = torch
            }
        }
        XCTAssertEqual(adam.stepCount, 3)
        print(report)
    }

    /// Three Adam steps of our own on the episode: the loss before each step follows the
    /// reference's. Ours and the reference's float32 loss each lie within the forward's parity
    /// bound of the exact loss (hence twice that between them); the later ones may differ
    /// further by what two exact trajectories can: each step moves every parameter by at most about
    /// lr (Adam's update is lr m / (sqrt(v) + eps) with |m| <= sqrt(v) after bias correction),
    /// so after k steps the parameters differ by at most 2 k lr per element, and the loss by
    /// at most 2 k lr ||dL/dp||_1 to first order.
    func testThreeAdamStepsKeepTheReferenceLosses() throws {
        let model = FinetuneFixtures.model
        model.plugins.removeAll()
        _ = try XCTUnwrap(try model.installCheckpointMaskers(imageSize: 400), "checkpoint holds apm/acpa")
        defer { model.plugins.removeAll() }
        let expected = try SafetensorsFile.read(FinetuneFixtures.url("hsnet/adam_arithmetic.safetensors"))
        let referenceLosses = try expected.tensor("losses", in: "adam_arithmetic.safetensors").scalars
        let firstLoss = try ReferenceFixture(FinetuneFixtures.url("hsnet/hsnet_apm_episode_gradients.safetensors")).output("loss")

        let episode = try model.prepareMaskerEpisode(
            query: FinetuneFixtures.image("query"), support: FinetuneFixtures.image("support"),
            supportMask: FinetuneFixtures.mask("support_mask"), queryMask: FinetuneFixtures.mask("query_mask"))
        var adam = try Adam()
        let lr = 1e-3
        var report = "our Adam trajectory:"
        for step in 0..<3 {
            let (loss, gradients) = try model.maskerLossAndGradients(episode)
            let reference = Double(referenceLosses[step])
            let l1 = gradients.values.reduce(0.0) { $0 + $1.scalars.reduce(0.0) { $0 + Double(abs($1)) } }
            let parity = firstLoss.check(Tensor(shape: [1], scalars: [loss]), longestSum: 400 * 400)
            let bound = 2 * parity.bound * abs(reference) + 2 * Double(step) * lr * l1
            XCTAssertLessThanOrEqual(abs(Double(loss) - reference), bound, "loss before step \(step + 1): \(loss), reference \(reference)")
            report += String(format: " loss %.8f (reference %.8f, bound %.1e);", loss, reference, bound)
            try model.applyMaskerStep(&adam, gradients: gradients, learningRate: lr)
        }
        print(report)
    }
}
