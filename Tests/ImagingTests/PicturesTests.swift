import Foundation
import Imaging
import TensorCore
import XCTest

final class PNGWriterTests: XCTestCase {
    func testRGBAndGrayRoundTrip() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let rgb = RGBImage(width: 7, height: 5, pixels: (0..<105).map { UInt8(($0 * 37) & 255) })
        let gray = GrayImage(width: 6, height: 3, pixels: (0..<18).map { UInt8($0 * 14) })
        let rgbURL = folder.appendingPathComponent("rgb.png"), grayURL = folder.appendingPathComponent("gray.png")
        try rgb.writePNG(to: rgbURL)
        try gray.writePNG(to: grayURL)
        XCTAssertEqual(try RGBImage(contentsOf: rgbURL), rgb)
        XCTAssertEqual(try GrayImage(contentsOf: grayURL), gray)
        XCTAssertEqual(try DecodedImage(contentsOf: grayURL), .gray(gray), "stays a one-channel PNG")
        // Nothing but the two pictures is left behind (no temporary files).
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted(), ["gray.png", "rgb.png"])
    }

    func testWritingIntoMissingFolderFails() {
        let url = URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)/out.png")
        assertInputError([url.path, "does not exist"]) {
            try GrayImage(width: 1, height: 1, pixels: [0]).writePNG(to: url)
        }
    }

    func testEmptyPictureIsRefused() {
        assertInputError(["empty", "0x0"]) { _ = try PNGWriter.encode(RGBImage(width: 0, height: 0, pixels: [])) }
    }
}

final class PicturesTests: XCTestCase {
    func testOverlayTintsOnlyTheMask() {
        let image = RGBImage(width: 2, height: 1, pixels: [100, 100, 100, 10, 20, 30])
        let mask = GrayImage(width: 2, height: 1, pixels: [1, 0])
        let color = RGBColor(red: 200, green: 0, blue: 50)
        XCTAssertEqual(overlay(image: image, mask: mask, color: color, alpha: 0.5).pixels, [150, 50, 75, 10, 20, 30])
        XCTAssertEqual(overlay(image: image, mask: mask, color: color, alpha: 1).pixels, [200, 0, 50, 10, 20, 30])
        XCTAssertEqual(overlay(image: image, mask: mask, color: color, alpha: 0), image)
        // A mask of another size is brought to the image's size (nearest).
        let small = GrayImage(width: 1, height: 1, pixels: [255])
        XCTAssertEqual(overlay(image: image, mask: small, color: color, alpha: 1).pixels, [200, 0, 50, 200, 0, 50])
    }

    func testHeatmapUsesTheColourScale() {
        let map = heatmap(values: [0, 0.5, 1, .nan], width: 2, height: 2, scale: 2)
        XCTAssertEqual(map.width, 4)
        XCTAssertEqual(map.height, 4)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(map.pixels[(3 * (y * 4 + x))..<(3 * (y * 4 + x) + 3)]) }
        XCTAssertEqual(pixel(0, 0), [68, 1, 84])      // minimum: dark violet
        XCTAssertEqual(pixel(1, 1), [68, 1, 84])      // same block
        XCTAssertEqual(pixel(2, 0), [33, 145, 140])   // middle: teal
        XCTAssertEqual(pixel(0, 2), [253, 231, 37])   // maximum: yellow
        XCTAssertEqual(pixel(3, 3), [128, 128, 128])  // not finite: gray
        // A fixed range clamps.
        let clamped = heatmap(values: [-5, 5], width: 2, height: 1, range: 0...1)
        XCTAssertEqual(clamped.pixels, [68, 1, 84, 253, 231, 37])
        // Luminance grows along the scale, so the map reads in gray too.
        let ramp = heatmap(values: (0...20).map { Float($0) }, width: 21, height: 1)
        let luma = GrayImage(ramp).pixels
        XCTAssertEqual(luma, luma.sorted())
    }

    func testSideBySidePlacesPanels() {
        let a = RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 10, count: 12))
        let b = RGBImage(width: 1, height: 1, pixels: [20, 20, 20])
        let panel = sideBySide([a, b], gap: 1, background: .black)
        XCTAssertEqual(panel.width, 4)
        XCTAssertEqual(panel.height, 2)
        XCTAssertEqual(GrayImage(panel).pixels, [10, 10, 0, 20, 10, 10, 0, 0])
        XCTAssertEqual(sideBySide([]).width, 0)
    }
}
