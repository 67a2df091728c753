import Finetune
import Foundation
import FreqMask
import TensorCore
import XCTest

/// Maskers on layers other than 4, from the command line: `masker init --for --slot`,
/// `finetune --slots`, resuming, test-time adaptation with `--slots`, and the errors for
/// maskers that do not fit the layer they name.
final class SlotWorkflowTests: CommandLineTestCase {
    let size = "96"

    func picture() throws -> (image: String, mask: String) {
        let folder = path("data")
        let made = try run(["synth", "--out", folder, "--style", "xray", "--classes", "2", "--images-per-class", "3",
                            "--size", size, "--seed", "5"])
        XCTAssertEqual(made.status, 0, made.stderr)
        let base = URL(fileURLWithPath: folder)
        return (base.appendingPathComponent("class-1/images/001.png").path, base.appendingPathComponent("class-1/masks/001.png").path)
    }

    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testMaskersOnLayers3And4AreMadeTrainedAndResumed() throws {
        let (image, mask) = try picture()
        let start = path("start.safetensors")
        let made = try run(["masker", "init", "--for", "builtin:deterministic", "--slot", "layer3,layer4", "--image-size", size,
                            "--seed", "4", "--output", start])
        XCTAssertEqual(made.status, 0, made.stderr)
        let file = try SafetensorsFile.read(URL(fileURLWithPath: start))
        // ResNet taps at 96 x 96: layer 3 is 1024 x 6 x 6, layer 4 2048 x 3 x 3.
        XCTAssertEqual(file.tensors["layer3.apm.mask_amplitude"]?.shape, [1, 1024, 6, 6])
        XCTAssertEqual(file.tensors["layer3.acpa.phase_attn.0.weight"]?.shape, [8, 1024])
        XCTAssertEqual(file.tensors["apm.mask_phase"]?.shape, [1, 2048, 3, 3])
        XCTAssertEqual(file.tensors.count, 8)
        XCTAssertEqual(file.metadata["layers"], "3,4")
        XCTAssertEqual(file.metadata["slots"], "layer3.query,layer3.support,layer4.query,layer4.support,"
            + "layer3.query.masked,layer3.support.masked,layer4.query.masked,layer4.support.masked")

        // A fresh run with --slots starts from that same masker (same seed): the same result
        // as starting from the file.
        let common = ["finetune", "--checkpoint", "builtin:deterministic", "--adapt-image", image, "--adapt-mask", mask,
                      "--image-size", size, "--lr", "0.05", "--seed", "4"]
        let fresh = try run(common + ["--slots", "layer3,layer4", "--steps", "2", "--output", path("fresh.safetensors")])
        XCTAssertEqual(fresh.status, 0, fresh.stderr)
        let fromFile = try run(common + ["--masker-init", start, "--steps", "2", "--output", path("from-file.safetensors")])
        XCTAssertEqual(fromFile.status, 0, fromFile.stderr)
        let tuned = try MaskerState.read(URL(fileURLWithPath: path("fresh.safetensors")))
        XCTAssertEqual(tuned.stateDict, try MaskerState.read(URL(fileURLWithPath: path("from-file.safetensors"))).stateDict)
        XCTAssertEqual(tuned.metadata["training.variant"], "apm-m+acpa@layer3,layer4")
        // The layer-3 maskers moved. (This picture's support mask, sampled at the 3 x 3 layer-4
        // positions, keeps none of them: the layer-4 correlation is all zero and passes no
        // gradient, so the layer-4 maskers stay where they started, as in the published code.)
        let initial = try MaskerState.read(URL(fileURLWithPath: start)).stateDict
        for name in ["layer3.apm.mask_amplitude", "layer3.apm.mask_phase", "layer3.acpa.phase_attn.2.weight"] {
            XCTAssertNotEqual(tuned.stateDict[name], initial[name], name)
        }

        // Resuming continues on both layers, as an uninterrupted run would.
        let resumed = try run(common + ["--slots", "layer3,layer4", "--steps", "3", "--resume", "--output", path("fresh.safetensors")])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let straight = try run(common + ["--slots", "layer3,layer4", "--steps", "3", "--output", path("straight.safetensors")])
        XCTAssertEqual(straight.status, 0, straight.stderr)
        XCTAssertEqual(try MaskerState.read(URL(fileURLWithPath: path("fresh.safetensors"))).stateDict,
                       try MaskerState.read(URL(fileURLWithPath: path("straight.safetensors"))).stateDict)

        // --slots that disagree with the masker given, and a masker shaped for another layer.
        assertFailsWithOneLine(try run(common + ["--masker-init", start, "--slots", "layer4", "--output", path("x.safetensors")]),
                               mentioning: ["--slots layer4", start, "layer3,layer4"])
        assertFailsWithOneLine(try run(common + ["--slots", "layer5", "--output", path("x.safetensors")]),
                               mentioning: ["--slots", "layer5", "layer2, layer3 or layer4"])
        let misplaced = path("misplaced.safetensors")
        XCTAssertEqual(try run(["masker", "init", "--channels", "2048", "--height", "6", "--width", "6", "--slot", "layer3",
                                "--output", misplaced]).status, 0)
        assertFailsWithOneLine(try run(common + ["--masker-init", misplaced, "--output", path("x.safetensors")]),
                               mentioning: [misplaced, "layer3.apm masks have 2048 channels", "layer-3 features have 1024"])
        assertFailsWithOneLine(try run(["masker", "init", "--channels", "8", "--height", "3", "--width", "3", "--slot", "layer3,layer4",
                                        "--output", path("y.safetensors")]), mentioning: ["--for"])

        // The masker commands on a file of two layers.
        let show = try run(["masker", "show", start, "--slot", "layer3"])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("layer3 apm-m [1, 1024, 6, 6]") && show.stdout.contains("layer 3 below"), show.stdout)
        XCTAssertEqual(try json(try run(["masker", "show", start, "--slot", "layer3", "--json"]).stdout)["acpa_channels"] as? Int, 1024)
        try NumPyArray.write(Tensor(zeros: [1, 1024, 6, 6]), to: URL(fileURLWithPath: path("x.npy")))
        assertFailsWithOneLine(try run(["masker", "apply", "--masker", start, "--input", path("x.npy"), "--output", path("y.npy")]),
                               mentioning: ["layer3,layer4", "--slot"])
        let applied = try run(["masker", "apply", "--masker", start, "--slot", "layer3", "--input", path("x.npy"), "--output", path("y.npy")])
        XCTAssertEqual(applied.status, 0, applied.stderr)
    }

    func testTestTimeAdaptationHonoursSlots() throws {
        _ = try picture()
        let common = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", path("data"),
                      "--shots", "1", "--episodes", "2", "--image-size", size, "--json"]
        let adapted = try run(common + ["--adapt", "episode", "--steps", "1", "--slots", "layer2,layer4"])
        XCTAssertEqual(adapted.status, 0, adapted.stderr)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(adapted.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(summary["masker"] as? String, "fresh apm-m+acpa at layer2,layer4 (seed 0)")
        assertFailsWithOneLine(try run(common + ["--slots", "layer3"]), mentioning: ["--slots", "--adapt episode"])
    }
}
