import TensorCore
import XCTest

extension XCTestCase {
    /// The error is an InputError of one line that contains every one of `parts`.
    public func assertInputError(_ parts: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("no error; expected one mentioning \(parts)", file: file, line: line)
        } catch let error as InputError {
            XCTAssertFalse(error.message.contains("\n"), "error spans lines: \(error.message)", file: file, line: line)
            for part in parts {
                XCTAssertTrue(error.message.contains(part), "'\(error.message)' does not mention '\(part)'", file: file, line: line)
            }
        } catch {
            XCTFail("not an InputError: \(error)", file: file, line: line)
        }
    }
}
