import Foundation
import FreqMask
import HSNetCore
import ReferenceParity
import TensorCore
import XCTest

/// Masker gradients with maskers on every tap group: the det-fill HSNet on a 96 x 96 episode
/// with one APM-M and one ACPA per layer (layers 2, 3 and 4, each with its own det-fill
/// parameters), against the published HSNet and APM code's autograd
/// (`scripts/fixtures/slot_gradients.py`), and by finite differences on the layer-2/3 path.
final class SlotGradientTests: XCTestCase {
    static let fixture = "hsnet/hsnet_slot_gradients.safetensors"
    static let imageSize = 96
    /// The loss is a mean over 96 x 96 pixels.
    static let lossTerms = 96 * 96
    /// The longest single sum on the gradients' path, forward and backward: the 3 x 3
    /// convolutions of ResNet-50's layer 4 in the backbone (512 channels x 9 taps); the
    /// correlations sum at most 2048 channels, the learner 128 x 9.
    static let longestSum = 512 * 9
    /// The brief's ceiling on the relative norm error of every gradient. The bound each check
    /// applies is far tighter: `ParityBound.multiple(longestSum:)` (about 68) times the
    /// published code's own float32 error on that gradient (1e-6 to 7e-6 on this fixture),
    /// which stays below 5e-4.
    static let ceiling = 5e-3

    /// Maskers for `layers` with det-fill parameters named `<namePrefix><layer prefix>apm.mask_amplitude`,
    /// ...; `variant` per layer.
    static func maskers(layers: [Int: AmplitudePhaseMasker.Variant], imageSize: Int, namePrefix: String = "") throws -> MaskerState {
        let model = HSNetFixtures.model
        var parts: [Int: MaskerState.LayerMaskers] = [:]
        for (layer, variant) in layers {
            let channels = model.tapChannels(layer: layer)
            let size = HSNet.featureSize(layer: layer, imageHeight: imageSize, imageWidth: imageSize)
            let prefix = namePrefix + MaskerState.layerPrefix(layer)
            let maskShape = [1, variant == .perChannel ? channels : 1, size.height, size.width]
            parts[layer] = MaskerState.LayerMaskers(
                amplitudePhase: try AmplitudePhaseMasker(maskAmplitude: detFill(name: prefix + "apm.mask_amplitude", shape: maskShape),
                                                         maskPhase: detFill(name: prefix + "apm.mask_phase", shape: maskShape)),
                channelAttention: try ChannelPhaseAttention(firstWeight: detFill(name: prefix + "acpa.phase_attn.0.weight", shape: [8, channels]),
                                                            secondWeight: detFill(name: prefix + "acpa.phase_attn.2.weight", shape: [channels, 8])))
        }
        return MaskerState(layers: parts)
    }

    static func episode() throws -> (query: Tensor, support: Tensor, supportMask: Tensor, queryMask: Tensor) {
        let inputs = try ReferenceFixture(HSNetFixtures.url(fixture)).float32.tensors
        return (try XCTUnwrap(inputs["query_img"]), try XCTUnwrap(inputs["support_img"]),
                try XCTUnwrap(inputs["support_mask"]), try XCTUnwrap(inputs["query_mask"]))
    }

