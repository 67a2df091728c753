import Foundation
import TensorCore
import XCTest

/// Inputs `make fuzz` found crashing a parser, minimised by libFuzzer, each kept with the
/// one-line error it must now get. A finding that traps again fails here, not in a user's run.
final class FuzzFindingTests: XCTestCase {
    private func checkpoint(_ bytes: [UInt8], _ parts: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-fuzz-finding-\(UUID().uuidString).pt")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try TorchCheckpoint(contentsOf: url).loadStateDict()
            XCTFail("accepted", file: file, line: line)
        } catch let error as InputError {
            XCTAssertFalse(error.message.contains("\n"), "error spans lines: \(error.message)", file: file, line: line)
            for part in [url.path] + parts {
                XCTAssertTrue(error.message.contains(part), "'\(error.message)' does not mention '\(part)'", file: file, line: line)
            }
        }
    }

    /// ZIP64 records whose offsets pass 2^63: the zip library trapped converting one to off_t.
    func testZip64OffsetsBeyondTheFile() throws {
        try checkpoint([0x50, 0x4B, 0x03, 0x04, 0x50, 0x4B, 0x06, 0x06, 0x2C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                        0x1E, 0x03, 0x2D, 0x55, 0x6E, 0x73, 0x61, 0x66, 0x65, 0x50, 0x6F, 0x69, 0x6E, 0x74, 0x4B, 0x05,
                        0x06, 0x00, 0x00, 0x00, 0x00, 0x0D, 0x00, 0x0D, 0x00, 0x2A, 0x03, 0x00, 0x00, 0x38, 0x09, 0x00,
                        0x00, 0x00, 0x00, 0x00, 0x38, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0x50, 0x4B, 0x06, 0x07,
                        0x82, 0x00, 0x00, 0x00, 0x62, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                        0x50, 0x4B, 0x05, 0x06, 0x00, 0x00, 0x00, 0x00, 0x0D, 0x00, 0x0D, 0x00, 0x2A, 0x03, 0x00, 0x00,
                        0x38, 0x09, 0x00, 0x00, 0x00, 0x00],
                       ["corrupt zip archive"])
    }
}
