import Foundation
import Glibc
@testable import TensorCore
import XCTest

/// Outputs checked before any work: where they go, and that they replace no input.
final class OutputCheckTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("output-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func touch(_ name: String) throws -> String {
        try Data("x".utf8).write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    func assertRefused(_ check: OutputCheck, mentioning texts: [String], line: UInt = #line) {
        XCTAssertThrowsError(try check.verify(), line: line) { error in
            let message = (error as? InputError)?.message ?? "\(error)"
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", line: line)
            for text in texts { XCTAssertTrue(message.contains(text), "\(text) in \(message)", line: line) }
        }
    }

    func testMissingFolderIsNamedWithTheOption() {
        var check = OutputCheck()
        check.output("--logits", path("nodir/l.npy"))
        assertRefused(check, mentioning: ["--logits", path("nodir"), "does not exist"])
    }

    func testAnInputUnderAnyOtherSpellingIsRefused() throws {
        let query = try touch("q.png")
        try FileManager.default.createSymbolicLink(atPath: path("link.png"), withDestinationPath: query)
        XCTAssertEqual(link(query, path("hard.png")), 0)
        try FileManager.default.createDirectory(atPath: path("sub"), withIntermediateDirectories: false)
        for spelling in [query, path("sub/../q.png"), path("link.png"), path("hard.png"), folder.path + "/./q.png"] {
            var check = OutputCheck()
            check.input("--query", query)
            check.output("--output", spelling)
            assertRefused(check, mentioning: ["--output", "--query", "input"])
        }
        var fine = OutputCheck()
        fine.input("--query", query)
        fine.output("--output", path("o.png"))
        XCTAssertNoThrow(try fine.verify())
    }

    func testTwoOutputsNamingOneFileAreRefused() {
        var check = OutputCheck()
        check.output("--output", path("o.png"))
        check.output("--overlay", folder.path + "/./o.png")
        assertRefused(check, mentioning: ["--output", "--overlay", "same file"])
    }

    func testFoldersAndFilesInTheWrongPlace() throws {
        let file = try touch("afile")
        var folderAsFile = OutputCheck()
        folderAsFile.output("--output", folder.path)
        assertRefused(folderAsFile, mentioning: ["--output", "is a folder"])

        var fileAsFolder = OutputCheck()
        fileAsFolder.outputFolder("--vis-dir", file)
        assertRefused(fileAsFolder, mentioning: ["--vis-dir", file, "is a file"])

        var belowAFile = OutputCheck()
        belowAFile.outputFolder("--vis-dir", file + "/pictures/deeper")
        assertRefused(belowAFile, mentioning: ["--vis-dir", file, "is a file"])

        var fileBelowAFile = OutputCheck()
        fileBelowAFile.output("--report", file + "/r.json")
        assertRefused(fileBelowAFile, mentioning: ["--report", "not a folder"])

        var creatable = OutputCheck()
        creatable.outputFolder("--vis-dir", path("new/pictures"))
        XCTAssertNoThrow(try creatable.verify())
    }

    func testAnOutputFolderInsideAnInputFolderIsRefused() throws {
        try FileManager.default.createDirectory(atPath: path("data/class-1"), withIntermediateDirectories: true)
        var check = OutputCheck()
        check.inputFolder("--datapath", path("data"))
        check.outputFolder("--vis-dir", path("data/class-1/../vis"))
        assertRefused(check, mentioning: ["--vis-dir", "--datapath"])

        var beside = OutputCheck()
        beside.inputFolder("--datapath", path("data"))
        beside.outputFolder("--vis-dir", path("data-vis"))
        XCTAssertNoThrow(try beside.verify())
    }

    func testAReadOnlyFolderIsRefused() throws {
        try XCTSkipIf(geteuid() == 0, "root writes into read-only folders")
        try FileManager.default.createDirectory(atPath: path("ro"), withIntermediateDirectories: false)
        XCTAssertEqual(chmod(path("ro"), 0o555), 0)
        defer { chmod(path("ro"), 0o755) }
        var check = OutputCheck()
        check.output("--output", path("ro/m.safetensors"))
        assertRefused(check, mentioning: ["--output", "not writable"])
    }

    /// Foundation's errors read as their POSIX cause, not as an NSCocoaErrorDomain dump.
    func testFoundationErrorsReadAsTheirCause() throws {
        let file = try touch("afile")
        XCTAssertThrowsError(try FileManager.default.createDirectory(atPath: file + "/x", withIntermediateDirectories: true)) { error in
            XCTAssertEqual(OutputCheck.reason(error), String(cString: strerror(ENOTDIR)))
        }
    }

    /// A killed writer's temporaries go; a live writer's (locked) stay, as do files that only
    /// look similar.
    func testPrepareSweepsOnlyDeadWritersTemporaries() throws {
        let deadFile = try touch(".m.safetensors.\(UUID().uuidString).partial")
        let deadFolder = path(".cdfss-outputs.\(UUID().uuidString).partial")
        try FileManager.default.createDirectory(atPath: deadFolder, withIntermediateDirectories: false)
        try Data("half".utf8).write(to: URL(fileURLWithPath: deadFolder + "/m.safetensors"))
        let live = try touch(".r.json.\(UUID().uuidString).partial")
        let liveLock = open(live, O_RDONLY)
        XCTAssertEqual(flock(liveLock, LOCK_EX), 0)
        defer { close(liveLock) }
        let lookalikes = [try touch(".m.safetensors.partial"), try touch(".notes.1234.partial"), try touch("m.safetensors")]

        var check = OutputCheck()
        check.output("--output", path("m.safetensors"))
        try check.prepare()
        XCTAssertFalse(FileManager.default.fileExists(atPath: deadFile))
        XCTAssertFalse(FileManager.default.fileExists(atPath: deadFolder))
        XCTAssertTrue(FileManager.default.fileExists(atPath: live), "a live writer's temporary stays")
        for file in lookalikes { XCTAssertTrue(FileManager.default.fileExists(atPath: file), file) }
    }
}
