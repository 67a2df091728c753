import Foundation
import Imaging
import TensorCore
import XCTest

/// Decoding every supported layout, compared with what Pillow 13's
/// `Image.open(p).convert('RGB')` and `convert('L')` give (decode_expected.json).
final class DecodingTests: XCTestCase {
    func testEveryLayoutMatchesPillow() throws {
        let expected = try fixtureJSON("decode_expected.json")
        XCTAssertGreaterThanOrEqual(expected.count, 39)
        for (name, value) in expected.sorted(by: { $0.key < $1.key }) {
            let entry = try XCTUnwrap(value as? [String: Any])
            let url = imagingFixtures.appendingPathComponent("decode").appendingPathComponent(name)
            let decoded = try DecodedImage(contentsOf: url)
            XCTAssertEqual(decoded.width, entry["width"] as? Int, name)
            XCTAssertEqual(decoded.height, entry["height"] as? Int, name)
            let rgb = [UInt8](try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(entry["rgb"] as? String))))
            let gray = [UInt8](try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(entry["l"] as? String))))
            XCTAssertEqual(decoded.rgb.pixels, rgb, "\(name) (PIL mode \(entry["pil_mode"] ?? "?")) as RGB")
            XCTAssertEqual(decoded.gray.pixels, gray, "\(name) (PIL mode \(entry["pil_mode"] ?? "?")) as L")
            // The typed entry points agree with the two-case decode.
            XCTAssertEqual(try RGBImage(contentsOf: url), decoded.rgb, name)
            XCTAssertEqual(try GrayImage(contentsOf: url), decoded.gray, name)
        }
    }

    func testFormatComesFromTheBytesNotTheName() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = imagingFixtures.appendingPathComponent("decode/rgb8.png")
        let misnamed = folder.appendingPathComponent("picture.jpg")
        try FileManager.default.copyItem(at: source, to: misnamed)
        XCTAssertEqual(try RGBImage(contentsOf: misnamed), try RGBImage(contentsOf: source))
        XCTAssertEqual(ImageFormat(detecting: try Data(contentsOf: source)), .png)
        XCTAssertEqual(ImageFormat(detecting: try Data(contentsOf: imagingFixtures.appendingPathComponent("decode/jpeg420.jpg"))), .jpeg)
        XCTAssertEqual(ImageFormat(detecting: try Data(contentsOf: imagingFixtures.appendingPathComponent("decode/tiff_rgb_raw.tif"))), .tiff)
    }

    func testLumaIsPillowsFixedPointFormula() {
        // Pillow: (18,171,0) -> 106, (255,128,127) -> 166, (255,0,1) -> 76, (10,200,30) -> 124, (1,2,3) -> 2.
        let rgb = RGBImage(width: 6, height: 1, pixels: [18, 171, 0, 255, 128, 127, 255, 0, 1, 10, 200, 30, 1, 2, 3, 255, 255, 255])
        XCTAssertEqual(GrayImage(rgb).pixels, [106, 166, 76, 124, 2, 255])
        // Gray -> RGB -> L is the identity, as in PIL.
        let gray = GrayImage(width: 256, height: 1, pixels: (0...255).map { UInt8($0) })
        XCTAssertEqual(GrayImage(RGBImage(gray)), gray)
    }

    func testBinarizedMaskThresholdsAt128() {
        let mask = GrayImage(width: 5, height: 1, pixels: [0, 127, 128, 200, 255])
        XCTAssertEqual(mask.binarized().pixels, [0, 0, 1, 1, 1])
        XCTAssertEqual(mask.binarized(threshold: 201).pixels, [0, 0, 0, 0, 1])
    }
}
