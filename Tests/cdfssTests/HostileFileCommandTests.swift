import Foundation
import XCTest

/// Hostile and mistaken files through the commands a user runs: one line on stderr and a
/// plain failure exit, never a trap (exit 132), a crash (134, 139) or a hang.
final class HostileFileCommandTests: CommandLineTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    func testMaskerShowOnACheckpointSaysWhatTheFileIs() throws {
        let checkpoint = Self.fixtures.appendingPathComponent("hsnet_apm_nonbackbone.pt").path
        let result = try run(["masker", "show", checkpoint])
        assertFailsWithOneLine(result, mentioning: [checkpoint, "is a zip archive (a PyTorch checkpoint", "not a safetensors file"])
        XCTAssertFalse(result.stderr.contains("header length"), result.stderr)
        XCTAssertEqual(result.status, 1)
    }

    func testMaskerApplyOnAnArrayWhoseShapeOverflows() throws {
        let masker = path("m.safetensors")
        XCTAssertEqual(try run(["masker", "init", "--apm", "s", "--channels", "4", "--height", "5", "--width", "6", "--output", masker]).status, 0)
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }\n"
        var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8)
        bytes += [UInt8](repeating: 0, count: 64)
        try Data(bytes).write(to: URL(fileURLWithPath: path("huge.npy")))
        let result = try run(["masker", "apply", "--masker", masker, "--input", path("huge.npy"), "--output", path("out.npy")])
        assertFailsWithOneLine(result, mentioning: [path("huge.npy"), "more elements than"])
        XCTAssertEqual(result.status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.npy")))
    }

    func testReportShowWithPixelCountsOfIntMax() throws {
        let episode = """
            {"index": 0, "seed": 0, "class": 0, "query": "1/q.jpg", "supports": ["1/s.jpg"],
             "intersection": [\(Int.max), \(Int.max)], "union": [\(Int.max), \(Int.max)], "seconds": 0.5}
            """
        let report = """
            {"config": {"cdfss_version": "0.1.0", "checkpoint": "a.pt", "checkpoint_sha256": "00", "masker": "none",
             "benchmark": "deepglobe", "datapath": "/d", "shots": 1, "seed": 0, "episodes": 1, "image_size": 400,
             "original_size": false, "adaptation": {"mode": "none"}},
             "episodes": [\(episode)], "classes": [{"class": 0, "name": "1", "iou": 0}], "miou": 0, "fbiou": 0}
            """
        try Data(report.utf8).write(to: URL(fileURLWithPath: path("r.json")))
        let result = try run(["report", "show", path("r.json")])
        assertFailsWithOneLine(result, mentioning: [path("r.json"), "exceed the", "episodes[0].intersection"])
        XCTAssertEqual(result.status, 1)
    }
}
