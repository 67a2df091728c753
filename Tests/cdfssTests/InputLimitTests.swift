import Foundation
import Imaging
import TensorCore
import XCTest

/// Arguments and inputs that used to trap, exhaust memory or pass unnoticed: each is now one
/// line on stderr naming the argument or file, a non-zero exit, and no output file.
final class InputLimitTests: CommandLineTestCase {
    func assertNothingWritten(besides expected: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted(), expected.sorted(),
                       "files in the test folder", file: file, line: line)
    }

    func testMaskerInitRefusesSizesBeyondTheLimitsBeforeAllocating() throws {
        let output = path("m.safetensors")
        let initialise = ["masker", "init", "--output", output]
        // Each product used to overflow or ask for terabytes.
        assertFailsWithOneLine(try run(initialise + ["--channels", "4294967296", "--height", "4294967296", "--width", "2"]),
                               mentioning: ["--channels 4294967296", "65536"])
        assertFailsWithOneLine(try run(initialise + ["--channels", "2", "--height", "4294967296", "--width", "4294967296"]),
                               mentioning: ["--height 4294967296", "4096"])
        // 65536 x 4096 x 4096 = 1.1e12 values: every side within its limit, the mask beyond.
        assertFailsWithOneLine(try run(initialise + ["--channels", "65536", "--height", "4096", "--width", "4096"]),
                               mentioning: ["65536 x 4096 x 4096", "67108864"])
        // APM-S has one plane whatever C is, so the same sides fit.
        assertFailsWithOneLine(try run(initialise + ["--apm", "s", "--channels", "65536", "--height", "4096", "--width", "16385"]),
                               mentioning: ["--width 16385"])
        assertFailsWithOneLine(try run(initialise + ["--channels", "-4", "--height", "3", "--width", "3"]),
                               mentioning: ["--channels -4", "at least 1"])
        try assertNothingWritten(besides: [])
    }

    func testImageSizeCacheAndEpisodeArgumentsAreBounded() throws {
        let predict = ["predict", "--checkpoint", "builtin:deterministic", "--query", path("q.png"), "--support", path("q.png"),
                       "--support-mask", path("q.png"), "--output", path("o.png")]
        assertFailsWithOneLine(try run(predict + ["--image-size", "250000"]), mentioning: ["image size 250000", "720"])
        assertFailsWithOneLine(try run(predict + ["--image-size", "721"]), mentioning: ["image size 721", "MiB", "720"])

        let test = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", path("none")]
        assertFailsWithOneLine(try run(test + ["--cache-mb", "9223372036854775807"]), mentioning: ["--cache-mb 9223372036854775807", "1048576"])
        assertFailsWithOneLine(try run(test + ["--episodes", "1000000000000"]), mentioning: ["--episodes 1000000000000", "1000000"])
        assertFailsWithOneLine(try run(["finetune", "--checkpoint", "builtin:deterministic", "--adapt-image", path("a.png"),
                                        "--adapt-mask", path("a.png"), "--output", path("m.safetensors"),
                                        "--cache-mb", "9223372036854775807"]), mentioning: ["--cache-mb"])
        assertFailsWithOneLine(try run(["finetune", "--checkpoint", "builtin:deterministic", "--adapt-image", path("a.png"),
                                        "--adapt-mask", path("a.png"), "--output", path("m.safetensors"),
                                        "--steps", "1000000000000"]), mentioning: ["--steps 1000000000000", "1000000"])
        try assertNothingWritten(besides: [])
    }

    func testShardOfAHugeRunPlansOnlyItsOwnEpisodes() throws {
        XCTAssertEqual(try run(["synth", "--out", path("data"), "--style", "lesion", "--classes", "2", "--images-per-class", "3",
                                "--size", "64", "--seed", "1"]).status, 0)
        let test = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", path("data"),
                    "--image-size", "64"]
        // Shots beyond every class used to overflow while counting the images needed.
        assertFailsWithOneLine(try run(test + ["--shots", "9223372036854775807"]), mentioning: ["class-1", "9223372036854775808"])

        // One episode of the largest run: it used to plan all of them first (2.7 GiB for 2 x 10^7).
        let started = Date()
        let shard = try run(test + ["--episodes", "1000000", "--shard", "3/1000000", "--report", path("r.json")])
        XCTAssertEqual(shard.status, 0, shard.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "one episode's work")
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("r.json")))) as? [String: Any])
        let episodes = try XCTUnwrap(report["episodes"] as? [[String: Any]])
        XCTAssertEqual(episodes.map { $0["index"] as? Int }, [3])
        XCTAssertEqual((report["config"] as? [String: Any])?["episodes"] as? Int, 1_000_000)
        let shown = try run(["report", "show", path("r.json")])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertTrue(shown.stdout.contains("1 of 1 episodes (shard 3/1000000 of a 1000000-episode run)"), shown.stdout)
    }

    /// A masker file with `value` at one place of its amplitude mask.
    func writeMasker(_ name: String, amplitudeValue value: Float, shape: [Int] = [1, 1, 2, 2]) throws -> String {
        var amplitude = Tensor(repeating: 1, shape: shape)
        amplitude.scalars[1] = value
        try SafetensorsFile(tensors: ["apm.mask_amplitude": amplitude, "apm.mask_phase": Tensor(repeating: 1, shape: shape)])
            .write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    func testNonFiniteMaskerIsBlamedOnTheMaskerFileAndTensor() throws {
        let masker = try writeMasker("nan.safetensors", amplitudeValue: .nan)
        let infinite = try writeMasker("inf.safetensors", amplitudeValue: -.infinity)
        try NumPyArray.write(Tensor(repeating: 0.5, shape: [1, 2, 2, 2]), to: URL(fileURLWithPath: path("f.npy")))

        for file in [masker, infinite] {
            assertFailsWithOneLine(try run(["masker", "show", file]), mentioning: [file, "apm.mask_amplitude", "non-finite", "flat index 1"])
        }
        let applied = try run(["masker", "apply", "--masker", masker, "--input", path("f.npy"), "--output", path("o.npy")])
        assertFailsWithOneLine(applied, mentioning: [masker, "apm.mask_amplitude", "nan"])
        XCTAssertFalse(applied.stderr.contains("f.npy"), "the features are not to blame: \(applied.stderr)")

        try GrayImage(width: 32, height: 32, pixels: [UInt8](repeating: 255, count: 1024)).writePNG(to: URL(fileURLWithPath: path("q.png")))
        let predicted = try run(["predict", "--checkpoint", "builtin:deterministic", "--masker", masker, "--query", path("q.png"),
                                 "--support", path("q.png"), "--support-mask", path("q.png"), "--image-size", "32", "--output", path("o.png")])
        assertFailsWithOneLine(predicted, mentioning: [masker, "apm.mask_amplitude", "non-finite"])
        XCTAssertFalse(predicted.stderr.contains("slot"), predicted.stderr)
        try assertNothingWritten(besides: ["nan.safetensors", "inf.safetensors", "f.npy", "q.png"])
    }

    func testFeaturesWithoutChannelsAreRefusedNotDividedBy() throws {
        let masker = path("s.safetensors")
        XCTAssertEqual(try run(["masker", "init", "--apm", "s", "--no-acpa", "--channels", "4", "--height", "5", "--width", "6",
                                "--output", masker]).status, 0)
        for shape in [[1, 0, 5, 6], [0, 4, 5, 6]] {
            try NumPyArray.write(Tensor(zeros: shape), to: URL(fileURLWithPath: path("empty.npy")))
            assertFailsWithOneLine(try run(["masker", "apply", "--masker", masker, "--input", path("empty.npy"), "--output", path("o.npy")]),
                                   mentioning: [path("empty.npy"), "no values"])
        }
        try assertNothingWritten(besides: ["s.safetensors", "empty.npy"])
    }

    func testSupportMaskWithoutForegroundIsAnError() throws {
        let side = 32
        func writeGray(_ name: String, _ value: UInt8, foregroundValue: UInt8? = nil) throws -> String {
            var pixels = [UInt8](repeating: value, count: side * side)
            if let foregroundValue { for i in 0..<(side * side / 2) { pixels[i] = foregroundValue } }
            try GrayImage(width: side, height: side, pixels: pixels).writePNG(to: URL(fileURLWithPath: path(name)))
            return path(name)
        }
        let picture = try writeGray("p.png", 90, foregroundValue: 200)
        let empty = try writeGray("empty.png", 0)
        let zeroOne = try writeGray("zero-one.png", 0, foregroundValue: 1)
        let good = try writeGray("good.png", 0, foregroundValue: 255)
        let predict = ["predict", "--checkpoint", "builtin:deterministic", "--query", picture, "--image-size", String(side),
                       "--output", path("o.png")]
        assertFailsWithOneLine(try run(predict + ["--support", picture, "--support-mask", empty]), mentioning: [empty, "no foreground"])
        assertFailsWithOneLine(try run(predict + ["--support", picture, "--support-mask", zeroOne]), mentioning: [zeroOne, "0 and 255"])
        // One empty shot among good ones is named too: it would vote with meaningless logits.
        assertFailsWithOneLine(try run(predict + ["--support", picture, "--support-mask", good, "--support", picture, "--support-mask", empty]),
                               mentioning: [empty])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o.png")))
        let fine = try run(predict + ["--support", picture, "--support-mask", good])
        XCTAssertEqual(fine.status, 0, fine.stderr)
    }

    func testDatasetsCheckRefusesMasksOfAnotherSizeThanTheirImages() throws {
        let data = path("data")
        XCTAssertEqual(try run(["synth", "--out", data, "--style", "xray", "--classes", "1", "--images-per-class", "3",
                                "--size", "48", "--seed", "2"]).status, 0)
        XCTAssertEqual(try run(["datasets", "check", "--benchmark", "folder", "--datapath", data]).status, 0)
        let mask = URL(fileURLWithPath: data).appendingPathComponent("class-1/masks/002.png")
        try GrayImage(width: 40, height: 48, pixels: [UInt8](repeating: 255, count: 40 * 48)).writePNG(to: mask)

        let check = try run(["datasets", "check", "--benchmark", "folder", "--datapath", data])
        XCTAssertNotEqual(check.status, 0)
        XCTAssertTrue(check.stdout.contains("usable: no"), check.stdout)
        XCTAssertTrue(check.stderr.contains("different sizes"), check.stderr)
        // What test does with that pair, which the check now predicts.
        let test = try run(["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                            "--image-size", "48", "--episodes", "20"])
        XCTAssertNotEqual(test.status, 0)
        XCTAssertTrue(test.stderr.contains("002.png"), test.stderr)
    }
}
