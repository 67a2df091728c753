import Foundation
import FreqMask
import TensorCore
import XCTest

/// The command line as a user meets it: exit codes, one-line errors, files written whole.
final class CommandLineTests: CommandLineTestCase {
    func testInitShowApplyRoundTrip() throws {
        let masker = path("m.safetensors")
        let created = try run(["masker", "init", "--apm", "m", "--acpa", "--channels", "4", "--height", "5", "--width", "6", "--seed", "3", "--output", masker])
        XCTAssertEqual(created.status, 0, created.stderr)

        let shown = try run(["masker", "show", masker, "--json"])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(report?["apm"] as? String, "apm-m")
        XCTAssertEqual(report?["acpa_channels"] as? Int, 4)

        var random = SeededGenerator(seed: 1)
        let features = Tensor(shape: [2, 4, 5, 6], scalars: (0..<240).map { _ in random.uniform(-1, 1) })
        try NumPyArray.write(features, to: URL(fileURLWithPath: path("f.npy")))
        let applied = try run(["masker", "apply", "--masker", masker, "--input", path("f.npy"), "--output", path("out.npy")])
        XCTAssertEqual(applied.status, 0, applied.stderr)

        let state = try MaskerState.read(URL(fileURLWithPath: masker))
        var expected = features
        for plugin in state.plugins { expected = try plugin(expected) }
        XCTAssertEqual(try NumPyArray.read(URL(fileURLWithPath: path("out.npy"))), expected)
    }

    func testShowDrawsHeatmapsAndRefusesWithoutMasks() throws {
        let masker = path("m.safetensors")
        XCTAssertEqual(try run(["masker", "init", "--apm", "s", "--channels", "8", "--height", "7", "--width", "9", "--output", masker]).status, 0)
        let shown = try run(["masker", "show", masker, "--png", path("m.png")])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        let png = try Data(contentsOf: URL(fileURLWithPath: path("m.png")))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])

        let attentionOnly = path("a.safetensors")
        XCTAssertEqual(try run(["masker", "init", "--apm", "none", "--acpa", "--channels", "8", "--height", "7", "--width", "9", "--output", attentionOnly]).status, 0)
        assertFailsWithOneLine(try run(["masker", "show", attentionOnly, "--png", path("a.png")]), mentioning: [attentionOnly, "--png"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("a.png")))
    }

    func testWrongFeatureShapeIsOneLineAndWritesNothing() throws {
        let masker = path("m.safetensors")
        XCTAssertEqual(try run(["masker", "init", "--apm", "m", "--channels", "4", "--height", "5", "--width", "6", "--output", masker]).status, 0)
        try NumPyArray.write(Tensor(zeros: [1, 4, 5, 7]), to: URL(fileURLWithPath: path("f.npy")))
        let result = try run(["masker", "apply", "--masker", masker, "--input", path("f.npy"), "--output", path("out.npy")])
        assertFailsWithOneLine(result, mentioning: [path("f.npy"), "5 x 6"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.npy")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted(), ["f.npy", "m.safetensors"])
    }

    func testMissingAndCorruptFilesAreNamed() throws {
        assertFailsWithOneLine(try run(["masker", "show", path("absent.safetensors")]), mentioning: [path("absent.safetensors"), "not found"])
        try Data("not a tensor file".utf8).write(to: URL(fileURLWithPath: path("bad.safetensors")))
        assertFailsWithOneLine(try run(["masker", "show", path("bad.safetensors")]), mentioning: [path("bad.safetensors")])
        try Data("junk".utf8).write(to: URL(fileURLWithPath: path("bad.pt")))
        assertFailsWithOneLine(try run(["inspect", path("bad.pt")]), mentioning: [path("bad.pt")])
        let nanFeatures = Tensor(shape: [1, 2, 2, 2], scalars: [0, 1, .nan, 3, 4, 5, 6, 7])
        try NumPyArray.write(nanFeatures, to: URL(fileURLWithPath: path("nan.npy")))
        XCTAssertEqual(try run(["masker", "init", "--apm", "s", "--channels", "2", "--height", "2", "--width", "2", "--output", path("s.safetensors")]).status, 0)
        assertFailsWithOneLine(try run(["masker", "apply", "--masker", path("s.safetensors"), "--input", path("nan.npy"), "--output", path("o.npy")]),
                               mentioning: ["nan.npy", "non-finite"])
    }

    func testNothingToWriteIsRefused() throws {
        let result = try run(["masker", "init", "--apm", "none", "--no-acpa", "--channels", "4", "--height", "5", "--width", "6", "--output", path("m.safetensors")])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("--no-acpa"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("m.safetensors")))
    }
}
