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
        XCTAssertNoThrow(try OutputFormat.html.check("run/report.HTML", option: "--html"))
        XCTAssertThrowsError(try OutputFormat.html.check("report.htm", option: "--html")) { error in
            XCTAssertEqual((error as? InputError)?.message,
                           "--html report.htm: this output is written as HTML, but the name ends in .htm; give a name ending in .html")
        }
        XCTAssertThrowsError(try OutputFormat.npy.check("logits", option: "--logits")) { error in
            XCTAssertTrue((error as? InputError)?.message.contains("has no extension") ?? false, "\(error)")
        }
    }
}
