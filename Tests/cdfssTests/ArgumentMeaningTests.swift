import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import FreqMask
import TensorCore
import XCTest

/// Arguments that used to be read otherwise than the user meant, or ignored without a word,
/// and the machine-readable outputs scripts rely on.
final class ArgumentMeaningTests: CommandLineTestCase {
    let size = "64"

    func synthesize() throws -> String {
        let folder = path("data")
        let made = try run(["synth", "--out", folder, "--style", "objects", "--classes", "2", "--images-per-class", "4",
                            "--size", size, "--seed", "3"])
        XCTAssertEqual(made.status, 0, made.stderr)
        return folder
    }

    func json(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text, file: file, line: line)
    }

    /// Every key of every object in `value`, recursively, except inside the objects named in
    /// `free` (their keys are data: masker metadata, weight names).
    func keys(of value: Any, free: Set<String> = ["metadata", "acpa_weight_norms"]) -> [String] {
        if let object = value as? [String: Any] {
            return object.flatMap { key, inner in [key] + (free.contains(key) ? [] : keys(of: inner, free: free)) }
        }
        if let array = value as? [Any] { return array.flatMap { keys(of: $0, free: free) } }
        return []
    }

    func assertSnakeCase(_ text: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
        let found = keys(of: value)
        XCTAssertFalse(found.isEmpty, what, file: file, line: line)
        for key in found {
            XCTAssertNotNil(key.range(of: "^[a-z0-9_]+$", options: .regularExpression), "\(what): key \(key)", file: file, line: line)
        }
    }

    func testAdaptationOptionsWithoutAdaptationAreRefused() throws {
        let test = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", path("none")]
        assertFailsWithOneLine(try run(test + ["--steps", "5", "--lr", "0.1"]), mentioning: ["--steps, --lr", "--adapt episode"])
        assertFailsWithOneLine(try run(test + ["--optimizer", "sgd"]), mentioning: ["--optimizer", "--adapt"])
        assertFailsWithOneLine(try run(test + ["--adapt", "episode", "--adapt-count", "3"]), mentioning: ["--adapt-count", "domain"])
        assertFailsWithOneLine(try run(test + ["--adapt", "episode", "--save-masker", path("m.safetensors")]),
                               mentioning: ["--save-masker", "--adapt episode"])
        assertFailsWithOneLine(try run(test + ["--adapt", "domain", "--seeds", "0,1", "--save-masker", path("m.safetensors")]),
                               mentioning: ["--save-masker", "--seeds"])
    }

    func testOutputsMustBeNamedForTheFormatWritten() throws {
        let predict = ["predict", "--checkpoint", "builtin:deterministic", "--query", path("q.png"), "--support", path("q.png"),
                       "--support-mask", path("q.png")]
        assertFailsWithOneLine(try run(predict + ["--output", path("x.jpg")]), mentioning: ["--output", "x.jpg", "PNG", ".png"])
        assertFailsWithOneLine(try run(predict + ["--overlay", path("x.tif")]), mentioning: ["--overlay", ".png"])
        assertFailsWithOneLine(try run(predict + ["--logits", path("x.png")]), mentioning: ["--logits", ".npy"])
        assertFailsWithOneLine(try run(predict + ["--output", path("noextension")]), mentioning: ["no extension"])
        assertFailsWithOneLine(try run(["masker", "show", path("m.safetensors"), "--png", path("m.jpeg")]), mentioning: ["--png", ".png"])
        assertFailsWithOneLine(try run(["finetune", "--checkpoint", "builtin:deterministic", "--adapt-image", path("a.png"),
                                        "--adapt-mask", path("a.png"), "--output", path("m.npy")]), mentioning: ["--output", ".safetensors"])
        assertFailsWithOneLine(try run(["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", path("d"),
                                        "--report", path("r.txt")]), mentioning: ["--report", ".json"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
        // Letter case does not matter.
        XCTAssertEqual(try run(["masker", "init", "--channels", "2", "--height", "2", "--width", "2", "--output", path("M.SAFETENSORS")]).status, 0)
    }

    func testUsageErrorsAreOneLineThatPointsToHelp() throws {
        assertFailsWithOneLine(try run(["predict", "--checkpoint", "builtin:deterministic", "--query", path("q.png"),
                                        "--support", path("q.png"), "--output", path("o.png")]),
                               mentioning: ["--support-mask", "cdfss predict --help"])
        assertFailsWithOneLine(try run(["test", "--checkpoint", "c", "--benchmark", "nope", "--datapath", "d"]),
                               mentioning: ["'nope'", "deepglobe", "cdfss test --help"])
        assertFailsWithOneLine(try run(["synth", "--out", path("s"), "--style", "xray", "--classes", "1000000000000",
                                        "--images-per-class", "1000000000"]), mentioning: ["--classes", "100000"])
        let help = try run(["masker", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("SUBCOMMANDS"), help.stdout)
    }

    func testUnknownBuiltinModelNamesTheBuiltinOnes() throws {
        assertFailsWithOneLine(try run(["predict", "--checkpoint", "builtin:random", "--query", path("q.png"), "--support", path("q.png"),
                                        "--support-mask", path("q.png"), "--output", path("o.png")]),
                               mentioning: ["builtin:random", "builtin:deterministic"])
        assertFailsWithOneLine(try run(["test", "--checkpoint", "builtin:random", "--benchmark", "folder", "--datapath", path("d")]),
                               mentioning: ["builtin:random", "builtin:deterministic"])
        assertFailsWithOneLine(try run(["analyze", "features", "--checkpoint", "builtin:random", "--image", path("q.png"), "--out", path("o")]),
                               mentioning: ["builtin:random", "builtin:deterministic"])
    }

    func testOtherFileKindsAreNamedAndInspectReadsSafetensors() throws {
        // A zip archive, as torch.save writes, given to masker show.
        try Data([0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 7, count: 60)).write(to: URL(fileURLWithPath: path("model.pt")))
        assertFailsWithOneLine(try run(["masker", "show", path("model.pt")]), mentioning: [path("model.pt"), "PyTorch checkpoint", "not a safetensors file"])
        try NumPyArray.write(Tensor(zeros: [2]), to: URL(fileURLWithPath: path("a.safetensors")))
        assertFailsWithOneLine(try run(["masker", "show", path("a.safetensors")]), mentioning: ["NumPy"])
        assertFailsWithOneLine(try run(["inspect", path("a.safetensors")]), mentioning: ["NumPy", "not a checkpoint"])

        let masker = path("m.safetensors")
        XCTAssertEqual(try run(["masker", "init", "--channels", "4", "--height", "3", "--width", "3", "--output", masker]).status, 0)
        let listed = try run(["inspect", masker, "--json"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        let summary = try json(listed.stdout)
        let tensors = try XCTUnwrap(summary["tensors"] as? [[String: Any]])
        XCTAssertEqual(tensors.compactMap { $0["name"] as? String },
                       ["acpa.phase_attn.0.weight", "acpa.phase_attn.2.weight", "apm.mask_amplitude", "apm.mask_phase"])
        XCTAssertEqual(tensors.compactMap { $0["dtype"] as? String }, Array(repeating: "float32", count: 4))
        // Two masks of 4 x 3 x 3 and two ACPA weights of 8 x 4.
        XCTAssertEqual((summary["parameter_counts"] as? [String: Int])?["masker"], 2 * 36 + 2 * 32)
        let text = try run(["inspect", masker])
        XCTAssertTrue(text.stdout.contains("Masker # param.: 136"), text.stdout)
    }

    func testNegativeNumbersReachTheirCheck() throws {
        // Without parsing the next argument unconditionally, "-1" looked like an option and the
        // error was about a missing value.
        let finetune = ["finetune", "--checkpoint", "builtin:deterministic", "--adapt-image", path("a.png"), "--adapt-mask", path("a.png"),
                        "--output", path("m.safetensors")]
        assertFailsWithOneLine(try run(finetune + ["--lr", "-1"]), mentioning: ["--lr -1", "> 0"])
        assertFailsWithOneLine(try run(finetune + ["--steps", "-3"]), mentioning: ["--steps -3", "at least 1"])
        assertFailsWithOneLine(try run(["masker", "init", "--channels", "-2", "--height", "2", "--width", "2", "--output", path("m.safetensors")]),
                               mentioning: ["--channels -2"])
        // Where a negative value has no meaning, the error is about the value, not a missing one.
        let test = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", path("d")]
        assertFailsWithOneLine(try run(test + ["--seed", "-1"]), mentioning: ["'-1'", "--seed"])
        assertFailsWithOneLine(try run(test + ["--shard", "-1/4"]), mentioning: ["'-1/4'", "counts from 0"])
    }

    func testDefaultsAgreeBetweenCommands() throws {
        // One default number of steps for finetune and for test-time adaptation (help text
        // is wrapped to the terminal, so whitespace runs are folded before searching).
        func help(_ command: String) throws -> String {
            try run([command, "--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        }
        let steps = FineTuneSettings.defaultSteps
        let finetuneHelp = try help("finetune"), testHelp = try help("test")
        XCTAssertTrue(finetuneHelp.contains("the same default as test --adapt). (default: \(steps))"), finetuneHelp)
        XCTAssertTrue(testHelp.contains("(default: \(steps), as finetune)"), testHelp)
        XCTAssertEqual(FineTuneSettings().steps, steps)
        // A fresh masker has ACPA in masker init as in finetune and test --adapt.
        XCTAssertEqual(try run(["masker", "init", "--channels", "4", "--height", "3", "--width", "3", "--output", path("m.safetensors")]).status, 0)
        XCTAssertNotNil(try MaskerState.read(URL(fileURLWithPath: path("m.safetensors"))).channelAttention)
        XCTAssertEqual(try run(["masker", "init", "--no-acpa", "--channels", "4", "--height", "3", "--width", "3",
                                "--output", path("n.safetensors")]).status, 0)
        XCTAssertNil(try MaskerState.read(URL(fileURLWithPath: path("n.safetensors"))).channelAttention)
    }

    func testDomainAdaptationKeepsItsMaskerAndScriptsGetJSON() throws {
        let data = try synthesize()
        let saved = path("adapted.safetensors")
        let tested = try run(["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                              "--episodes", "6", "--image-size", size, "--adapt", "domain", "--adapt-count", "2", "--steps", "2",
                              "--save-masker", saved, "--report", path("r.json"), "--json"])
        XCTAssertEqual(tested.status, 0, tested.stderr)
        XCTAssertEqual(tested.stdout.split(separator: "\n").count, 1, "one JSON line on stdout: \(tested.stdout)")
        try assertSnakeCase(tested.stdout, "test --json")
        let summary = try json(tested.stdout)
        XCTAssertEqual(summary["adaptation"] as? String, "domain")
        XCTAssertEqual(summary["report"] as? String, path("r.json"))
        let report = try json(String(decoding: try Data(contentsOf: URL(fileURLWithPath: path("r.json"))), as: UTF8.self))
        XCTAssertEqual(summary["miou"] as? Double, report["miou"] as? Double)
        XCTAssertEqual(summary["fbiou"] as? Double, report["fbiou"] as? Double)

        // The adapted masker, with the run in its metadata.
        let masker = try MaskerState.read(URL(fileURLWithPath: saved))
        XCTAssertEqual(masker.metadata["training.steps"], "2")
        XCTAssertEqual(masker.metadata["training.variant"], "apm-m+acpa")
        XCTAssertEqual(masker.metadata["evaluation.benchmark"], "folder")
        let images = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(masker.metadata["training.adapt_images"]).utf8)) as? [[String]])
        let reported = try XCTUnwrap(((report["config"] as? [String: Any])?["adaptation"] as? [String: Any])?["images"] as? [String])
        XCTAssertEqual(images.map(\.[0]), reported.map { URL(fileURLWithPath: data).appendingPathComponent($0).path })
        XCTAssertEqual(lossCount(masker.metadata["training.loss_curve"]), 2)
        // Used again as a fixed masker, it runs.
        XCTAssertEqual(try run(["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                                "--episodes", "2", "--image-size", size, "--masker", saved]).status, 0)

        // Each episode record carries its own foreground IoU, in percent, from its counts.
        for episode in try XCTUnwrap(report["episodes"] as? [[String: Any]]) {
            let intersection = try XCTUnwrap(episode["intersection"] as? [Int]), union = try XCTUnwrap(episode["union"] as? [Int])
            let iou = try XCTUnwrap(episode["foreground_iou"] as? Double)
            XCTAssertEqual(iou, 100 * Double(intersection[1]) / Double(max(union[1], 1)), accuracy: 1e-9)
        }

        // report show: the same summary as JSON; as text, percentages said as such.
        let shownJSON = try run(["report", "show", path("r.json"), "--json"])
        XCTAssertEqual(shownJSON.status, 0, shownJSON.stderr)
        XCTAssertEqual(try json(shownJSON.stdout) as NSDictionary, summary as NSDictionary)
        let shown = try run(["report", "show", path("r.json")])
        XCTAssertTrue(shown.stdout.contains("IoU %"), shown.stdout)
        let last = try XCTUnwrap(shown.stdout.split(separator: "\n").last)
        XCTAssertNotNil(last.range(of: #"^mIoU: \d+\.\d\d%  FB-IoU: \d+\.\d\d%$"#, options: .regularExpression), String(last))
    }

    /// How many losses a `training.loss_curve` metadata value lists.
    func lossCount(_ text: String?) -> Int? {
        guard let text, let values = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Double] else { return nil }
        return values.count
    }

    func testJSONOutputsUseSnakeCaseKeys() throws {
        let data = try synthesize()
        let masker = path("m.safetensors")
        XCTAssertEqual(try run(["masker", "init", "--channels", "2048", "--height", "2", "--width", "2", "--output", masker]).status, 0)
        let shown = try run(["masker", "show", masker, "--json"])
        try assertSnakeCase(shown.stdout, "masker show --json")
        XCTAssertNotNil(try json(shown.stdout)["acpa_channels"])
        try assertSnakeCase(try run(["inspect", masker, "--json"]).stdout, "inspect --json")
        try assertSnakeCase(try run(["datasets", "check", "--benchmark", "folder", "--datapath", data, "--json"]).stdout, "datasets check --json")

        let image = URL(fileURLWithPath: data).appendingPathComponent("class-1/images/001.png").path
        let mask = URL(fileURLWithPath: data).appendingPathComponent("class-1/masks/001.png").path
        let predicted = try run(["predict", "--checkpoint", "builtin:deterministic", "--query", image, "--support", image,
                                 "--support-mask", mask, "--image-size", size, "--output", path("p.png"), "--json"])
        XCTAssertEqual(predicted.status, 0, predicted.stderr)
        try assertSnakeCase(predicted.stdout, "predict --json")

        let correlation = try run(["analyze", "correlation", "--checkpoint", "builtin:deterministic", "--masker", masker,
                                   "--images", URL(fileURLWithPath: data).appendingPathComponent("class-1/images").path,
                                   "--image-size", size, "--taps", "layer4", "--json"])
        XCTAssertEqual(correlation.status, 0, correlation.stderr)
        try assertSnakeCase(correlation.stdout, "analyze correlation --json")

        let tuned = try run(["finetune", "--checkpoint", "builtin:deterministic", "--adapt-image", image, "--adapt-mask", mask,
                             "--masker-init", masker, "--steps", "2", "--image-size", size, "--output", path("t.safetensors"), "--json"])
        XCTAssertEqual(tuned.status, 0, tuned.stderr)
        try assertSnakeCase(tuned.stdout, "finetune --json")
        let run = try json(tuned.stdout)
        XCTAssertEqual(run["steps"] as? Int, 2)
        XCTAssertEqual(run["steps_this_run"] as? Int, 2)
        let curve = try losses(path("t.safetensors"))
        // Compared as float32, the losses' own precision (JSON numbers are printed as doubles).
        XCTAssertEqual((run["first_loss"] as? Double).map(Float.init), curve.first)
        XCTAssertEqual((run["last_loss"] as? Double).map(Float.init), curve.last)
    }

    func losses(_ file: String) throws -> [Float] {
        let text = try XCTUnwrap(try MaskerState.read(URL(fileURLWithPath: file)).metadata["training.loss_curve"])
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Double]).map(Float.init)
    }
}
