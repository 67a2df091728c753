import Foundation
import TensorCore
import XCTest

final class CheckpointSummaryTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    func testHSNetLearnerCheckpointCountsLearnerAndMaskers() throws {
        let summary = try CheckpointSummary.read(Self.fixtures.appendingPathComponent("hsnet_apm_nonbackbone.pt"))
        XCTAssertEqual(summary.kind, .hsnet(backbone: nil, maskers: ["APM", "ACPA"]))
        XCTAssertEqual(summary.tensors.count, 102)
        XCTAssertEqual(summary.parameterCount(.backbone), 0)
        XCTAssertEqual(summary.parameterCount(.learner), 2_573_794)
        XCTAssertEqual(summary.parameterCount(.masker), 692_224 + 32_768)
        XCTAssertEqual(summary.bufferCount, 0)
        let report = summary.textReport()
        XCTAssertTrue(report.contains("Backbone # param.: 0  Learnable # param.: 2,573,794  Masker # param.: 724,992  Total # param.: 3,298,786"), report)
        XCTAssertTrue(report.contains("Model: HSNet learner without backbone, maskers APM, ACPA"), report)
        let maskLine = try XCTUnwrap(report.split(separator: "\n").first { $0.hasPrefix("apm.mask_amplitude ") })
        XCTAssertTrue(maskLine.contains("[1, 2048, 13, 13]") && maskLine.contains("float32") && maskLine.hasSuffix("346,112"), String(maskLine))
    }

    /// PATNet's reference layers name the model and count apart; maskers of other layers
    /// (`layer3.apm.*`) count as maskers.
    func testPATNetAndMaskersOfOtherLayersAreNamed() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("patnet-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafetensorsFile(tensors: [
            "hpn_learner.decoder2.2.weight": Tensor(zeros: [2, 16, 3, 3]),
            "reference_layer1.weight": Tensor(zeros: [2, 512]), "reference_layer1.bias": Tensor(zeros: [2]),
            "apm.mask_amplitude": Tensor(zeros: [1, 2048, 3, 3]),
            "layer3.apm.mask_amplitude": Tensor(zeros: [1, 1024, 6, 6]),
            "layer3.acpa.phase_attn.0.weight": Tensor(zeros: [8, 1024]),
        ]).write(to: url)
        let summary = try CheckpointSummary(safetensors: url)
        XCTAssertEqual(summary.kind, .patnet(backbone: nil, maskers: ["APM", "layer3 APM", "layer3 ACPA"]))
        XCTAssertEqual(summary.parameterCount(.reference), 1026)
        XCTAssertEqual(summary.parameterCount(.masker), 2048 * 9 + 1024 * 36 + 8 * 1024)
        XCTAssertEqual(summary.parameterCount(.other), 0)
        let report = summary.textReport()
        XCTAssertTrue(report.contains("Model: PATNet learner without backbone, maskers APM, layer3 APM, layer3 ACPA"), report)
        XCTAssertTrue(report.contains("Reference layers # param.: 1,026"), report)
    }

    func testTorchvisionResNet50NamesAreRecognisedAsBackboneOnly() throws {
        // Every tensor of this fixture holds one element, so counts are counts of names:
        // 159 learned, 159 BatchNorm buffers (106 statistics, 53 counters), fc.weight and fc.bias.
        let summary = try CheckpointSummary.read(Self.fixtures.appendingPathComponent("checkpoints/resnet50_names.pt"))
        XCTAssertEqual(summary.kind, .backboneOnly(architecture: "ResNet-50"))
        XCTAssertEqual(summary.parameterCount(.backbone), 159)
        XCTAssertEqual(summary.parameterCount(.unused), 2)
        XCTAssertEqual(summary.parameterCount(.other), 0)
        XCTAssertEqual(summary.bufferCount, 159)
        XCTAssertEqual(summary.totalParameterCount, 159)
        let report = summary.textReport()
        XCTAssertTrue(report.contains("Model: ResNet-50 (backbone only)"), report)
        XCTAssertTrue(report.contains("Unused by HSNet (backbone classifier): 2 param."), report)
        XCTAssertTrue(report.contains("(unused by HSNet)"), report)
    }

    func testTrainingCheckpointSummaryNamesItsOtherEntries() throws {
        let summary = try CheckpointSummary.read(Self.fixtures.appendingPathComponent("checkpoints/training.pt"))
        XCTAssertEqual(summary.nesting, ["state_dict"])
        XCTAssertEqual(summary.kind, .other)
        XCTAssertTrue(summary.otherEntries.contains("epoch = 1"), "\(summary.otherEntries)")
        XCTAssertTrue(summary.otherEntries.contains("best_miou = 41.5"), "\(summary.otherEntries)")
        XCTAssertTrue(summary.otherEntries.contains("optimizer: a dict of 2 entries"), "\(summary.otherEntries)")
        // bn.running_mean, bn.running_var (4 each) and bn.num_batches_tracked (1).
        XCTAssertEqual(summary.bufferCount, 9)
        XCTAssertEqual(summary.parameterCount(.other), 108 + 4 + 4 + 4 + 8 + 2)
        XCTAssertEqual(summary.tensors.first { $0.name == "bn.num_batches_tracked" }?.dtype, "int64")
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(summary)) as? [String: Any]
        XCTAssertEqual((json?["parameter_counts"] as? [String: Int])?["buffers"], 9)
        XCTAssertEqual((json?["tensors"] as? [Any])?.count, 9)
    }

    func testDataParallelPrefixIsReported() throws {
        let summary = try CheckpointSummary.read(Self.fixtures.appendingPathComponent("checkpoints/dataparallel.pt"))
        XCTAssertEqual(summary.removedPrefix, "module.")
        XCTAssertTrue(summary.textReport().contains("State dict: top level, 'module.' prefix removed, 9 tensors"))
    }
}
