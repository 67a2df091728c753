import Foundation
import TensorCore
import XCTest

/// Files are named for what they are when another kind is expected, and outputs must be named
/// for the format written.
final class FileKindTests: XCTestCase {
    func testKindsAreToldFromTheirFirstBytes() throws {
        let header = Data("{\"a\":{}}".utf8)
        var safetensors = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Data($0) }
        safetensors.append(header)
        let cases: [([UInt8], FileKind)] = [
            ([0x50, 0x4B, 0x03, 0x04, 0, 0], .torchZip),
            ([0x80, 0x02, 0x7D, 0x71], .pickle),
            ([UInt8](safetensors), .safetensors),
            ([0x93] + Array("NUMPY".utf8) + [1, 0], .npy),
            ([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], .png),
            ([0xFF, 0xD8, 0xFF, 0xE0], .jpeg),
            (Array("II*\u{0}".utf8), .tiff),
            (Array("MM".utf8) + [0, 42], .tiff),
            (Array("  {\"config\": 1}".utf8), .json),
            (Array("junk".utf8), .unknown),
            ([], .unknown),
        ]
        for (bytes, kind) in cases {
            XCTAssertEqual(FileKind.sniff(Data(bytes)), kind, "\(bytes.prefix(8))")
        }
        XCTAssertEqual(FileKind.sniff(URL(fileURLWithPath: "/nonexistent/file")), .unknown)
    }

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
