import Foundation
import HSNetCore
import ReferenceParity
import TensorCore
import XCTest

/// HSNet with torchvision's ResNet-101 as the published code builds it (`resnet101`: feature
/// ids 4...33, bottlenecks [3, 4, 23, 3], a learner squeezing 3, 23 and 4 taps), recognised
/// from checkpoint names, and its parity with the published code on one 1-shot episode.
final class ResNet101Tests: XCTestCase {
    /// The det-fill HSNet-ResNet-101, backbone and learner from their names, built once.
    static let model: HSNet = { try! HSNet.withDeterministicWeights(backbone: .resnet101) }()

    func testDepthsHaveThePublishedTapsAndLearnerInputs() {
        XCTAssertEqual(ResNetDepth.resnet50.tapLayers.count, 13)
        XCTAssertEqual(ResNetDepth.resnet101.tapLayers.count, 30)
        XCTAssertEqual([4, 3, 2].map(ResNetDepth.resnet101.tapCount(layer:)), [3, 23, 4])
        XCTAssertEqual([4, 3, 2].map(ResNetDepth.resnet50.tapCount(layer:)), [3, 6, 4])
        let names = BackboneTaps(depth: .resnet101).names
        XCTAssertEqual(names.count, 30)
        XCTAssertEqual(Array(names[4...5]), ["layer3.0", "layer3.1"])
        XCTAssertEqual(names[26], "layer3.22")
        XCTAssertEqual(Array(names.suffix(3)), ["layer4.0", "layer4.1", "layer4.2"])
        XCTAssertEqual(try BackboneTaps(depth: .resnet101).parse("layer4"), [27, 28, 29])
        XCTAssertEqual(try BackboneTaps(depth: .resnet50).parse("layer4"), [10, 11, 12])
        // torchvision's ResNet-101 holds 44.5 million parameters, 2.05 million of them its
        // ImageNet classifier (not listed here); BatchNorm's running statistics are buffers.
        let shapes = ResNetBackbone.parameterShapes(depth: .resnet101)
        let weights = shapes.filter { !$0.name.hasSuffix("running_mean") && !$0.name.hasSuffix("running_var") }
        XCTAssertEqual(weights.map { $0.shape.reduce(1, *) }.reduce(0, +) + 2048 * 1000 + 1000, 44_549_160)
        let learner = HPNLearner.parameterShapes(backbone: .resnet101)
        XCTAssertEqual(learner.first { $0.name == "encoder_layer3.0.conv1.weight" }?.shape, [16, 23, 5, 5])
        XCTAssertEqual(learner.count, HPNLearner.parameterShapes(backbone: .resnet50).count)
    }

    func testModelIsRecognisedFromCheckpointNames() throws {
        let model = Self.model
        XCTAssertEqual(model.backbone.kind, .resnet101)
        XCTAssertEqual(model.learner.backboneKind, .resnet101)
        XCTAssertEqual(model.backbone.resnet?.layers.map(\.count), [3, 4, 23, 3])
        XCTAssertEqual(try HSNet(stateDict: HSNetFixtures.fullStateDict).backbone.kind, .resnet50)

        // torchvision's ResNet-101 file (no prefix, with its classifier) as --backbone-weights.
        let torchvision = ResNetBackbone.parameterShapes(depth: .resnet101).map {
            (name: $0.name, tensor: detFill(name: "backbone." + $0.name, shape: $0.shape))
        } + [(name: "fc.weight", tensor: Tensor(zeros: [1000, 2048])), (name: "fc.bias", tensor: Tensor(zeros: [1000]))]
        let learner = HSNet.deterministicStateDict(backbone: .resnet101).filter { $0.name.hasPrefix("hpn_learner.") }
        let separate = try HSNet(stateDict: learner, backboneStateDict: torchvision)
        XCTAssertEqual(separate.backbone.kind, .resnet101)
        XCTAssertEqual(separate.backbone.resnet?.layers[2][22].conv3.bias, model.backbone.resnet?.layers[2][22].conv3.bias)
    }

    func testOtherModelsAndMismatchedPartsAreOneLineErrors() {
        // PATNet is run; a damaged one is reported against PATNet's names.
        let patnet = HSNetFixtures.fullStateDict + [(name: "reference_layer1.weight", tensor: Tensor(zeros: [2, 2048]))]
        assertInputError(["patnet.pt: does not fit PATNet (ResNet-50): missing reference_layer2.weight, reference_layer3.weight",
                          "wrong shape: reference_layer1.weight has shape [2, 2048], expected [2, 512]"]) {
            _ = try HSNet(stateDict: patnet, source: "patnet.pt")
        }

        // A ResNet-50 learner on a ResNet-101 backbone.
        let mixed = HSNet.deterministicBackboneStateDict(depth: .resnet101) + HSNetFixtures.nonBackboneStateDict
        assertInputError(["mixed.pt: its learner squeezes the taps of a ResNet-50, but the backbone is a ResNet-101"]) {
            _ = try HSNet(stateDict: mixed, source: "mixed.pt")
        }

        // A damaged ResNet-101 is reported against ResNet-101's names.
        let damaged = HSNet.deterministicStateDict(backbone: .resnet101).filter { !$0.name.hasPrefix("backbone.layer3.22.") }
        assertInputError(["r101.pt: does not fit HSNet (ResNet-101): missing ", "backbone.layer3.22.conv1.weight"]) {
            _ = try HSNet(stateDict: damaged, source: "r101.pt")
        }
    }

