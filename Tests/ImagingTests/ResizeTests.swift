import Foundation
import Imaging
import TensorCore
import XCTest

/// Resizing, against Pillow 13's `Image.resize(..., BILINEAR)` and torch's
/// `F.interpolate(mode='nearest')` (resize_expected.json).
final class ResizeTests: XCTestCase {
    func testBilinearMatchesPillowBitForBit() throws {
        let cases = try XCTUnwrap(try fixtureJSON("resize_expected.json")["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 8)
        for entry in cases {
            let name = try XCTUnwrap(entry["input"] as? String)
            let width = try XCTUnwrap(entry["width"] as? Int), height = try XCTUnwrap(entry["height"] as? Int)
            let expected = [UInt8](try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(entry["expected"] as? String))))
            let url = imagingFixtures.appendingPathComponent("resize").appendingPathComponent(name)
            let got: [UInt8]
            if entry["mode"] as? String == "L" {
                got = resizeBilinearAntialiased(try GrayImage(contentsOf: url), width: width, height: height).pixels
            } else {
                got = resizeBilinearAntialiased(try RGBImage(contentsOf: url), width: width, height: height).pixels
            }
            XCTAssertEqual(got.count, expected.count, name)
            let differing = zip(got, expected).filter { $0 != $1 }.count
            XCTAssertEqual(differing, 0, "\(name) -> \(width)x\(height): \(differing) bytes differ from Pillow")
        }
    }

    func testQueryAt473MatchesPillowSamples() throws {
        let entry = try XCTUnwrap(try fixtureJSON("resize_expected.json")["query473"] as? [String: Any])
        let stride = try XCTUnwrap(entry["stride"] as? Int)
        let samples = [UInt8](try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(entry["samples"] as? String))))
        let image = try RGBImage(contentsOf: imagingFixtures.appendingPathComponent("query.png"))
        let resized = resizeBilinearAntialiased(image, width: 473, height: 473)
        XCTAssertEqual(resized.pixels.count, entry["count"] as? Int)
        let sampled = Swift.stride(from: 0, to: resized.pixels.count, by: stride).map { resized.pixels[$0] }
        XCTAssertEqual(sampled, samples)
    }

    func testSameSizeIsACopy() {
        let image = RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 * 13) })
        XCTAssertEqual(resizeBilinearAntialiased(image, width: 3, height: 2), image)
        let mask = GrayImage(width: 3, height: 2, pixels: [0, 255, 0, 255, 0, 255])
        XCTAssertEqual(resizeNearestTorch(mask, width: 3, height: 2), mask)
    }

    func testNearestMatchesTorchIndices() throws {
        let cases = try XCTUnwrap(try fixtureJSON("resize_expected.json")["nearest"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 15)
        var casesWhereExactArithmeticDiffers = 0
        for entry in cases {
            let input = try XCTUnwrap(entry["input"] as? Int), output = try XCTUnwrap(entry["output"] as? Int)
            let expected = try XCTUnwrap(entry["indices"] as? [Int])
            // The source index is recovered from two masks holding its low and high byte;
            // once along a row, once down a column.
            let low = GrayImage(width: input, height: 1, pixels: (0..<input).map { UInt8($0 & 255) })
            let high = GrayImage(width: input, height: 1, pixels: (0..<input).map { UInt8($0 >> 8) })
            let lowOut = resizeNearestTorch(low, width: output, height: 1).pixels
            let highOut = resizeNearestTorch(high, width: output, height: 1).pixels
            XCTAssertEqual(zip(lowOut, highOut).map { Int($0) | Int($1) << 8 }, expected, "\(input) -> \(output) along a row")
            let column = GrayImage(width: 1, height: input, pixels: low.pixels)
            let columnOut = resizeNearestTorch(column, width: 1, height: output).pixels
            XCTAssertEqual(columnOut, expected.map { UInt8($0 & 255) }, "\(input) -> \(output) down a column")
            let exact = (0..<output).map { min($0 * input / output, input - 1) }
            if exact != expected { casesWhereExactArithmeticDiffers += 1 }
        }
        // torch scales in single precision; for 420 -> 400, 424 -> 400, 210 -> 400 and
        // 2 -> 82 that picks other pixels than floor(i * in / out) in exact arithmetic,
        // so these cases check the float rule is followed.
        XCTAssertGreaterThanOrEqual(casesWhereExactArithmeticDiffers, 4)
    }

    func testNearestKeepsRowsAndColumnsApart() {
        let mask = GrayImage(width: 4, height: 2, pixels: [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(resizeNearestTorch(mask, width: 8, height: 4).pixels,
                       [1, 1, 2, 2, 3, 3, 4, 4, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 5, 5, 6, 6, 7, 7, 8, 8])
        XCTAssertEqual(resizeNearestTorch(mask, width: 2, height: 1).pixels, [1, 3])
    }
}
