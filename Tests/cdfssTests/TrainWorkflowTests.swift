import Foundation
import HSNetCore
import TensorCore
import XCTest

/// `cdfss train` as a user runs it on a synthetic source set at 96 x 96: a resumed run's files
/// equal the uninterrupted run's byte for byte, the checkpoint works in every command, and bad
/// input is one line.
final class TrainWorkflowTests: CommandLineTestCase {
    let size = "96"

    func source() throws -> String {
        let folder = path("source")
        let made = try run(["synth", "--out", folder, "--style", "source", "--classes", "4", "--images-per-class", "3",
                            "--size", size, "--seed", "2"])
        XCTAssertEqual(made.status, 0, made.stderr)
        return folder
    }

    func train(_ data: String, output: String, epochs: Int, extra: [String] = []) throws -> Result {
        try run(["train", "--backbone", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                 "--classes", "class-1,class-2,class-3", "--val-benchmark", "folder", "--val-datapath", data,
                 "--val-classes", "class-4", "--val-episodes", "2", "--epochs", String(epochs), "--episodes-per-epoch", "4",
                 "--batch", "2", "--image-size", size, "--seed", "4", "--output", output] + extra)
    }

    func testResumedRunEqualsUninterruptedRunAndTheCheckpointWorksEverywhere() throws {
        let data = try source()
        let whole = try train(data, output: path("whole"), epochs: 2, extra: ["--include-backbone", "--log-episodes"])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertTrue(whole.stdout.hasPrefix("trained 4 steps"), whole.stdout)
        let first = try train(data, output: path("parts"), epochs: 1, extra: ["--include-backbone", "--log-episodes"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let rest = try train(data, output: path("parts"), epochs: 2, extra: ["--include-backbone", "--log-episodes", "--resume"])
        XCTAssertEqual(rest.status, 0, rest.stderr)
        XCTAssertTrue(rest.stdout.hasPrefix("trained 4 steps (2 this run)"), rest.stdout)
        for file in ["last.safetensors", "optimizer.safetensors", "best.safetensors"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("whole/" + file))),
                           try Data(contentsOf: URL(fileURLWithPath: path("parts/" + file))), file)
        }
        // The logs agree but for the seconds.
        func withoutSeconds(_ folder: String) throws -> [String] {
            try String(contentsOfFile: path(folder + "/log.jsonl"), encoding: .utf8).split(separator: "\n")
                .map { $0.replacingOccurrences(of: #""seconds":[0-9.]+,"#, with: "", options: .regularExpression) }
        }
        let log = try withoutSeconds("whole")
        XCTAssertEqual(log, try withoutSeconds("parts"))
        XCTAssertEqual(log.count, 6, "four steps and two epochs")
        XCTAssertTrue(log[0].contains(#""episodes":[{"class":"class-"#), log[0])

        // The checkpoint, with its backbone, in every command.
        let checkpoint = path("whole/last.safetensors")
        let picture = data + "/class-4/images/001.png", mask = data + "/class-4/masks/001.png"
        let predicted = try run(["predict", "--checkpoint", checkpoint, "--query", data + "/class-4/images/002.png",
                                 "--support", picture, "--support-mask", mask, "--image-size", size, "--output", path("p.png")])
        XCTAssertEqual(predicted.status, 0, predicted.stderr)
        let tested = try run(["test", "--checkpoint", checkpoint, "--benchmark", "folder", "--datapath", data,
                              "--episodes", "2", "--image-size", size])
        XCTAssertEqual(tested.status, 0, tested.stderr)
        let tuned = try run(["finetune", "--checkpoint", checkpoint, "--adapt-image", picture, "--adapt-mask", mask,
                             "--steps", "1", "--image-size", size, "--output", path("m.safetensors")])
        XCTAssertEqual(tuned.status, 0, tuned.stderr)
        let analysed = try run(["analyze", "correlation", "--checkpoint", checkpoint, "--benchmark", "folder", "--datapath", data,
                                "--count", "2", "--image-size", size, "--json"])
        XCTAssertEqual(analysed.status, 0, analysed.stderr)

        // Without --include-backbone the file holds the learner only, under the reference's names.
        let plain = try train(data, output: path("plain"), epochs: 1)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let file = try SafetensorsFile.read(URL(fileURLWithPath: path("plain/last.safetensors")))
        XCTAssertEqual(file.tensors.count, 98)
        XCTAssertTrue(file.tensors.keys.allSatisfy { $0.hasPrefix("hpn_learner.") })
    }

    func testTorchvisionBackboneFileTrainsAndIsStoredAsItIs() throws {
        let data = try source()
        // A torchvision ResNet-50 state dict: no prefix, with the ImageNet classifier.
        var tensors: [String: Tensor] = [:]
        for entry in HSNet.deterministicBackboneStateDict(depth: .resnet50) { tensors[String(entry.name.dropFirst("backbone.".count))] = entry.tensor }
        tensors["fc.weight"] = Tensor(zeros: [1000, 2048])
        tensors["fc.bias"] = Tensor(zeros: [1000])
        let weights = path("resnet50.safetensors")
        try SafetensorsFile(tensors: tensors).write(to: URL(fileURLWithPath: weights))
        let trained = try run(["train", "--backbone-weights", weights, "--benchmark", "folder", "--datapath", data,
                               "--epochs", "1", "--episodes-per-epoch", "2", "--batch", "2", "--image-size", size,
                               "--include-backbone", "--output", path("tv")])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let file = try SafetensorsFile.read(URL(fileURLWithPath: path("tv/last.safetensors")))
        for entry in HSNet.deterministicBackboneStateDict(depth: .resnet50) {
            XCTAssertEqual(file.tensors[entry.name], entry.tensor, entry.name)
        }
        XCTAssertNil(file.tensors["backbone.fc.weight"], "the classifier is not part of HSNet's backbone")
        // The same backbone as the built-in one, so the same first step.
        let builtin = try run(["train", "--backbone", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                               "--epochs", "1", "--episodes-per-epoch", "2", "--batch", "2", "--image-size", size,
                               "--output", path("bi")])
        XCTAssertEqual(builtin.status, 0, builtin.stderr)
        let learner = try SafetensorsFile.read(URL(fileURLWithPath: path("bi/last.safetensors"))).tensors
        for (name, tensor) in learner { XCTAssertEqual(file.tensors[name], tensor, name) }
    }

    func testBadInputIsOneLine() throws {
        let data = try source()
        assertFailsWithOneLine(try run(["train", "--benchmark", "folder", "--datapath", data, "--output", path("o")]),
                               mentioning: ["--checkpoint", "--backbone"])
        assertFailsWithOneLine(try train(data, output: path("o"), epochs: 1, extra: ["--classes", "class-9"]),
                               mentioning: ["class-9"])
        assertFailsWithOneLine(try train(path("missing"), output: path("o2"), epochs: 1), mentioning: [path("missing")])
        assertFailsWithOneLine(try train(data, output: path("o3"), epochs: 1, extra: ["--resume"]),
                               mentioning: ["--resume", "optimizer.safetensors"])
        let made = try train(data, output: path("o4"), epochs: 1)
        XCTAssertEqual(made.status, 0, made.stderr)
        assertFailsWithOneLine(try train(data, output: path("o4"), epochs: 1), mentioning: ["--resume"])
        assertFailsWithOneLine(try train(data, output: path("o4"), epochs: 2, extra: ["--resume", "--lr", "0.01"]),
                               mentioning: ["--lr 0.001", "0.01"])
        assertFailsWithOneLine(try run(["train", "--backbone", "builtin:nothing", "--benchmark", "folder", "--datapath", data,
                                        "--output", path("o5")]), mentioning: ["builtin:nothing"])
        assertFailsWithOneLine(try train(data, output: path("o6"), epochs: 1, extra: ["--batch", "0"]), mentioning: ["--batch"])
    }
}
