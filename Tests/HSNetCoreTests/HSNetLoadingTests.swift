import Foundation
import FreqMask
import HSNetCore
import TensorCore
import XCTest

/// Mapping state dicts onto the model: names 1:1 with PyTorch, every problem reported by name.
final class HSNetLoadingTests: XCTestCase {
    /// The message of the `InputError` that `body` throws (fails the test when it does not).
    func inputErrorMessage(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            try body()
            XCTFail("expected an InputError", file: file, line: line)
        } catch let error as InputError {
            XCTAssertFalse(error.message.contains("\n"), "one line: \(error.message)", file: file, line: line)
            return error.message
        } catch {
            XCTFail("expected an InputError, got \(error)", file: file, line: line)
        }
        return ""
    }

    var learnerStateDict: [(name: String, tensor: Tensor)] {
        HSNetFixtures.nonBackboneStateDict.filter { $0.name.hasPrefix("hpn_learner.") }
    }

    func testLearnerParameterNamesAreThoseOfThePyTorchModule() {
        let names = HPNLearner.parameterShapes(backbone: .resnet50).map { "hpn_learner." + $0.name }
        let reference = learnerStateDict
        XCTAssertEqual(names, reference.map(\.name))
        XCTAssertEqual(HPNLearner.parameterShapes(backbone: .resnet50).map(\.shape), reference.map(\.tensor.shape))
        XCTAssertEqual(reference.count, 98)
    }

    func testBackboneParameterNamesAreTorchvisions() {
        let shapes = ResNetBackbone.parameterShapes(depth: .resnet50)
        // 53 convolutions, 53 BatchNorms with 4 tensors each (num_batches_tracked excluded).
        XCTAssertEqual(shapes.count, 53 + 53 * 4)
        XCTAssertEqual(shapes.map(\.shape).reduce(0) { $0 + $1.reduce(1, *) }, 25_557_032 - 2_049_000 + 53_120)
        XCTAssertEqual(shapes.first?.name, "conv1.weight")
        XCTAssertTrue(shapes.contains { $0.name == "layer3.0.downsample.1.running_var" && $0.shape == [1024] })
        XCTAssertTrue(shapes.contains { $0.name == "layer4.2.conv2.weight" && $0.shape == [512, 512, 3, 3] })
        XCTAssertFalse(shapes.contains { $0.name.hasPrefix("layer1.1.downsample") })
    }

    func testLearnerLoadsAndReportsMissingEntryByName() {
        XCTAssertNoThrow(try HPNLearner(stateDict: learnerStateDict))
        let entries = learnerStateDict.filter { $0.name != "hpn_learner.encoder_layer3.4.bias" }
        let message = inputErrorMessage { _ = try HPNLearner(stateDict: entries, source: "learner.pt") }
        XCTAssertTrue(message.hasPrefix("learner.pt: "), message)
        XCTAssertTrue(message.contains("missing hpn_learner.encoder_layer3.4.bias"), message)
    }

    func testLearnerReportsUnexpectedEntryByName() {
        var entries = learnerStateDict
        entries.append((name: "hpn_learner.encoder_layer5.0.conv1.weight", tensor: Tensor(zeros: [1])))
        let message = inputErrorMessage { _ = try HPNLearner(stateDict: entries) }
        XCTAssertTrue(message.contains("unexpected hpn_learner.encoder_layer5.0.conv1.weight"), message)
    }

    func testLearnerReportsWrongShapeWithBothShapes() {
        let entries = learnerStateDict.map { entry in
            entry.name == "hpn_learner.decoder2.2.weight" ? (name: entry.name, tensor: Tensor(zeros: [3, 64, 3, 3])) : entry
        }
        let message = inputErrorMessage { _ = try HPNLearner(stateDict: entries) }
        XCTAssertTrue(message.contains("hpn_learner.decoder2.2.weight has shape [3, 64, 3, 3], expected [2, 64, 3, 3]"), message)
    }

    func testEveryProblemIsReportedInOneMessage() {
        var entries = HSNetFixtures.fullStateDict.filter { $0.name != "backbone.layer2.3.bn2.running_var" }
        entries = entries.map { entry in
            entry.name == "hpn_learner.encoder_layer4.0.conv2.bias" ? (name: entry.name, tensor: Tensor(zeros: [15])) : entry
        }
        entries.append((name: "head.weight", tensor: Tensor(zeros: [2])))
        let message = inputErrorMessage { _ = try HSNet(stateDict: entries, source: "model.pt") }
        XCTAssertTrue(message.hasPrefix("model.pt: "), message)
        XCTAssertTrue(message.contains("missing backbone.layer2.3.bn2.running_var"), message)
        XCTAssertTrue(message.contains("wrong shape: hpn_learner.encoder_layer4.0.conv2.bias has shape [15], expected [16]"), message)
        XCTAssertTrue(message.contains("unexpected head.weight"), message)
    }

    func testBackboneWrongShapeIsNamed() {
        let entries = HSNetFixtures.fullStateDict.map { entry in
            entry.name == "backbone.layer4.0.downsample.0.weight" ? (name: entry.name, tensor: Tensor(zeros: [2048, 512, 1, 1])) : entry
        }
        let message = inputErrorMessage { _ = try HSNet(stateDict: entries) }
        XCTAssertTrue(message.contains("backbone.layer4.0.downsample.0.weight has shape [2048, 512, 1, 1], expected [2048, 1024, 1, 1]"), message)
    }

    func testLongListsAreShortened() {
        let entries = learnerStateDict.filter { !$0.name.hasPrefix("hpn_learner.encoder_layer2") }
        let message = inputErrorMessage { _ = try HPNLearner(stateDict: entries) }
        XCTAssertTrue(message.contains("missing 18 entries: hpn_learner.encoder_layer2.0.conv1.weight,"), message)
        XCTAssertTrue(message.contains("and 10 more"), message)
    }

    func testDuplicateEntryIsAnError() {
        let entries = learnerStateDict + [learnerStateDict[0]]
        let message = inputErrorMessage { _ = try HPNLearner(stateDict: entries) }
        XCTAssertTrue(message.contains("hpn_learner.encoder_layer4.0.conv1.weight appears twice"), message)
    }

    func testCheckpointWithoutBackboneSaysWhatIsMissing() {
        let message = inputErrorMessage { _ = try HSNet(stateDict: HSNetFixtures.nonBackboneStateDict, source: "learner.pt") }
        XCTAssertTrue(message.contains("learner.pt: has no backbone.* parameters"), message)
    }

    func testTorchvisionResNet50IsAcceptedAsTheBackbone() throws {
        // torchvision's file: no prefix, plus the ImageNet classifier, which HSNet does not use.
        let torchvision = HSNetFixtures.torchvisionBackbone
            + [(name: "fc.weight", tensor: Tensor(zeros: [1000, 2048])), (name: "fc.bias", tensor: Tensor(zeros: [1000]))]
        let model = try HSNet(stateDict: HSNetFixtures.nonBackboneStateDict, backboneStateDict: torchvision)
        let reference = HSNetFixtures.model
        XCTAssertEqual(model.backbone.resnet?.stem.weight, reference.backbone.resnet?.stem.weight)
        XCTAssertEqual(model.backbone.resnet?.layers[3][2].conv3.bias, reference.backbone.resnet?.layers[3][2].conv3.bias)
        XCTAssertEqual(model.learner.decoder[3].weight, reference.learner.decoder[3].weight)

        // Given alone as the model, it is recognised and the message says how to use it.
        let message = inputErrorMessage { _ = try HSNet(stateDict: torchvision, source: "resnet50.pth") }
        XCTAssertTrue(message.contains("torchvision ResNet-50"), message)

        // A backbone given twice is refused.
        let twice = inputErrorMessage { _ = try HSNet(stateDict: HSNetFixtures.fullStateDict, backboneStateDict: torchvision) }
        XCTAssertTrue(twice.contains("give only one of them"), twice)
    }

    func testBackboneFoldsBatchNormIntoConvolutions() {
        // conv1 + bn1 folded: w' = w * gamma / sqrt(var + 1e-5), b' = beta - mean * gamma / sqrt(var + 1e-5).
        let entries = Dictionary(uniqueKeysWithValues: HSNetFixtures.torchvisionBackbone.map { ($0.name, $0.tensor) })
        let stem = HSNetFixtures.model.backbone.resnet!.stem
        let (gamma, beta) = (entries["bn1.weight"]!.scalars, entries["bn1.bias"]!.scalars)
        let (mean, variance) = (entries["bn1.running_mean"]!.scalars, entries["bn1.running_var"]!.scalars)
        let weight = entries["conv1.weight"]!.scalars
        // The folded values are float32 products of numbers of order 1 (a square root, a
        // division, a product and a difference): a few roundings of u = 6e-8 each.
        for channel in [0, 17, 63] {
            let scale = Double(gamma[channel]) / (Double(variance[channel]) + 1e-5).squareRoot()
            XCTAssertEqual(Double(stem.bias!.scalars[channel]), Double(beta[channel]) - Double(mean[channel]) * scale, accuracy: 1e-6)
            let i = channel * 147 + 100
            XCTAssertEqual(Double(stem.weight.scalars[i]), Double(weight[i]) * scale, accuracy: 1e-6)
        }
        XCTAssertEqual(stem.strideH, 2)
        XCTAssertEqual(stem.paddingH, 3)
    }

    func testMaskerEntriesAreHandedBack() throws {
        let tensors = HSNetFixtures.model.pluginTensors
        XCTAssertEqual(Set(tensors.keys), ["apm.mask_amplitude", "apm.mask_phase", "acpa.phase_attn.0.weight", "acpa.phase_attn.2.weight"])
        XCTAssertEqual(tensors["apm.mask_amplitude"]?.shape, [1, 2048, 13, 13])
        XCTAssertEqual(tensors["acpa.phase_attn.2.weight"]?.shape, [2048, 8])
        // Other prefixes are unexpected unless declared.
        let extra = HSNetFixtures.fullStateDict + [(name: "freq.gain", tensor: Tensor(zeros: [1]))]
        let message = inputErrorMessage { _ = try HSNet(stateDict: extra) }
        XCTAssertTrue(message.contains("unexpected freq.gain"), message)
        let model = try HSNet(stateDict: extra, pluginPrefixes: ["apm", "acpa", "freq"])
        XCTAssertEqual(model.pluginTensors["freq.gain"]?.shape, [1])
    }

    func testMaskerSizeMustMatchTheImageSize() throws {
        let model = HSNetFixtures.model
        defer { model.plugins.removeAll() }
        let message = inputErrorMessage { try model.installCheckpointMaskers(imageSize: 300) }
        XCTAssertTrue(message.contains("apm masks are 13 x 13 but the layer-4 features of a 300 x 300 image are 10 x 10"), message)
        XCTAssertTrue(message.contains("image sizes 385...416 give 13 x 13"), message)
        XCTAssertTrue(model.plugins[.layer4Query].isEmpty)
        XCTAssertNoThrow(try model.installCheckpointMaskers(imageSize: 416))

        let wrongChannels = try AmplitudePhaseMasker(maskAmplitude: Tensor(zeros: [1, 64, 13, 13]), maskPhase: Tensor(zeros: [1, 64, 13, 13]))
        let channels = inputErrorMessage {
            try model.installFrequencyMaskers(amplitudePhase: wrongChannels, channelAttention: nil, imageSize: 400)
        }
        XCTAssertTrue(channels.contains("apm masks have 64 channels, the layer-4 features have 2048"), channels)
        // APM-S (one mask for every channel) fits any channel count.
        let shared = try AmplitudePhaseMasker(maskAmplitude: Tensor(zeros: [1, 1, 13, 13]), maskPhase: Tensor(zeros: [1, 1, 13, 13]))
        XCTAssertNoThrow(try model.installFrequencyMaskers(amplitudePhase: shared, channelAttention: nil, imageSize: 400))
        XCTAssertEqual(model.plugins[.layer4Support].map(\.kind), ["apm-s"])
        XCTAssertTrue(model.plugins[.layer4QueryMasked].isEmpty)
    }

    func testFeatureSizes() {
        XCTAssertTrue(HSNet.featureSize(layer: 4, imageHeight: 400, imageWidth: 400) == (13, 13))
        XCTAssertTrue(HSNet.featureSize(layer: 3, imageHeight: 400, imageWidth: 400) == (25, 25))
        XCTAssertTrue(HSNet.featureSize(layer: 2, imageHeight: 400, imageWidth: 400) == (50, 50))
        XCTAssertTrue(HSNet.featureSize(layer: 4, imageHeight: 473, imageWidth: 300) == (15, 10))
    }
}
