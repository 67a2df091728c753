import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import FreqMask
import HSNetCore
import TensorCore
import XCTest

/// The user's path through the toolkit on a synthetic target domain with the built-in model:
/// synth -> datasets check -> finetune -> test (each adaptation mode, shards, merge). Small
/// pictures (96 x 96, layer-4 maps of 3 x 3) keep it quick.
final class WorkflowTests: CommandLineTestCase {
    let size = "96"

    func synthesize(_ name: String, style: String = "lesion", classes: Int = 2, images: Int = 4) throws -> String {
        let folder = path(name)
        let made = try run(["synth", "--out", folder, "--style", style, "--classes", String(classes),
                            "--images-per-class", String(images), "--size", size, "--seed", "1"])
        XCTAssertEqual(made.status, 0, made.stderr)
        return folder
    }

    func report(_ file: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
    }

    func testSynthFinetuneAndTestEndToEnd() throws {
        let data = try synthesize("target")
        let check = try run(["datasets", "check", "--benchmark", "folder", "--datapath", data])
        XCTAssertEqual(check.status, 0, check.stderr + check.stdout)

        // Fine-tune from a list file with paths relative to it.
        let list = URL(fileURLWithPath: data).appendingPathComponent("adapt.tsv")
        try "class-1/images/001.png\tclass-1/masks/001.png\nclass-2/images/001.png\tclass-2/masks/001.png\n"
            .write(to: list, atomically: true, encoding: .utf8)
        let masker = path("adapted.safetensors")
        let tuned = try run(["finetune", "--checkpoint", "builtin:deterministic", "--adapt-list", list.path, "--steps", "3",
                             "--image-size", size, "--output", masker])
        XCTAssertEqual(tuned.status, 0, tuned.stderr)
        XCTAssertTrue(tuned.stdout.hasPrefix("loss "), tuned.stdout)
        let saved = try FineTunedMaskerFile.read(URL(fileURLWithPath: masker))
        XCTAssertEqual(saved.lossCurve.count, 3)
        XCTAssertEqual(saved.masker.metadata["training.variant"], "apm-m+acpa")
        XCTAssertEqual(saved.adaptImages.first?.first, list.deletingLastPathComponent().appendingPathComponent("class-1/images/001.png").path)

        let common = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                      "--shots", "1", "--episodes", "4", "--image-size", size]
        // A fixed masker, with pictures.
        let fixed = try run(common + ["--masker", masker, "--report", path("fixed.json"), "--vis-dir", path("vis"), "--vis-count", "2"])
        XCTAssertEqual(fixed.status, 0, fixed.stderr)
        XCTAssertTrue(fixed.stdout.contains("mIoU: ") && fixed.stdout.contains("FB-IoU: "), fixed.stdout)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("vis")).sorted(),
                       ["episode-00000.png", "episode-00001.png"])
        let fixedReport = try report(path("fixed.json"))
        XCTAssertEqual((fixedReport["episodes"] as? [Any])?.count, 4)
        XCTAssertEqual((fixedReport["config"] as? [String: Any])?["masker"] as? String, masker)

        // Episode adaptation.
        let episodic = try run(common + ["--adapt", "episode", "--steps", "2", "--report", path("episode.json")])
        XCTAssertEqual(episodic.status, 0, episodic.stderr)
        let episodeConfig = try XCTUnwrap(try report(path("episode.json"))["config"] as? [String: Any])
        XCTAssertEqual((episodeConfig["adaptation"] as? [String: Any])?["mode"] as? String, "episode")

        // Domain adaptation: its images appear in no episode.
        let domain = try run(["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                              "--shots", "1", "--episodes", "12", "--image-size", size, "--adapt", "domain",
                              "--adapt-count", "2", "--steps", "2", "--report", path("domain.json")])
        XCTAssertEqual(domain.status, 0, domain.stderr)
        let domainReport = try report(path("domain.json"))
        let adaptation = try XCTUnwrap((domainReport["config"] as? [String: Any])?["adaptation"] as? [String: Any])
        let adaptImages = try XCTUnwrap(adaptation["images"] as? [String])
        XCTAssertEqual(adaptImages.count, 2)
        for episode in try XCTUnwrap(domainReport["episodes"] as? [[String: Any]]) {
            let used = [episode["query"] as? String] + ((episode["supports"] as? [String]) ?? []).map { $0 }
            XCTAssertTrue(Set(used.compactMap { $0 }).isDisjoint(with: adaptImages), "\(used) uses an adaptation image")
        }
    }

    func testShardedRunsMergeIntoTheWholeRun() throws {
        let data = try synthesize("shards", style: "satellite", classes: 2, images: 3)
        let common = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                      "--shots", "2", "--episodes", "5", "--seeds", "0,3", "--image-size", size]
        XCTAssertEqual(try run(common + ["--report", path("whole.json")]).status, 0)
        XCTAssertEqual(try run(common + ["--shard", "0/2", "--report", path("s0.json")]).status, 0)
        XCTAssertEqual(try run(common + ["--shard", "1/2", "--report", path("s1.json")]).status, 0)
        let merged = try run(["report", "merge", path("s1.json"), path("s0.json"), "--output", path("merged.json")])
        XCTAssertEqual(merged.status, 0, merged.stderr)
        XCTAssertTrue(merged.stdout.contains("±"), merged.stdout)

        func withoutTimes(_ file: String) throws -> NSDictionary {
            var whole = try report(file)
            var runs = try XCTUnwrap(whole["runs"] as? [[String: Any]])
            for r in runs.indices {
                runs[r]["episodes"] = (runs[r]["episodes"] as? [[String: Any]])?.map { $0.filter { $0.key != "seconds" } }
            }
            whole["runs"] = runs
            return whole as NSDictionary
        }
        XCTAssertEqual(try withoutTimes(path("merged.json")), try withoutTimes(path("whole.json")))
    }

    func testOneSGDStepMovesEachParameterByMinusLearningRateTimesItsGradient() throws {
        let data = try synthesize("sgd", classes: 1, images: 2)
        let image = URL(fileURLWithPath: data).appendingPathComponent("class-1/images/001.png").path
        let mask = URL(fileURLWithPath: data).appendingPathComponent("class-1/masks/001.png").path
        let start = path("start.safetensors")
        XCTAssertEqual(try run(["masker", "init", "--apm", "m", "--acpa", "--channels", "2048", "--height", "3", "--width", "3",
                                "--seed", "4", "--output", start]).status, 0)
        let learningRate: Float = 0.25
        let stepped = try run(["finetune", "--checkpoint", "builtin:deterministic", "--adapt-image", image, "--adapt-mask", mask,
                               "--masker-init", start, "--optimizer", "sgd", "--lr", "0.25", "--steps", "1",
                               "--image-size", size, "--output", path("stepped.safetensors")])
        XCTAssertEqual(stepped.status, 0, stepped.stderr)

        // The gradient, computed here by the library on the one pair (the image with itself).
        let model = try HSNet.withDeterministicWeights()
        let initial = try MaskerState.read(URL(fileURLWithPath: start))
        try model.installFrequencyMaskers(amplitudePhase: initial.amplitudePhase, channelAttention: initial.channelAttention,
                                          imageSize: 96)
        let prepared = try AdaptationImage.load(image: image, mask: mask, size: 96)
        let taps = model.features(of: prepared.image)
        let (_, gradients) = try model.maskerLossAndGradients(
            model.prepareMaskerEpisode(queryTaps: taps, supportTaps: taps, supportMask: prepared.mask, queryMask: prepared.mask))
        let after = try MaskerState.read(URL(fileURLWithPath: path("stepped.safetensors"))).stateDict
        for (name, value) in initial.stateDict {
            let gradient = try XCTUnwrap(gradients[name])
            XCTAssertGreaterThan(gradient.absoluteMax(), 0, name)
            let expected = zip(value.scalars, gradient.scalars).map { $0 + -learningRate * $1 }
            XCTAssertEqual(try XCTUnwrap(after[name]).scalars, expected, name)
        }
    }

    func testResumeAndBadInputAreOneLineErrors() throws {
        let data = try synthesize("bad", classes: 1, images: 3)
        let image = URL(fileURLWithPath: data).appendingPathComponent("class-1/images/001.png").path
        let mask = URL(fileURLWithPath: data).appendingPathComponent("class-1/masks/001.png").path
        let tune = ["finetune", "--checkpoint", "builtin:deterministic", "--image-size", size]
        let output = path("m.safetensors")

        assertFailsWithOneLine(try run(tune + ["--adapt-image", image, "--adapt-mask", path("nope.png"), "--output", output]),
                               mentioning: ["nope.png"])
        let small = path("small.png")
        XCTAssertEqual(try run(["synth", "--out", path("small"), "--style", "xray", "--classes", "1", "--images-per-class", "2",
                                "--size", "32"]).status, 0)
        try FileManager.default.copyItem(atPath: path("small/class-1/masks/001.png"), toPath: small)
        assertFailsWithOneLine(try run(tune + ["--adapt-image", image, "--adapt-mask", small, "--output", output]),
                               mentioning: [small, "001.png"])
        assertFailsWithOneLine(try run(tune + ["--adapt-image", image, "--adapt-mask", mask, "--output", output, "--resume"]),
                               mentioning: [output, "does not exist"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: output), "nothing written")

        // A finished run resumed with other settings is refused; with the same ones it continues.
        XCTAssertEqual(try run(tune + ["--adapt-image", image, "--adapt-mask", mask, "--steps", "1", "--output", output]).status, 0)
        assertFailsWithOneLine(try run(tune + ["--adapt-image", image, "--adapt-mask", mask, "--steps", "2", "--lr", "0.5",
                                               "--output", output, "--resume"]), mentioning: ["--lr"])
        let resumed = try run(tune + ["--adapt-image", image, "--adapt-mask", mask, "--steps", "2", "--output", output, "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try FineTunedMaskerFile.read(URL(fileURLWithPath: output)).lossCurve.count, 2)

        // An update that overflows stops the run; the output keeps the last good masker.
        let overflowing = path("overflow.safetensors")
        let stopped = try run(tune + ["--adapt-image", image, "--adapt-mask", mask, "--steps", "3", "--lr", "3e38",
                                      "--output", overflowing])
        XCTAssertNotEqual(stopped.status, 0)
        XCTAssertTrue(stopped.stderr.contains("non-finite") && stopped.stderr.contains(overflowing), stopped.stderr)
        let kept = try MaskerState.read(URL(fileURLWithPath: overflowing))
        XCTAssertEqual(kept.metadata["training.steps"], "0")
        XCTAssertNotNil(kept.metadata["training.stopped"])
        XCTAssertTrue(kept.stateDict.values.allSatisfy(\.isFinite))

        let test = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--image-size", size]
        assertFailsWithOneLine(try run(test + ["--datapath", data, "--shots", "3"]), mentioning: ["class-1", "3-shot"])
        assertFailsWithOneLine(try run(test + ["--datapath", path("missing")]), mentioning: [path("missing")])
        assertFailsWithOneLine(try run(["test", "--checkpoint", "builtin:deterministic", "--benchmark", "deepglobe",
                                        "--datapath", data]), mentioning: ["Deepglobe"])
    }
}
