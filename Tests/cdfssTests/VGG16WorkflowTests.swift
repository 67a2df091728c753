import Foundation
import HSNetCore
import TensorCore
import XCTest

/// HSNet with a VGG-16 backbone through every command that takes a model: a det-fill
/// checkpoint saved as a file (`backbone.features.*`, `hpn_learner.*`), torchvision's VGG-16
/// file as `--backbone-weights`, and the built-in `builtin:deterministic-vgg16`.
final class VGG16WorkflowTests: CommandLineTestCase {
    /// Small enough to be quick, a multiple of 32 so that pool5 is 2 x 2.
    let size = "64"

    func checkpoint() throws -> String {
        try writeCheckpoint(HSNet.deterministicStateDict(backbone: .vgg16), named: "hsnet-vgg16.safetensors")
    }

    /// torchvision's file: no prefix, with (a stand-in for) the classifier HSNet never runs.
    func torchvisionFile() throws -> String {
        var tensors: [String: Tensor] = [:]
        for entry in HSNet.deterministicBackboneStateDict(depth: .vgg16) { tensors[String(entry.name.dropFirst("backbone.".count))] = entry.tensor }
        tensors["classifier.6.weight"] = Tensor(zeros: [1000, 16])
        tensors["classifier.6.bias"] = Tensor(zeros: [1000])
        let file = path("vgg16.safetensors")
        try SafetensorsFile(tensors: tensors).write(to: URL(fileURLWithPath: file))
        return file
    }

