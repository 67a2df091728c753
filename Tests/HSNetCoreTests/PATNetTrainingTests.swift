import Foundation
import HSNetCore
import ReferenceParity
import TensorCore
import XCTest

/// PATNet's training step (learner and reference weights, as its train.py) against the
/// published code's autograd, and the reference-weight gradients against finite differences.
final class PATNetTrainingTests: XCTestCase {
    /// The episode of `patnet/patnet_1shot.safetensors` (the step fixture shares its inputs):
    /// backbone taps of query and support, the support mask and the query mask.
    static func episode() throws -> (query: [Tensor], support: [Tensor], supportMask: Tensor, queryMask: Tensor) {
        let inputs = try ReferenceFixture(HSNetFixtures.url("patnet/patnet_1shot.safetensors"))
        let taps = PATNetTests.model.features(of: [try inputs.tensor("query_img"), try inputs.tensor("support_img")])
        return (taps[0], taps[1], try inputs.tensor("support_mask"), try inputs.tensor("query_mask"))
    }

    func testTrainingStepMatchesPublishedPATNet() throws {
        let fixture = try ReferenceFixture(HSNetFixtures.url("patnet/patnet_step.safetensors"))
        let (query, support, supportMask, queryMask) = try Self.episode()
        let (loss, gradients) = try PATNetTests.model.patnetLossAndGradients(queryTaps: query, supportTaps: support,
                                                                            supportMask: supportMask, queryMask: queryMask)
        // The longest sum of the step: the weight gradient of the first layer-2 squeezing
        // convolution over the layer-2 pyramid's positions (12^4 at 96 x 96), as in
        // LearnerTrainingStepTests; the reference gradient's sums (positions x taps x 2 images,
        // channels) are shorter. sqrt of it is the multiple (ParityBound).
        let longest = 12 * 12 * 12 * 12
        let lossCheck = try fixture.output("plain.loss").check(Tensor(shape: [1], scalars: [loss]), longestSum: longest)
        XCTAssertTrue(lossCheck.passed, "\(lossCheck)")
        XCTAssertNotNil(gradients["hpn_learner.encoder_layer4.0.conv1.weight"])
        for name in ["reference_layer1.weight", "reference_layer2.weight", "reference_layer3.weight",
                     "hpn_learner.encoder_layer2.0.conv1.weight", "hpn_learner.decoder2.2.weight"] {
            let ours = try XCTUnwrap(gradients[name], name)
            let check = try fixture.output("plain.grad." + name).check(ours, metric: .normRelative, longestSum: longest)
            print("PATNet step \(name): \(check)")
            XCTAssertTrue(check.passed, "\(name): \(check)")
            // The brief's ceiling for a training step's gradients, far above the derived bound.
            XCTAssertLessThan(check.error, 5e-3, name)
        }
    }

    /// The loss along each reference weight's own (normalised) gradient: the derivative along
    /// it is the gradient's norm, so the check cannot pass on a gradient of zero.
    func testReferenceGradientsMatchFiniteDifferences() throws {
        let (query, support, supportMask, queryMask) = try Self.episode()
        let model = try HSNet.withDeterministicPATNetWeights()
        let base = model.prototypeTransformation!
        let (_, gradients) = try model.patnetLossAndGradients(queryTaps: query, supportTaps: support,
                                                             supportMask: supportMask, queryMask: queryMask)
        for layer in 2...4 {
            let name = PrototypeTransformation.parameterName(layer: layer)
            let g = gradients[name]!.scalars
            let norm = g.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertGreaterThan(norm, 0, name)
            // A step of 1e-3 of the weight's norm: small enough that the clamp at 0 and the
            // ReLUs keep their pattern, large enough that the loss moves well above its float32
            // noise (the loss is a double-accumulated mean over 9216 pixels).
            let weightNorm = base.references[layer]!.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let eps = 1e-3 * weightNorm
            func loss(_ sign: Double) throws -> Double {
                var references = base.references
                references[layer] = Tensor(shape: references[layer]!.shape, scalars: zip(references[layer]!.scalars, g).map {
                    Float(Double($0) + sign * eps * Double($1) / norm)
                })
                model.prototypeTransformation = try PrototypeTransformation(references: references)
                defer { model.prototypeTransformation = base }
                return Double(try model.patnetLossAndGradients(queryTaps: query, supportTaps: support,
                                                               supportMask: supportMask, queryMask: queryMask).loss)
            }
            let numeric = (try loss(1) - loss(-1)) / (2 * eps)
            // 5% covers float32 rounding of the shifted weights and of the loss; a missing
            // term, wrong sign or factor is off by far more.
            XCTAssertEqual(numeric, norm, accuracy: 0.05 * norm, name)
            print("finite differences \(name): analytic \(norm), numeric \(numeric)")
        }
    }

    func testTrainingRefusesHSNetAndPlugins() throws {
        let (query, support, supportMask, queryMask) = try Self.episode()
        assertInputError(["the model is HSNet: reference-layer gradients need PATNet"]) {
            _ = try HSNetFixtures.model.patnetLossAndGradients(queryTaps: query, supportTaps: support,
                                                              supportMask: supportMask, queryMask: queryMask)
        }
    }
}
