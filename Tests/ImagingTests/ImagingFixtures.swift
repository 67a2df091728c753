import Foundation
import Imaging
import TensorCore
import XCTest

/// Tests/Fixtures/images, found from this file's location.
let imagingFixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").appendingPathComponent("images")

func fixtureJSON(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: imagingFixtures.appendingPathComponent(name))
    return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// A fresh folder under the system's temporary directory, removed by the caller.
func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("imaging-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Asserts that `body` throws an InputError whose one-line message contains every
/// fragment (case-insensitively); returns the message.
@discardableResult
func assertInputError(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                      _ body: () throws -> Void) -> String? {
    do {
        try body()
        XCTFail("expected an InputError containing \(fragments)", file: file, line: line)
        return nil
    } catch let error as InputError {
        for fragment in fragments {
            XCTAssertTrue(error.message.lowercased().contains(fragment.lowercased()),
                          "message \"\(error.message)\" lacks \"\(fragment)\"", file: file, line: line)
        }
        XCTAssertFalse(error.message.contains("\n"), "message is not one line: \(error.message)", file: file, line: line)
        return error.message
    } catch {
        XCTFail("expected an InputError, got \(error)", file: file, line: line)
        return nil
    }
}
