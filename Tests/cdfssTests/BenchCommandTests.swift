import Foundation
import XCTest

/// `bench --compare-torch`: the options and their failures. PyTorch is never run here (the
/// build and the tests must not need it); every case fails before any timing starts.
final class BenchCommandTests: CommandLineTestCase {
    func testCompareTorchWithAMissingInterpreterFailsWithOneLineBeforeTiming() throws {
        let result = try run(["bench", "--compare-torch", "/nonexistent/python"])
        assertFailsWithOneLine(result, mentioning: ["--compare-torch", "/nonexistent/python"])
        XCTAssertEqual(result.stdout, "", "no timing printed")

        // Not an interpreter at all: the check run fails, named as such.
        let notPython = path("python")
        try "#!/bin/sh\necho broken >&2\nexit 3\n".write(toFile: notPython, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: notPython)
        let folder = path("code")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let broken = try run(["bench", "--suites", "maskers", "--compare-torch", notPython, "--apm-code", folder])
        assertFailsWithOneLine(broken, mentioning: [notPython, "check failed", "broken"])
        XCTAssertEqual(broken.stdout, "")

        // The published code's folders are named when missing.
        assertFailsWithOneLine(try run(["bench", "--suites", "train", "--compare-torch", notPython]), mentioning: ["--hsnet-code"])
        assertFailsWithOneLine(try run(["bench", "--suites", "train", "--compare-torch", notPython, "--hsnet-code", path("none")]),
                               mentioning: ["--hsnet-code", path("none")])
        assertFailsWithOneLine(try run(["bench", "--suites", "layers", "--compare-torch", notPython]), mentioning: ["--compare-torch"])
        assertFailsWithOneLine(try run(["bench", "--hsnet-code", folder]), mentioning: ["--hsnet-code", "--compare-torch"])
    }

    func testHelpDocumentsCompareTorch() throws {
        let help = try run(["bench", "--help"])
        XCTAssertEqual(help.status, 0)
        // Help wraps its lines: compare on single spaces.
        let text = (help.stdout + help.stderr).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for option in ["--compare-torch", "--hsnet-code", "--apm-code", "--torch-script", "torch_reference_bench.py", "theirs / ours"] {
            XCTAssertTrue(text.contains(option), "\(option) in bench --help")
        }
    }
}
