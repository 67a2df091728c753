import FreqMask
import Foundation
import Imaging
import TensorCore
import XCTest

/// `cdfss analyze` on a small synthetic target set with the built-in model: correlation
/// figures, exported features, the filter sweep, and their errors. Pictures of 96 x 96 give
/// layer-4 maps of 3 x 3.
final class AnalyzeWorkflowTests: CommandLineTestCase {
    let size = "96"

    func synthesize() throws -> String {
        let folder = path("target")
        let made = try run(["synth", "--out", folder, "--style", "xray", "--classes", "2", "--images-per-class", "2",
                            "--size", size, "--seed", "1"])
        XCTAssertEqual(made.status, 0, made.stderr)
        return folder
    }

    func masker() throws -> String {
        let file = path("masker.safetensors")
        let made = try run(["masker", "init", "--apm", "m", "--acpa", "--channels", "2048", "--height", "3", "--width", "3",
                            "--seed", "2", "--output", file])
        XCTAssertEqual(made.status, 0, made.stderr)
        return file
    }

    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    /// The correlation figures of `analyze correlation` are those of the taps `analyze
    /// features` exports, with and without the maskers, and its matrices are C x C.
    func testCorrelationFiguresAreThoseOfTheExportedTaps() throws {
        let data = try synthesize()
        let maskerFile = try masker()
        let picture = URL(fileURLWithPath: data).appendingPathComponent("class-1/images/001.png").path
        let list = path("one.txt")
        try (picture + "\n").write(toFile: list, atomically: true, encoding: .utf8)
        let common = ["--checkpoint", "builtin:deterministic", "--masker", maskerFile, "--image-size", size, "--taps", "layer3.5,layer4.0"]
        let analysed = try run(["analyze", "correlation"] + common + ["--image-list", list, "--json", "--out", path("matrices")])
        XCTAssertEqual(analysed.status, 0, analysed.stderr)
        let report = try json(analysed.stdout)
        XCTAssertEqual(report["images"] as? [String], [picture])
        XCTAssertEqual(report["image_size"] as? Int, 96)
        XCTAssertEqual(report["checkpoint_sha256"] as? String, "builtin:deterministic")
        XCTAssertEqual((report["masker_sha256"] as? String)?.count, 64)
        let taps = try XCTUnwrap(report["taps"] as? [[String: Any]])
        XCTAssertEqual(taps.map { $0["tap"] as? String }, ["layer3.5", "layer4.0"])
        XCTAssertTrue(taps[0]["with"] is NSNull, "layer 3 has no plug-in")
        XCTAssertEqual(taps[1]["channels"] as? Int, 2048)
        XCTAssertEqual(taps[1]["positions"] as? Int, 9)

        let exported = try run(["analyze", "features"] + common + ["--image", picture, "--out", path("features")])
        XCTAssertEqual(exported.status, 0, exported.stderr)
        for (entry, (name, parts)) in zip(taps, [("layer3.5", [("without", "")]), ("layer4.0", [("without", ""), ("with", ".plugins")])]) {
            for (part, suffix) in parts {
                let tap = try NumPyArray.read(URL(fileURLWithPath: path("features/query.\(name)\(suffix).npy")))
                var accumulator = ChannelCorrelationAccumulator(channels: tap.shape[1])
                try accumulator.add(tap, name: name)
                let figures = try XCTUnwrap(entry[part] as? [String: Any], "\(name) \(part)")
                let expected = accumulator.meanFigures
                // The same computation on the same taps: equal to the printed digits.
                XCTAssertEqual(try XCTUnwrap(figures["mean_abs_r"] as? Double), expected.meanAbsR, accuracy: 1e-12)
                XCTAssertEqual(try XCTUnwrap(figures["participation_ratio"] as? Double), expected.participationRatio, accuracy: 1e-9)
                let matrix = try NumPyArray.read(URL(fileURLWithPath: path("matrices/\(name).\(part).npy")))
                XCTAssertEqual(matrix.shape, [tap.shape[1], tap.shape[1]])
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("matrices/layer3.5.with.npy")))
        // A heatmap per tap and part, 2048 channels drawn as 512 x 512 blocks with title and bar.
        for name in ["layer3.5.without", "layer4.0.without", "layer4.0.with"] {
            let picture = try RGBImage(contentsOf: URL(fileURLWithPath: path("matrices/\(name).png")))
            XCTAssertGreaterThan(picture.width, 512, name)
        }
        let activation = try run(["analyze", "activation"] + common.dropLast(2) + ["--image", picture, "--tap", "layer4.0",
                                                                                 "--output", path("activation.png")])
        XCTAssertEqual(activation.status, 0, activation.stderr)
        XCTAssertGreaterThan(try RGBImage(contentsOf: URL(fileURLWithPath: path("activation.png"))).width, 640)
        let table = try run(["analyze", "correlation"] + common + ["--images", URL(fileURLWithPath: data).appendingPathComponent("class-2/images").path])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("layer4.0"), table.stdout)
    }

    func testFilterSweepRunsTheSameEpisodesForEveryFilter() throws {
        let data = try synthesize()
        let swept = try run(["analyze", "filter-sweep", "--checkpoint", "builtin:deterministic", "--benchmark", "folder",
                             "--datapath", data, "--episodes", "2", "--kinds", "low,high", "--radii", "1", "--parts", "amplitude,phase",
                             "--image-size", size, "--json", "--out", path("charts")])
        XCTAssertEqual(swept.status, 0, swept.stderr)
        for part in ["amplitude", "phase"] {
            XCTAssertGreaterThan(try RGBImage(contentsOf: URL(fileURLWithPath: path("charts/sweep-\(part).png"))).height, 400)
        }
        let report = try json(swept.stdout)
        let config = try XCTUnwrap(report["config"] as? [String: Any])
        XCTAssertEqual(config["episodes"] as? Int, 2)
        XCTAssertEqual(config["target"] as? String, "features")
        let baseline = try XCTUnwrap(report["baseline"] as? [String: Any])
        XCTAssertNotNil(baseline["miou"] as? Double)
        let filters = try XCTUnwrap(report["filters"] as? [[String: Any]])
        XCTAssertEqual(filters.map { $0["kind"] as? String }, ["low-pass", "high-pass", "low-pass", "high-pass"])
        XCTAssertEqual(filters.map { $0["part"] as? String }, ["amplitude", "amplitude", "phase", "phase"])
        XCTAssertEqual(filters.map { $0["radius"] as? Double }, [1, 1, 1, 1])
        for row in filters { XCTAssertNotNil(row["mean_abs_r"] as? Double) }

        // The 3 x 3 layer-4 plane reaches radius 1.41.
        let beyond = try run(["analyze", "filter-sweep", "--checkpoint", "builtin:deterministic", "--benchmark", "folder",
                              "--datapath", data, "--episodes", "2", "--radii", "2", "--image-size", size])
        assertFailsWithOneLine(beyond, mentioning: ["low-pass r <= 2", "[0, 1.41)"])
    }

    func testBadTapsAndEmptyPictureSetsAreOneLineErrors() throws {
        let data = try synthesize()
        let badTap = try run(["analyze", "correlation", "--checkpoint", "builtin:deterministic", "--images", data, "--taps", "layer5.0"])
        assertFailsWithOneLine(badTap, mentioning: ["layer5.0", "layer2.0 .. layer2.3"])
        let empty = path("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let none = try run(["analyze", "correlation", "--checkpoint", "builtin:deterministic", "--images", empty])
        assertFailsWithOneLine(none, mentioning: ["no PNG, JPEG or TIFF pictures", empty])
        let outIsFile = path("file.txt")
        try "x".write(toFile: outIsFile, atomically: true, encoding: .utf8)
        let blocked = try run(["analyze", "features", "--checkpoint", "builtin:deterministic", "--image",
                               URL(fileURLWithPath: data).appendingPathComponent("class-1/images/001.png").path, "--out", outIsFile])
        assertFailsWithOneLine(blocked, mentioning: ["--out", "is a file; give a folder"])
    }

    /// `masker show` draws the factors per channel, their change from another masker, and the
    /// channel attention's weights for a picture.
    func testMaskerShowDrawsFactorsChangesAndAttention() throws {
        let data = try synthesize()
        let start = try masker()
        let tuned = path("tuned.safetensors")
        let trained = try run(["finetune", "--checkpoint", "builtin:deterministic", "--masker-init", start, "--image-size", size,
                               "--adapt-image", URL(fileURLWithPath: data).appendingPathComponent("class-1/images/001.png").path,
                               "--adapt-mask", URL(fileURLWithPath: data).appendingPathComponent("class-1/masks/001.png").path,
                               "--steps", "2", "--lr", "0.05", "--output", tuned])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let shown = try run(["masker", "show", tuned, "--png", path("factors.png"), "--channels", "0,7", "--diff", start,
                             "--attention-png", path("attention.png"), "--image",
                             URL(fileURLWithPath: data).appendingPathComponent("class-2/images/001.png").path,
                             "--checkpoint", "builtin:deterministic", "--image-size", size])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        let factors = try RGBImage(contentsOf: URL(fileURLWithPath: path("factors.png")))
        let attention = try RGBImage(contentsOf: URL(fileURLWithPath: path("attention.png")))
        // Two rows (channels 0 and 7) of two panels each.
        XCTAssertGreaterThan(factors.height, 2 * 224)
        XCTAssertGreaterThan(attention.width, 600)
        let outOfRange = try run(["masker", "show", tuned, "--png", path("bad.png"), "--channels", "2048"])
        assertFailsWithOneLine(outOfRange, mentioning: ["--channels 2048", "0 to 2047"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad.png")))
    }
}