    func testGradientsThroughEverySlotMatchAutograd() throws {
        let model = HSNetFixtures.model
        model.plugins.removeAll()
        defer { model.plugins.removeAll() }
        let state = try Self.maskers(layers: [2: .perChannel, 3: .perChannel, 4: .perChannel], imageSize: Self.imageSize)
        try model.installFrequencyMaskers(state, imageSize: Self.imageSize)
        let expected = try ReferenceFixture(HSNetFixtures.url(Self.fixture))
        let e = try Self.episode()
        let (loss, gradients) = try model.maskerLossAndGradients(query: e.query, support: e.support,
                                                                 supportMask: e.supportMask, queryMask: e.queryMask)
        let lossCheck = try expected.output("loss").check(Tensor(shape: [1], scalars: [loss]), longestSum: Self.lossTerms)
        XCTAssertTrue(lossCheck.passed, "\(lossCheck)")

        // Every parameter of every layer, under the masker file's names.
        XCTAssertEqual(Set(gradients.keys), Set(state.stateDict.keys))
        var report = "slot gradients (layers 2, 3, 4): \(lossCheck)"
        for name in state.stateDict.keys.sorted() {
            let ours = try XCTUnwrap(gradients[name], name)
            let reference = try expected.output("grad." + name)
            XCTAssertEqual(ours.shape, reference.shape, name)
            guard ours.shape == reference.shape else { continue }
            let check = reference.check(ours, metric: .normRelative, longestSum: Self.longestSum)
            XCTAssertTrue(check.passed, "\(check)")
            XCTAssertLessThan(check.error, Self.ceiling, name)
            report += "; \(check)"
        }
        print(report)

        // The fine-tuning cache keeps what the plug-ins do not change: with plug-ins on layers
        // 3 and 4 the layer-2 encoding is cached and both other paths are recomputed, and the
        // step equals the whole computation on the same numbers.
        try model.installFrequencyMaskers(MaskerState(layers: [3: state[layer: 3], 4: state[layer: 4]]), imageSize: Self.imageSize)
        let prepared = try model.prepareMaskerEpisode(query: e.query, support: e.support, supportMask: e.supportMask, queryMask: e.queryMask)
        XCTAssertEqual(prepared.trainedLayers, [3, 4])
        XCTAssertEqual(Set(prepared.squeezed.keys), [2])
        let step = try model.maskerLossAndGradients(prepared)
        let whole = try model.maskerLossAndGradients(query: e.query, support: e.support, supportMask: e.supportMask, queryMask: e.queryMask)
        XCTAssertEqual(step.loss, whole.loss)
        XCTAssertEqual(step.gradients, whole.gradients)
        XCTAssertEqual(Set(step.gradients.keys), Set(state.stateDict.keys.filter { !$0.hasPrefix("layer2.") }))
        // An episode prepared for other layers is refused rather than silently half-trained.
        try model.installFrequencyMaskers(state, imageSize: Self.imageSize)
        assertInputError(["prepared for plug-ins on layers 3, 4", "layer 2", "prepare it again"]) {
            _ = try model.maskerLossAndGradients(prepared)
        }
    }

    /// The loss along the normalised gradient of each masker of layers 2 and 3 (APM-M on layer
    /// 2, APM-S on layer 3, ACPA on both; no layer-4 plug-ins, so the path ends in the layer-2
    /// and layer-3 squeezing blocks) against the gradient's norm, by central differences.
    ///
    /// The APMs and the ACPAs are checked in separate runs: ACPA's pooled phase is piecewise
    /// constant in its input (it counts the negative self-conjugate frequencies), so with an APM
    /// in front, a step of the APM's masks that moves one of thousands of such terms across zero
    /// makes the loss jump, which a difference quotient cannot follow (and autograd, like ours,
    /// rightly ignores).
    func testLayer2And3GradientsMatchFiniteDifferences() throws {
        let model = HSNetFixtures.model
        model.plugins.removeAll()
        defer { model.plugins.removeAll() }
        let both = try Self.maskers(layers: [2: .perChannel, 3: .shared], imageSize: Self.imageSize, namePrefix: "fd.")
        let e = try Self.episode()
        for part in ["apm", "acpa"] {
            var parts: [Int: MaskerState.LayerMaskers] = [:]
            for layer in [2, 3] {
                parts[layer] = part == "apm" ? MaskerState.LayerMaskers(amplitudePhase: both[layer: layer].amplitudePhase, channelAttention: nil)
                                             : MaskerState.LayerMaskers(amplitudePhase: nil, channelAttention: both[layer: layer].channelAttention)
            }
            try model.installFrequencyMaskers(MaskerState(layers: parts), imageSize: Self.imageSize)
            try checkFiniteDifferences(model: model, episode: e, groups: ["layer2." + part, "layer3." + part])
        }
    }

