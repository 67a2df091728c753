import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import Glibc
import TensorCore
import XCTest

/// Outputs as a user meets them: checked before any work, never over an input, all or none,
/// and a fine-tuning run that survives SIGKILL at any moment.
final class OutputSafetyTests: CommandLineTestCase {
    let size = "96"

    /// A one-class synthetic set; returns (image, mask) paths of its pictures.
    func pictures(count: Int = 2) throws -> [(image: String, mask: String)] {
        let made = try run(["synth", "--out", path("data"), "--style", "lesion", "--classes", "1",
                            "--images-per-class", String(max(count, 2)), "--size", size, "--seed", "2"])
        XCTAssertEqual(made.status, 0, made.stderr)
        return (1...count).map { index in
            let name = String(format: "%03d.png", index)
            return (path("data/class-1/images/\(name)"), path("data/class-1/masks/\(name)"))
        }
    }

    /// Names in the test folder (hidden ones included), the synthetic set left out.
    func files() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0 != "data" }.sorted()
    }

    func testPredictWritesAllOutputsOrNone() throws {
        let picture = try XCTUnwrap(try pictures(count: 1).first)
        let predict = ["predict", "--checkpoint", "builtin:deterministic", "--image-size", size,
                       "--support", picture.image, "--support-mask", picture.mask]
        assertFailsWithOneLine(try run(predict + ["--query", picture.image, "--output", path("o.png"), "--logits", path("nodir/l.npy")]),
                               mentioning: ["--logits", path("nodir")])
        XCTAssertEqual(try files(), [], "o.png is not left behind")

        try FileManager.default.copyItem(atPath: picture.image, toPath: path("q.png"))
        let query = try Data(contentsOf: URL(fileURLWithPath: path("q.png")))
        assertFailsWithOneLine(try run(predict + ["--query", path("q.png"), "--output", directory.path + "/./q.png"]),
                               mentioning: ["--output", "--query"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("q.png"))), query, "the query is untouched")
        assertFailsWithOneLine(try run(predict + ["--query", path("q.png"), "--output", path("o.png"), "--overlay", path("o.png")]),
                               mentioning: ["--output", "--overlay"])

        let written = try run(predict + ["--query", path("q.png"), "--output", path("o.png"), "--logits", path("l.npy"),
                                         "--overlay", path("v.png")])
        XCTAssertEqual(written.status, 0, written.stderr)
        XCTAssertEqual(try files(), ["l.npy", "o.png", "q.png", "v.png"], "no temporaries left")
    }

    func testFinetuneAndTestCheckTheirOutputsBeforeAnyWork() throws {
        let picture = try XCTUnwrap(try pictures(count: 1).first)
        let tune = ["finetune", "--checkpoint", "builtin:deterministic", "--image-size", size, "--steps", "50",
                    "--adapt-image", picture.image, "--adapt-mask", picture.mask]
        let missingFolder = try run(tune + ["--output", path("nodir/a.safetensors")])
        assertFailsWithOneLine(missingFolder, mentioning: ["--output", path("nodir")])
        XCTAssertFalse(missingFolder.stderr.contains("step"), "no step was taken: \(missingFolder.stderr)")
        // A picture named as the masker output is refused by its name already (a masker is
        // .safetensors); an input of the output's own kind, by being an input.
        assertFailsWithOneLine(try run(tune + ["--output", picture.image]), mentioning: ["--output", picture.image])
        assertFailsWithOneLine(try run(tune + ["--output", picture.mask]), mentioning: ["--output", picture.mask])
        try Data("start".utf8).write(to: URL(fileURLWithPath: path("start.safetensors")))
        assertFailsWithOneLine(try run(tune + ["--masker-init", path("start.safetensors"), "--output", path("start.safetensors")]),
                               mentioning: ["--output", "--masker-init"])
        try FileManager.default.removeItem(atPath: path("start.safetensors"))

        let test = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", path("data"),
                    "--shots", "1", "--episodes", "600", "--image-size", size]
        let started = Date()
        assertFailsWithOneLine(try run(test + ["--report", path("nodir/r.json")]), mentioning: ["--report", path("nodir")])
        XCTAssertLessThan(Date().timeIntervalSince(started), 20, "refused before the 600 episodes")
        try Data().write(to: URL(fileURLWithPath: path("afile")))
        assertFailsWithOneLine(try run(test + ["--vis-dir", path("afile")]), mentioning: ["--vis-dir", "is a file"])
        assertFailsWithOneLine(try run(test + ["--vis-dir", path("data/vis")]), mentioning: ["--vis-dir", "--datapath"])
        XCTAssertEqual(try files(), ["afile"])
    }

    /// The half-built tree a killed synth left beside its folder goes with the next synth there.
    func testSynthSweepsTheTreeAKilledSynthLeft() throws {
        let stale = path(".data.\(UUID().uuidString).partial")
        try FileManager.default.createDirectory(atPath: stale + "/class-1/images", withIntermediateDirectories: true)
        try Data("half".utf8).write(to: URL(fileURLWithPath: stale + "/class-1/images/001.png"))
        _ = try pictures(count: 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["data"])
    }

    /// A test run failing at its second episode (a picture only that episode reads is broken)
    /// leaves neither the first episode's picture nor the report, nor the folder made for them.
    func testATestRunFailingMidwayLeavesNoneOfItsOutputs() throws {
        _ = try pictures(count: 4)
        let test = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", path("data"),
                    "--shots", "1", "--episodes", "3", "--image-size", size]
        let whole = try run(test + ["--report", path("whole.json")])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("whole.json")))) as? [String: Any])
        let episodes = try XCTUnwrap(report["episodes"] as? [[String: Any]])
        func used(by episode: [String: Any]) -> Set<String> {
            Set([episode["query"] as? String].compactMap { $0 } + (episode["supports"] as? [String] ?? []))
        }
        let first = used(by: episodes[0])
        let later = try XCTUnwrap(episodes.dropFirst().lazy.flatMap { used(by: $0).subtracting(first) }.first,
                                  "a picture the first episode does not read")
        try FileManager.default.removeItem(atPath: path("whole.json"))
        let broken = URL(fileURLWithPath: path("data")).appendingPathComponent(later)
        try Data(try Data(contentsOf: broken).prefix(60)).write(to: broken)

        let failed = try run(test + ["--report", path("r.json"), "--vis-dir", path("new/vis")])
        XCTAssertNotEqual(failed.status, 0)
        XCTAssertTrue(failed.stderr.contains("episode 1/3"), "the first episode ran: \(failed.stderr)")
        XCTAssertTrue(failed.stderr.split(separator: "\n").last?.contains(later) ?? false, failed.stderr)
        XCTAssertEqual(try files(), [], "no report, no pictures, no folder")
    }

    /// The window a kill can leave open: the snapshot renamed, the masker file not yet. The
    /// resumed run catches up and ends byte-identical to the uninterrupted one, and the
    /// temporaries killed writers left are swept.
    func testResumeAfterAKillBetweenTheTwoRenames() throws {
        let picture = try XCTUnwrap(try pictures(count: 1).first)
        let tune = ["finetune", "--checkpoint", "builtin:deterministic", "--image-size", size, "--lr", "0.01",
                    "--adapt-image", picture.image, "--adapt-mask", picture.mask]
        XCTAssertEqual(try run(tune + ["--steps", "3", "--output", path("whole3.safetensors")]).status, 0)
        XCTAssertEqual(try run(tune + ["--steps", "4", "--output", path("whole4.safetensors")]).status, 0)

        let output = path("m.safetensors")
        XCTAssertEqual(try run(tune + ["--steps", "2", "--output", output]).status, 0)
        let maskerAtTwo = try Data(contentsOf: URL(fileURLWithPath: output))
        XCTAssertEqual(try run(tune + ["--steps", "3", "--output", output, "--resume"]).status, 0)
        try maskerAtTwo.write(to: URL(fileURLWithPath: output))
        // What killed writers leave: a staging folder with half a file, a lone temporary.
        let staging = path(".cdfss-outputs.\(UUID().uuidString).partial")
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        try Data("half".utf8).write(to: URL(fileURLWithPath: staging + "/m.safetensors"))
        try Data("half".utf8).write(to: URL(fileURLWithPath: path(".m.resume.safetensors.\(UUID().uuidString).partial")))

        let caughtUp = try run(tune + ["--steps", "3", "--output", output, "--resume"])
        XCTAssertEqual(caughtUp.status, 0, caughtUp.stderr)
        XCTAssertTrue(caughtUp.stdout.contains("nothing to do") && caughtUp.stdout.contains("written again"), caughtUp.stdout)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: output)), try Data(contentsOf: URL(fileURLWithPath: path("whole3.safetensors"))))

        XCTAssertEqual(try run(tune + ["--steps", "4", "--output", output, "--resume"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: output)), try Data(contentsOf: URL(fileURLWithPath: path("whole4.safetensors"))),
                       "byte for byte, loss curve included")
        XCTAssertEqual(try files(), ["m.resume.safetensors", "m.safetensors", "whole3.resume.safetensors", "whole3.safetensors",
                                     "whole4.resume.safetensors", "whole4.safetensors"])
    }

    /// SIGKILL at seeded random moments of `finetune --save-every 1`, resuming after each:
    /// the end is the uninterrupted run's files, byte for byte, and nothing else.
    /// (`scripts/kill-resume-check.sh` does the same with dozens of kills.)
    func testKilledAndResumedRunEqualsTheUninterruptedRun() throws {
        let picture = try XCTUnwrap(try pictures(count: 1).first)
        let tune = ["finetune", "--checkpoint", "builtin:deterministic", "--image-size", size, "--lr", "0.01", "--steps", "12",
                    "--save-every", "1", "--adapt-image", picture.image, "--adapt-mask", picture.mask]
        let started = Date()
        XCTAssertEqual(try run(tune + ["--output", path("whole.safetensors")]).status, 0)
        let wholeSeconds = Date().timeIntervalSince(started)

        let output = path("killed.safetensors")
        let snapshot = FineTunedMaskerFile.snapshotURL(for: URL(fileURLWithPath: output)).path
        var random = SeededGenerator(seed: 9)
        var kills = 0
        for _ in 0..<4 {
            let process = Process()
            process.executableURL = Self.binary
            process.arguments = tune + ["--output", output] + (FileManager.default.fileExists(atPath: snapshot) ? ["--resume"] : [])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: wholeSeconds * Double(random.next() % 1000) / 1000)
            if kill(process.processIdentifier, SIGKILL) == 0 { kills += 1 }
            process.waitUntilExit()
            XCTAssertTrue(process.terminationReason == .uncaughtSignal || process.terminationStatus == 0,
                          "the run failed by itself: status \(process.terminationStatus)")
        }
        let resumed = try run(tune + ["--output", output] + (FileManager.default.fileExists(atPath: snapshot) ? ["--resume"] : []))
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertGreaterThan(kills, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: output)), try Data(contentsOf: URL(fileURLWithPath: path("whole.safetensors"))))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: snapshot)),
                       try Data(contentsOf: URL(fileURLWithPath: path("whole.resume.safetensors"))))
        XCTAssertEqual(try files(), ["killed.resume.safetensors", "killed.safetensors", "whole.resume.safetensors", "whole.safetensors"])
    }
}
