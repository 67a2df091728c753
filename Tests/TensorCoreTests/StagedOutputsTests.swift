import Foundation
import Glibc
@testable import TensorCore
import XCTest

/// A command's outputs appear together at commit, or not at all.
final class StagedOutputsTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("staged-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func url(_ name: String) -> URL { folder.appendingPathComponent(name) }

    /// Everything under `folder`, hidden entries included.
    func listing() throws -> [String] {
        try FileManager.default.subpathsOfDirectory(atPath: folder.path).sorted()
    }

    func testNothingAppearsBeforeCommitAndEverythingAfter() throws {
        try FileManager.default.createDirectory(at: url("pictures"), withIntermediateDirectories: false)
        let staged = StagedOutputs()
        try staged.stage(Data("mask".utf8), to: url("o.png"))
        try staged.stage(Data("one".utf8), to: url("pictures/1.png"))
        try staged.stage(Data("mask again".utf8), to: url("o.png"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: url("o.png").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: url("pictures/1.png").path))
        try staged.commit()
        XCTAssertEqual(try listing(), ["o.png", "pictures", "pictures/1.png"], "no temporaries left")
        XCTAssertEqual(try String(contentsOf: url("o.png"), encoding: .utf8), "mask again")
    }

    func testAFailedCommandLeavesNoneOfItsOutputsNorTheFoldersItCreated() throws {
        try Data("old".utf8).write(to: url("kept.txt"))
        do {
            let staged = StagedOutputs()
            try staged.createFolder(url("vis/run"), option: "--vis-dir")
            try staged.stage(Data("picture".utf8), to: url("vis/run/1.png"))
            try staged.stage(Data("new".utf8), to: url("kept.txt"))
            // The command fails here: the staged outputs go out of scope uncommitted.
        }
        XCTAssertEqual(try listing(), ["kept.txt"])
        XCTAssertEqual(try String(contentsOf: url("kept.txt"), encoding: .utf8), "old")
    }

    func testAFailedRenameUndoesTheRenamesBeforeIt() throws {
        let staged = StagedOutputs()
        try staged.stage(Data("a".utf8), to: url("a.bin"))
        try staged.stage(Data("b".utf8), to: url("b.bin"))
        // Something takes b.bin's place meanwhile: a folder with content, which rename cannot replace.
        try FileManager.default.createDirectory(at: url("b.bin"), withIntermediateDirectories: false)
        try Data().write(to: url("b.bin/inside"))
        XCTAssertThrowsError(try staged.commit()) { error in
            XCTAssertTrue((error as? InputError)?.message.contains("b.bin") ?? false, "\(error)")
        }
        XCTAssertEqual(try listing(), ["b.bin", "b.bin/inside"], "a.bin was taken back, nothing staged is left")
    }

    func testAMissingFolderIsNamed() {
        XCTAssertThrowsError(try StagedOutputs().stage(Data(), to: url("nodir/x.npy"))) { error in
            XCTAssertTrue((error as? InputError)?.message.contains("does not exist") ?? false, "\(error)")
        }
    }

    func testTemporaryNamingIsRecognised() {
        XCTAssertTrue(AtomicFile.isTemporaryName(AtomicFile.temporaryName(for: "m.safetensors")))
        XCTAssertTrue(AtomicFile.isTemporaryName(".cdfss-outputs.\(UUID().uuidString).partial"))
        XCTAssertFalse(AtomicFile.isTemporaryName("m.safetensors"))
        XCTAssertFalse(AtomicFile.isTemporaryName(".\(UUID().uuidString).partial"), "a name is needed before the UUID")
        XCTAssertFalse(AtomicFile.isTemporaryName(".m.safetensors.not-a-uuid.partial"))
    }
}