    /// The longest single sum in the model is the same as in ResNet-50: the 3 x 3
    /// convolutions of layer 4, 512 channels x 9 taps per output (layer 3's are 256 x 9, the
    /// 1 x 1 convolutions at most 2048, the layer-4 correlation 2048).
    static let longestSum = 512 * 9

    func testPlainOneShotEpisodeMatchesReference() throws {
        let fixture = try ReferenceFixture(HSNetFixtures.url("hsnet/hsnet_resnet101_1shot.safetensors"))
        let model = Self.model
        XCTAssertTrue(model.plugins.occupied.isEmpty)
        var tapCount = 0
        let logits = try model.predict(query: try fixture.tensor("query_img"), supports: try fixture.tensor("support_img"),
                                       supportMasks: try fixture.tensor("support_mask")) { name, _ in
            if name.hasPrefix("query_feat.") { tapCount += 1 }
        }
        XCTAssertEqual(tapCount, 30)
        // Bound: ParityBound.multiple(longestSum: 4608) times the published code's own
        // float32-versus-float64 error on these logits (the DESIGN's rule: our sums run in
        // another order and blocking than PyTorch's, so our float32 error may be that many
        // times the reference's, never a fixed number taken from a run).
        let check = try fixture.output("logits").check(logits, longestSum: Self.longestSum)
        print("HSNet-ResNet-101 1-shot episode: \(check)")
        XCTAssertTrue(check.passed, "\(check)")
    }
    /// With APM-M + ACPA on the three layer-4 taps (det-fill parameters, as the fixture script
    /// fills them): the logits, and one fine-tuning step's loss and masker gradients, against
    /// the published code with the maskers where the APM repository puts them.
    func testMaskersEpisodeAndFineTuningStepMatchReference() throws {
        let fixture = try ReferenceFixture(HSNetFixtures.url("hsnet/hsnet_resnet101_maskers.safetensors"))
        let model = Self.model
        model.plugins.removeAll()
        try PATNetTests.installDeterministicMaskers(model, imageSize: 128)
        defer { model.plugins.removeAll() }
        let (query, support, supportMask) = (try fixture.tensor("query_img"), try fixture.tensor("support_img"),
                                             try fixture.tensor("support_mask"))
        let logits = try model.predict(query: query, supports: support, supportMasks: supportMask)
        // The same bound as the plain episode: the longest sum is unchanged by the maskers.
        let check = try fixture.output("logits").check(logits, longestSum: Self.longestSum)
        print("HSNet-ResNet-101 with maskers: \(check)")
        XCTAssertTrue(check.passed, "\(check)")
        XCTAssertLessThan(check.error, 1e-4)

        let (loss, gradients) = try model.maskerLossAndGradients(query: query, support: support, supportMask: supportMask,
                                                                 queryMask: try fixture.tensor("query_mask"))
        // The loss averages 128 x 128 pixels; the gradients' longest sums are those of the
        // forward and backward path, the layer-4 3 x 3 convolutions' 512 x 9 terms, as in
        // MaskerGradientTests (the multiple is sqrt of it, ParityBound).
        let lossCheck = try fixture.output("loss").check(Tensor(shape: [1], scalars: [loss]), longestSum: 128 * 128)
        print("HSNet-ResNet-101 masker step: \(lossCheck)")
        XCTAssertTrue(lossCheck.passed, "\(lossCheck)")
        for name in ["apm.mask_amplitude", "apm.mask_phase", "acpa.phase_attn.0.weight", "acpa.phase_attn.2.weight"] {
            let ours = try XCTUnwrap(gradients[name], name)
            let gradientCheck = try fixture.output("grad." + name).check(ours, metric: .normRelative, longestSum: Self.longestSum)
            print("HSNet-ResNet-101 masker step \(name): \(gradientCheck)")
            XCTAssertTrue(gradientCheck.passed, "\(name): \(gradientCheck)")
            // The ceiling for gradients, far above the derived bound.
            XCTAssertLessThan(gradientCheck.error, 5e-3, name)
        }
    }
}

