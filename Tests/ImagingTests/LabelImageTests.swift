import Foundation
import Imaging
import TensorCore
import XCTest

/// Label maps read as class indices, compared with what HSNet's loader gets from
/// `np.array(Image.open(p))` with Pillow 13 (label_expected.json, written by
/// scripts/fixtures/label_maps.py from the decoding fixtures).
final class LabelImageTests: XCTestCase {
    func testEveryOneChannelPNGGivesWhatNumpyGetsFromPillow() throws {
        let expected = try fixtureJSON("label_expected.json")
        var read = 0, refused = 0
        for (name, value) in expected.sorted(by: { $0.key < $1.key }) {
            let entry = try XCTUnwrap(value as? [String: Any])
            let url = imagingFixtures.appendingPathComponent("decode").appendingPathComponent(name)
            let mode = entry["pil_mode"] as? String ?? "?"
            if entry["refused"] as? Bool == true {
                refused += 1
                assertInputError([url.path, "label map"]) { _ = try LabelImage(contentsOf: url) }
                continue
            }
            read += 1
            let label = try LabelImage(contentsOf: url)
            XCTAssertEqual(label.width, entry["width"] as? Int, name)
            XCTAssertEqual(label.height, entry["height"] as? Int, name)
            let indices = [UInt8](try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(entry["indices"] as? String))))
            XCTAssertEqual(label.indices, indices, "\(name) (PIL mode \(mode))")
        }
        // Palette (6 files), 1/2/4/8-bit gray (6): read; colour, alpha and 16-bit beyond 255 (9): refused.
        XCTAssertEqual(read, 12)
        XCTAssertEqual(refused, 9)
    }

    func testPaletteLabelsAreIndicesNotGrayLevels() throws {
        let url = pascalFixtures.appendingPathComponent("palette_label.png")
        let label = try LabelImage(contentsOf: url)
        XCTAssertEqual(label.width, 6)
        XCTAssertEqual(label.height, 4)
        XCTAssertEqual(label.indices, vocLabels)
        // The gray reading takes the colours through the luma formula: VOC's class 1 is dark red.
        XCTAssertNotEqual(try GrayImage(contentsOf: url).pixels, vocLabels)
    }

    func testSixteenBitGrayWithinAByteIsRead() throws {
        XCTAssertEqual(try LabelImage(contentsOf: pascalFixtures.appendingPathComponent("gray16_label.png")).indices, vocLabels)
    }

    func testSixteenBitValueAbove255IsRefusedWithItsPlace() throws {
        // gray16.png starts 0, 1, 255, 256, 1000, 65535: the first value out of reach is named.
        let url = imagingFixtures.appendingPathComponent("decode/gray16.png")
        assertInputError([url.path, "value 256 at x 3, y 0", "above 255"]) { _ = try LabelImage(contentsOf: url) }
    }

    func testColourPicturesAreRefusedByKind() throws {
        let rgb = imagingFixtures.appendingPathComponent("decode/rgb8.png")
        assertInputError([rgb.path, "RGB PNG", "not indices"]) { _ = try LabelImage(contentsOf: rgb) }
        let rgba = imagingFixtures.appendingPathComponent("decode/rgba8.png")
        assertInputError([rgba.path, "RGBA PNG"]) { _ = try LabelImage(contentsOf: rgba) }
        let grayAlpha = imagingFixtures.appendingPathComponent("decode/gray_alpha8.png")
        assertInputError([grayAlpha.path, "gray+alpha"]) { _ = try LabelImage(contentsOf: grayAlpha) }
    }

    func testOnlyPNGIsRead() throws {
        let jpeg = imagingFixtures.appendingPathComponent("decode/jpeg_gray.jpg")
        assertInputError([jpeg.path, "must be a PNG", "JPEG"]) { _ = try LabelImage(contentsOf: jpeg) }
        let tiff = imagingFixtures.appendingPathComponent("decode/tiff_l_tiff_lzw.tif")
        assertInputError([tiff.path, "TIFF"]) { _ = try LabelImage(contentsOf: tiff) }
    }

    func testMissingEmptyAndDamagedFilesAreNamed() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let missing = folder.appendingPathComponent("absent.png")
        assertInputError([missing.path, "not found"]) { _ = try LabelImage(contentsOf: missing) }
        let empty = folder.appendingPathComponent("empty.png")
        try Data().write(to: empty)
        assertInputError([empty.path, "empty"]) { _ = try LabelImage(contentsOf: empty) }
        let truncated = folder.appendingPathComponent("truncated.png")
        try Data(try Data(contentsOf: pascalFixtures.appendingPathComponent("palette_label.png")).prefix(60)).write(to: truncated)
        assertInputError([truncated.path, "truncated"]) { _ = try LabelImage(contentsOf: truncated) }
    }

    func testEightBitGrayKeepsEveryValueAndMasksPickOne() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("label.png")
        let values = (0...255).map(UInt8.init)
        try GrayImage(width: 16, height: 16, pixels: values).writePNG(to: url)
        let label = try LabelImage(contentsOf: url)
        XCTAssertEqual(label.indices, values)
        XCTAssertEqual(label.mask(of: 7).pixels, values.map { $0 == 7 ? 1 : 0 })
        XCTAssertTrue(label.contains(255))
        XCTAssertFalse(LabelImage(width: 2, height: 1, indices: [0, 3]).contains(255))
    }

    /// The labels of both fixtures under Tests/Fixtures/pascal.
    let vocLabels: [UInt8] = [
        0, 0, 1, 1, 255, 0,
        0, 1, 1, 255, 15, 15,
        0, 255, 255, 15, 15, 15,
        0, 0, 0, 0, 15, 0,
    ]
}

/// Tests/Fixtures/pascal.
let pascalFixtures = imagingFixtures.deletingLastPathComponent().appendingPathComponent("pascal")