    func testVGG16RunsThroughTheCommands() throws {
        let model = try checkpoint()
        let workflow = try makeWorkflowData(size: size)
        let data = workflow.root

        let inspected = try run(["inspect", model])
        XCTAssertEqual(inspected.status, 0, inspected.stderr)
        XCTAssertTrue(inspected.stdout.contains("Model: HSNet with VGG-16 backbone"), inspected.stdout)
        XCTAssertTrue(inspected.stdout.hasSuffix("\nRuns in cdfss: yes: HSNet with a VGG-16 backbone\n"), inspected.stdout)
        let weights = try torchvisionFile()
        let backboneInspected = try run(["inspect", weights])
        XCTAssertTrue(backboneInspected.stdout.hasSuffix("\nRuns in cdfss: as --backbone-weights (a VGG-16)\n"), backboneInspected.stdout)

        let (image, mask, query) = (workflow.support, workflow.supportMask, workflow.query)
        // Every adaptation mode builds maskers of VGG-16's layer-4 shape.
        try assertPredictsAndTests(model, data: workflow, size: size,
                                   testOptions: [["--adapt", "none"], ["--adapt", "episode", "--steps", "1"],
                                                 ["--adapt", "domain", "--steps", "1", "--adapt-count", "2"]])
        // The learner alone with torchvision's file gives the same model, so the same answer.
        let learner = path("learner.safetensors")
        try SafetensorsFile(tensors: Dictionary(uniqueKeysWithValues: HSNet.deterministicStateDict(backbone: .vgg16)
            .filter { $0.name.hasPrefix("hpn_learner.") }.map { ($0.name, $0.tensor) })).write(to: URL(fileURLWithPath: learner))
        let separate = try run(["predict", "--checkpoint", learner, "--backbone-weights", weights, "--query", query, "--support", image,
                                "--support-mask", mask, "--image-size", size, "--output", path("pred2.png"), "--json"])
        XCTAssertEqual(separate.status, 0, separate.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("pred.png"))), try Data(contentsOf: URL(fileURLWithPath: path("pred2.png"))))

        // A fresh masker fits VGG-16's layer-4 tap: 512 channels, 2 x 2 at 64 x 64.
        let masker = path("masker.safetensors")
        let tuned = try run(["finetune", "--checkpoint", "builtin:deterministic-vgg16", "--adapt-image", image, "--adapt-mask", mask,
                             "--steps", "2", "--image-size", size, "--output", masker])
        XCTAssertEqual(tuned.status, 0, tuned.stderr)
        let amplitude = try SafetensorsFile.read(URL(fileURLWithPath: masker)).tensors["apm.mask_amplitude"]
        XCTAssertEqual(amplitude?.shape, [1, 512, 2, 2])
        let adapted = try run(["test", "--checkpoint", model, "--benchmark", "folder", "--datapath", data, "--shots", "1",
                               "--episodes", "2", "--image-size", size, "--masker", masker])
        XCTAssertEqual(adapted.status, 0, adapted.stderr)
        // The same masker at a size whose pool5 differs is refused, with the sizes that fit.
        assertFailsWithOneLine(try run(["test", "--checkpoint", model, "--benchmark", "folder", "--datapath", data, "--shots", "1",
                                        "--episodes", "2", "--image-size", "96", "--masker", masker]),
                               mentioning: ["2 x 2", "3 x 3", "image sizes 64...95"])

        let analysed = try run(["analyze", "correlation", "--checkpoint", model, "--no-masker", "--images", data + "/class-1/images",
                                "--taps", "layer3.2,layer4", "--image-size", size, "--json"])
        XCTAssertEqual(analysed.status, 0, analysed.stderr)
        XCTAssertTrue(analysed.stdout.contains("layer4.0"), analysed.stdout)
        // The last tap by default: VGG-16's pool5.
        let drawn = try run(["analyze", "activation", "--checkpoint", model, "--no-masker", "--image", image, "--image-size", size,
                             "--output", path("activation.png")])
        XCTAssertEqual(drawn.status, 0, drawn.stderr)
        XCTAssertTrue(drawn.stdout.contains("layer4.0 channel mean"), drawn.stdout)
        // A masker file shaped for VGG-16 by `masker init --for`.
        let initialised = try run(["masker", "init", "--for", "builtin:deterministic-vgg16", "--image-size", size, "--output", path("fresh.safetensors")])
        XCTAssertEqual(initialised.status, 0, initialised.stderr)
        XCTAssertEqual(try SafetensorsFile.read(URL(fileURLWithPath: path("fresh.safetensors"))).tensors["apm.mask_amplitude"]?.shape,
                       [1, 512, 2, 2])
        // VGG-16 has one layer-4 tap: layer4.2 is a ResNet's, said once the model is known.
        assertFailsWithOneLine(try run(["analyze", "correlation", "--checkpoint", model, "--no-masker",
                                        "--images", data + "/class-1/images", "--taps", "layer4.2", "--image-size", size]),
                               mentioning: ["layer4.2", "VGG-16"])
        assertFailsWithOneLine(try run(["predict", "--checkpoint", model, "--query", query, "--support", image, "--support-mask", mask,
                                        "--image-size", "24", "--output", path("small.png")]),
                               mentioning: ["image size 24", "VGG-16", "32"])

        // Training the learner over torchvision's VGG-16 file, and over the built-in one.
        let source = path("source")
        XCTAssertEqual(try run(["synth", "--out", source, "--style", "source", "--classes", "2", "--images-per-class", "3",
                                "--size", size, "--seed", "2"]).status, 0)
        for backbone in [["--backbone-weights", weights], ["--backbone", "builtin:deterministic-vgg16"]] {
            let output = path("run-\(backbone[0].dropFirst(2))")
            let trained = try run(["train"] + backbone + ["--benchmark", "folder", "--datapath", source, "--epochs", "1",
                                   "--episodes-per-epoch", "2", "--batch", "2", "--image-size", size, "--output", output])
            XCTAssertEqual(trained.status, 0, trained.stderr)
            let learnerFile = try SafetensorsFile.read(URL(fileURLWithPath: output + "/last.safetensors")).tensors
            XCTAssertEqual(learnerFile["hpn_learner.encoder_layer4.0.conv1.weight"]?.shape, [16, 1, 3, 3])
        }
    }
}