    func checkFiniteDifferences(model: HSNet, episode e: (query: Tensor, support: Tensor, supportMask: Tensor, queryMask: Tensor),
                                groups: [String]) throws {
        let episode = try model.prepareMaskerEpisode(query: e.query, support: e.support, supportMask: e.supportMask, queryMask: e.queryMask)
        XCTAssertEqual(episode.trainedLayers, [2, 3])
        XCTAssertEqual(Set(episode.squeezed.keys), [4])
        let (_, gradients) = try model.maskerLossAndGradients(episode)
        let owners = try model.pluginsByParameterPrefix()
        for group in groups {
            let plugin = try XCTUnwrap(owners.first { $0.prefix == group }?.plugin, group)
            // For ACPA, the second weight: the first one's gradient passes the ReLU between them,
            // where a hidden unit at 0 (pooled phases of 0 give exactly that) is a kink central
            // differences straddle; its gradient is held to autograd by the parity test above.
            let base = plugin.parameters.filter { !$0.name.hasPrefix("phase_attn.0") }
            var norm = 0.0
            for (name, _) in base {
                norm += try XCTUnwrap(gradients[group + "." + name]).scalars.reduce(0.0) { $0 + Double($1) * Double($1) }
            }
            norm = norm.squareRoot()
            XCTAssertGreaterThan(norm, 0, group)
            // A step that moves the loss by about 3e-5: the gradients are of order 1e-3, so a
            // larger change would need steps that reach the sigmoids' and ReLUs' curvature. The
            // loss is summed in double precision from float32 logits; its noise (~1e-7) is then
            // below 0.5% of the difference.
            let eps = 3e-5 / norm
            func loss(_ sign: Double) throws -> Double {
                for (name, value) in base {
                    let g = gradients[group + "." + name]!.scalars
                    try plugin.setParameter(name, to: Tensor(shape: value.shape, scalars: zip(value.scalars, g).map {
                        Float(Double($0) + sign * eps * Double($1) / norm)
                    }))
                }
                return Double(try model.maskerLossAndGradients(episode).loss)
            }
            let numeric = (try loss(1) - loss(-1)) / (2 * eps)
            for (name, value) in base { try plugin.setParameter(name, to: value) }
            // Float32 parameters round the shifted values and the loss carries float32 rounding;
            // the clamp of the correlation at 0 bends the loss where an entry crosses it. 2%
            // covers these, while a missing term, wrong sign or factor is off by far more.
            XCTAssertEqual(numeric, norm, accuracy: 0.02 * norm, group)
            print("finite differences \(group): analytic \(norm), numeric \(numeric)")
        }
    }

    func testMisshapenMaskersAreRefusedNamingTheirLayer() throws {
        let model = HSNetFixtures.model
        model.plugins.removeAll()
        defer { model.plugins.removeAll() }
        let layer4 = try Self.maskers(layers: [4: .perChannel], imageSize: Self.imageSize)
        // A masker with layer 4's channels on layer 3's plane (6 x 6 at 96): 2048 channels
        // where layer 3 has 1024.
        let wide = MaskerState.LayerMaskers(amplitudePhase: AmplitudePhaseMasker(variant: .perChannel, channels: 2048, height: 6, width: 6),
                                            channelAttention: nil)
        assertInputError(["layer3.apm masks have 2048 channels", "layer-3 features have 1024", "layer 4"]) {
            try model.installFrequencyMaskers(MaskerState(layers: [3: wide]), imageSize: Self.imageSize)
        }
        var generator = SeededGenerator(seed: 1)
        let attention = MaskerState.LayerMaskers(amplitudePhase: nil, channelAttention: ChannelPhaseAttention(channels: 512, generator: &generator))
        assertInputError(["layer3.acpa works on 512 channels", "layer-3 features have 1024", "layer 2"]) {
            try model.installFrequencyMaskers(MaskerState(layers: [3: attention]), imageSize: Self.imageSize)
        }
        // Right channels, the plane of another image size.
        let layer2 = try Self.maskers(layers: [2: .perChannel], imageSize: 128)
        assertInputError(["layer2.apm masks are 16 x 16", "layer-2 features of a 96 x 96 image are 12 x 12"]) {
            try model.installFrequencyMaskers(layer2, imageSize: Self.imageSize)
        }
        XCTAssertTrue(model.plugins.isEmpty, "nothing is installed when a part does not fit")
        // One plug-in object in two layers' slots cannot be named.
        let apm = try XCTUnwrap(layer4.amplitudePhase)
        model.plugins.install(apm, in: [try PluginSlot(name: "layer4.query"), try PluginSlot(name: "layer3.query")])
        assertInputError(["sits in slots", "layer3.query", "layer4.query", "one per layer"]) {
            _ = try model.pluginsByParameterPrefix()
        }
    }
}
