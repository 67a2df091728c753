import Foundation
import HSNetCore
import TensorCore
import XCTest

/// A det-fill HSNet-ResNet-101 saved as a checkpoint (`backbone.*`, `hpn_learner.*`) runs
/// through the commands that take a model: inspect names it, predict and test run it, the
/// masker's fine-tuning finds its layer-4 taps, analyze knows its 30 taps.
final class ResNet101WorkflowTests: CommandLineTestCase {
    let size = "96"

    func checkpoint() throws -> String {
        try writeCheckpoint(HSNet.deterministicStateDict(backbone: .resnet101), named: "hsnet-resnet101.safetensors")
    }

    func testResNet101CheckpointRunsThroughTheCommands() throws {
        let model = try checkpoint()
        let workflow = try makeWorkflowData(size: size)
        let data = workflow.root

        let inspected = try run(["inspect", model])
        XCTAssertEqual(inspected.status, 0, inspected.stderr)
        XCTAssertTrue(inspected.stdout.contains("Model: HSNet with ResNet-101 backbone"), inspected.stdout)
        XCTAssertTrue(inspected.stdout.hasSuffix("\nRuns in cdfss: yes: HSNet with a ResNet-101 backbone\n"), inspected.stdout)

        let (image, mask) = (workflow.support, workflow.supportMask)
        // Every adaptation mode builds maskers on its layer-4 taps.
        try assertPredictsAndTests(model, data: workflow, size: size,
                                   testOptions: [["--adapt", "none"], ["--adapt", "episode", "--steps", "1"],
                                                 ["--adapt", "domain", "--steps", "1", "--adapt-count", "2"]])

        // The maskers sit on layer 4, whose three taps come last in both depths.
        let tuned = try run(["finetune", "--checkpoint", model, "--adapt-image", image, "--adapt-mask", mask, "--steps", "2",
                             "--image-size", size, "--output", path("masker.safetensors")])
        XCTAssertEqual(tuned.status, 0, tuned.stderr)

        let analysed = try run(["analyze", "correlation", "--checkpoint", model, "--no-masker", "--images", data + "/class-1/images",
                                "--taps", "layer3.22,layer4.2", "--image-size", size, "--json"])
        XCTAssertEqual(analysed.status, 0, analysed.stderr)
        XCTAssertTrue(analysed.stdout.contains("layer3.22"), analysed.stdout)

        // Its learner trains from the checkpoint (the 23 layer-3 taps' squeezing block included),
        // and the result runs in predict.
        let trained = try run(["train", "--checkpoint", model, "--benchmark", "folder", "--datapath", data, "--epochs", "1",
                               "--episodes-per-epoch", "2", "--batch", "2", "--image-size", size, "--include-backbone",
                               "--output", path("run")])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let retrained = try SafetensorsFile.read(URL(fileURLWithPath: path("run/last.safetensors"))).tensors
        let start = Dictionary(uniqueKeysWithValues: HSNet.deterministicStateDict(backbone: .resnet101).map { ($0.name, $0.tensor) })
        XCTAssertEqual(retrained["hpn_learner.encoder_layer3.0.conv1.weight"]?.shape, [16, 23, 5, 5])
        XCTAssertNotEqual(retrained["hpn_learner.encoder_layer3.0.conv1.weight"], start["hpn_learner.encoder_layer3.0.conv1.weight"])
        let again = try run(["predict", "--checkpoint", path("run/last.safetensors"), "--query", workflow.query,
                             "--support", image, "--support-mask", mask, "--image-size", size, "--output", path("pred3.png")])
        XCTAssertEqual(again.status, 0, again.stderr)

        // ResNet-50 has no layer3.22: said once the model is known.
        assertFailsWithOneLine(try run(["analyze", "correlation", "--checkpoint", "builtin:deterministic", "--no-masker",
                                        "--images", data + "/class-1/images", "--taps", "layer3.22", "--image-size", size]),
                               mentioning: ["layer3.22", "ResNet-50"])
    }
}
