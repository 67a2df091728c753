import Foundation
import HSNetCore
import TensorCore
import XCTest

/// A det-fill PATNet saved as a checkpoint (`backbone.*`, `hpn_learner.*`,
/// `reference_layer1..3.*`) runs through the commands that take a model, `finetune` trains
/// maskers on it, and `train` trains a fresh one (`--model patnet`) whose checkpoint carries
/// its reference weights.
final class PATNetWorkflowTests: CommandLineTestCase {
    let size = "96"

    func checkpoint() throws -> String {
        try writeCheckpoint(HSNet.deterministicStateDict(backbone: .resnet50) + HSNet.deterministicReferenceLayers(),
                            named: "patnet.safetensors")
    }

    func testPATNetCheckpointRunsThroughTheCommands() throws {
        let model = try checkpoint()
        let workflow = try makeWorkflowData(size: size)
        let data = workflow.root

        let inspected = try run(["inspect", model])
        XCTAssertEqual(inspected.status, 0, inspected.stderr)
        XCTAssertTrue(inspected.stdout.contains("Model: PATNet with ResNet-50 backbone"), inspected.stdout)
        XCTAssertTrue(inspected.stdout.hasSuffix("\nRuns in cdfss: yes: PATNet (ResNet-50)\n"), inspected.stdout)

        let (image, mask, query) = (workflow.support, workflow.supportMask, workflow.query)
        try assertPredictsAndTests(model, data: workflow, size: size)

        let analysed = try run(["analyze", "correlation", "--checkpoint", model, "--no-masker", "--images", data + "/class-1/images",
                                "--taps", "layer4.2", "--image-size", size, "--json"])
        XCTAssertEqual(analysed.status, 0, analysed.stderr)

        // Masker fine-tuning through PATNet's transformation (prototypes, pseudo-inverse): a
        // fresh APM-M + ACPA moves, and the result runs in predict.
        let tuned = try run(["finetune", "--checkpoint", model, "--adapt-image", image, "--adapt-mask", mask,
                             "--adapt-image", query, "--adapt-mask", data + "/class-1/masks/002.png",
                             "--steps", "3", "--lr", "0.1", "--image-size", size, "--output", path("masker.safetensors"), "--json"])
        XCTAssertEqual(tuned.status, 0, tuned.stderr)
        let masker = try SafetensorsFile.read(URL(fileURLWithPath: path("masker.safetensors")))
        for name in ["apm.mask_amplitude", "apm.mask_phase"] {
            let values = try XCTUnwrap(masker.tensors[name], name).scalars
            XCTAssertEqual(values.count, 2048 * 3 * 3, name)
            // A fresh APM starts at 1 everywhere; Adam's first steps move every entry the gradient reaches.
            XCTAssertGreaterThan(values.filter { $0 != 1 }.count, values.count / 2, "\(name) did not move")
        }
        XCTAssertNotNil(masker.tensors["acpa.phase_attn.0.weight"])
        let withMasker = try run(["predict", "--checkpoint", model, "--masker", path("masker.safetensors"), "--query", query,
                                  "--support", image, "--support-mask", mask, "--image-size", size, "--output", path("pred-m.png")])
        XCTAssertEqual(withMasker.status, 0, withMasker.stderr)
        // Per-episode adaptation takes the same path.
        let adapted = try run(["test", "--checkpoint", model, "--benchmark", "folder", "--datapath", data, "--shots", "1",
                               "--episodes", "1", "--adapt", "episode", "--steps", "2", "--image-size", size])
        XCTAssertEqual(adapted.status, 0, adapted.stderr)
        XCTAssertTrue(adapted.stdout.contains("mIoU: "), adapted.stdout)

        // A fresh PATNet trains its learner and reference layers; the result runs in predict.
        let trained = try run(["train", "--backbone", "builtin:deterministic", "--model", "patnet", "--benchmark", "folder",
                               "--datapath", data, "--epochs", "1", "--episodes-per-epoch", "2", "--batch", "2",
                               "--image-size", size, "--include-backbone", "--output", path("run")])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let file = try SafetensorsFile.read(URL(fileURLWithPath: path("run/last.safetensors")))
        let fresh = try PrototypeTransformation.freshlyInitialized(seed: 0)
        for layer in 2...4 {
            let name = PrototypeTransformation.parameterName(layer: layer)
            let weight = try XCTUnwrap(file.tensors[name], name)
            XCTAssertNotEqual(weight, fresh.references[layer]!, "\(name) did not move")
        }
        let again = try run(["predict", "--checkpoint", path("run/last.safetensors"), "--query", query, "--support", image,
                             "--support-mask", mask, "--image-size", size, "--output", path("pred2.png")])
        XCTAssertEqual(again.status, 0, again.stderr)
        assertFailsWithOneLine(try run(["train", "--backbone", "builtin:deterministic", "--model", "vgg", "--benchmark", "folder",
                                        "--datapath", data, "--image-size", size, "--output", path("bad")]),
                               mentioning: ["--model vgg"])
    }
}
