import Foundation
import TensorCore
import XCTest

/// Outputs must be named for the format written.
final class OutputFormatTests: XCTestCase {
    func testOutputNamesMustNameTheFormatWritten() throws {
        XCTAssertNoThrow(try OutputFormat.png.check("a/b.png", option: "--output"))
        XCTAssertNoThrow(try OutputFormat.png.check("B.PNG", option: "--output"))
        XCTAssertNoThrow(try OutputFormat.safetensors.check("m.safetensors", option: "--output"))
        XCTAssertThrowsError(try OutputFormat.png.check("x.jpg", option: "--output")) { error in
            XCTAssertEqual((error as? InputError)?.message,
                           "--output x.jpg: this output is written as PNG, but the name ends in .jpg; give a name ending in .png")
        }
        XCTAssertThrowsError(try OutputFormat.npy.check("logits", option: "--logits")) { error in
            XCTAssertTrue((error as? InputError)?.message.contains("has no extension") ?? false, "\(error)")
        }
    }
}
