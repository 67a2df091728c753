import Foundation
import Imaging
import TensorCore
import XCTest

/// Bad files give an InputError naming the file and the problem, never a crash. The
/// damaged files are made here from good fixtures.
final class DecodingErrorTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = try temporaryFolder()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func fixture(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: imagingFixtures.appendingPathComponent("decode").appendingPathComponent(name)))
    }

    /// Writes `bytes` to a file and expects decoding it to fail with `fragments` in the message.
    private func expectFailure(_ bytes: [UInt8], named name: String, _ fragments: [String],
                               file: StaticString = #filePath, line: UInt = #line) {
        let url = folder.appendingPathComponent(name)
        XCTAssertNoThrow(try Data(bytes).write(to: url), file: file, line: line)
        assertInputError([url.path] + fragments, file: file, line: line) { _ = try DecodedImage(contentsOf: url) }
    }

    // MARK: any format

    func testMissingFile() {
        let url = folder.appendingPathComponent("absent.png")
        assertInputError([url.path, "not found"]) { _ = try RGBImage(contentsOf: url) }
    }

    func testFolderInsteadOfFile() {
        assertInputError([folder.path, "folder"]) { _ = try GrayImage(contentsOf: folder) }
    }

    func testEmptyFile() {
        expectFailure([], named: "empty.png", ["empty"])
    }

    func testUnknownFormats() {
        expectFailure(Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0], named: "a.gif", ["GIF", "PNG, JPEG and TIFF"])
        expectFailure([0x42, 0x4D, 0, 0, 0, 0], named: "b.bmp", ["BMP"])
        expectFailure([1, 2, 3, 4, 5, 6, 7, 8, 9], named: "c.png", ["unknown image format", "01 02 03"])
    }

    // MARK: PNG

    func testTruncatedPNG() throws {
        let bytes = try fixture("rgb16.png")
        expectFailure(Array(bytes.prefix(bytes.count / 2)), named: "half.png", ["PNG", "truncated"])
        expectFailure(Array(bytes.prefix(20)), named: "header-only.png", ["PNG", "truncated"])
    }

    func testPNGWithDamagedData() throws {
        var bytes = try fixture("rgb16.png")
        let idat = try XCTUnwrap(PNGChunks.find("IDAT", in: bytes))
        bytes[idat.data + 5] ^= 0x5A
        expectFailure(bytes, named: "flipped.png", ["PNG", "CRC", "IDAT"])
    }

    func testPNGWithBadCompressedDataButValidChecksums() throws {
        // Passes every structural check; libpng itself fails while inflating, which runs
        // the contained error path. Then a good file still decodes.
        var bytes = try fixture("rgb16.png")
        let idat = try XCTUnwrap(PNGChunks.find("IDAT", in: bytes))
        for i in 2..<idat.length { bytes[idat.data + i] = UInt8(truncatingIfNeeded: i &* 37) }
        PNGChunks.fixCRC(of: idat, in: &bytes)
        for attempt in 0..<3 {
            expectFailure(bytes, named: "inflate\(attempt).png", ["PNG is corrupt"])
        }
        XCTAssertNoThrow(try DecodedImage(contentsOf: imagingFixtures.appendingPathComponent("decode/rgb16.png")))
    }

    func testZeroSizePNG() throws {
        var bytes = try fixture("gray8.png")
        let header = try XCTUnwrap(PNGChunks.find("IHDR", in: bytes))
        for i in 0..<4 { bytes[header.data + i] = 0 }  // width 0
        PNGChunks.fixCRC(of: header, in: &bytes)
        expectFailure(bytes, named: "zero.png", ["PNG", "zero size", "0x5"])
    }

    func testPNGWithoutIEND() throws {
        let bytes = try fixture("gray8.png")
        let end = try XCTUnwrap(PNGChunks.find("IEND", in: bytes))
        expectFailure(Array(bytes.prefix(end.data - 8)), named: "noend.png", ["PNG", "truncated", "IEND"])
    }

    // MARK: JPEG

    func testTruncatedJPEG() throws {
        let bytes = try fixture("jpeg420.jpg")
        let scan = try XCTUnwrap(JPEGMarkers.offset(of: 0xDA, in: bytes))
        // Cut inside the entropy-coded data: libjpeg would pad it with gray.
        expectFailure(Array(bytes.prefix((scan + bytes.count) / 2)), named: "cut-scan.jpg", ["JPEG", "truncated"])
        // Cut inside the headers.
        expectFailure(Array(bytes.prefix(scan / 2)), named: "cut-header.jpg", ["JPEG", "truncated"])
    }

    func testJPEGWithGarbageAfterStart() throws {
        let bytes = try fixture("jpeg420.jpg")
        expectFailure(Array(bytes.prefix(3)) + [0x12, 0x34, 0x56] + Array(bytes.dropFirst(6)), named: "garbage.jpg", ["JPEG", "corrupt"])
    }

    func testZeroSizeAndUnsupportedJPEG() throws {
        let bytes = try fixture("jpeg420.jpg")
        let frame = try XCTUnwrap(JPEGMarkers.offset(of: 0xC0, in: bytes))
        var zero = bytes
        zero[frame + 5] = 0  // height high byte
        zero[frame + 6] = 0  // height low byte
        expectFailure(zero, named: "zero.jpg", ["JPEG", "zero size"])
        var twelveBit = bytes
        twelveBit[frame + 4] = 12
        expectFailure(twelveBit, named: "twelve.jpg", ["12-bit"])
        var lossless = bytes
        lossless[frame + 1] = 0xC3
        expectFailure(lossless, named: "lossless.jpg", ["lossless JPEG"])
    }

    func testJPEGWithBogusHuffmanTable() throws {
        // Structurally sound, refused by libjpeg itself: exercises its error_exit path.
        var bytes = try fixture("jpeg420.jpg")
        let table = try XCTUnwrap(JPEGMarkers.offset(of: 0xC4, in: bytes))
        for i in 0..<16 { bytes[table + 5 + i] = 200 }  // code counts summing far past 256
        expectFailure(bytes, named: "huffman.jpg", ["JPEG is corrupt", "Huffman"])
        XCTAssertNoThrow(try DecodedImage(contentsOf: imagingFixtures.appendingPathComponent("decode/jpeg420.jpg")))
    }

    // MARK: TIFF

    func testTIFFWithBadDirectoryOffset() throws {
        var bytes = try fixture("tiff_rgb_raw.tif")
        bytes[4] = 0xF0; bytes[5] = 0xFF; bytes[6] = 0xFF; bytes[7] = 0x0F
        expectFailure(bytes, named: "offset.tif", ["TIFF is corrupt"])
    }

    func testTruncatedTIFF() throws {
        // The strip lies past the end of the shortened file.
        let bytes = try fixture("tiff_rgb8_tiled.tif")
        expectFailure(Array(bytes.prefix(bytes.count - 900)), named: "cut.tif", ["TIFF"])
        let plain = try fixture("tiff_miniswhite8.tif")
        expectFailure(Array(plain.prefix(plain.count - 10)), named: "cut2.tif", ["TIFF is corrupt"])
    }

    func testZeroSizeTIFF() throws {
        var bytes = try fixture("tiff_miniswhite8.tif")  // little-endian, width is the first entry
        XCTAssertEqual(Array(bytes[10..<12]), [0x00, 0x01])  // tag 256
        bytes[18] = 0; bytes[19] = 0; bytes[20] = 0; bytes[21] = 0
        expectFailure(bytes, named: "zero.tif", ["TIFF"])
    }
}

/// Chunk surgery on PNG bytes (with this file's own CRC-32, so the test checks the decoder's).
enum PNGChunks {
    struct Chunk {
        var start: Int  // offset of the length field
        var data: Int   // offset of the payload
        var length: Int
    }

    static func find(_ type: String, in bytes: [UInt8]) -> Chunk? {
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            if String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self) == type {
                return Chunk(start: offset, data: offset + 8, length: length)
            }
            offset += 12 + length
        }
        return nil
    }

    static func fixCRC(of chunk: Chunk, in bytes: inout [UInt8]) {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes[(chunk.start + 4)..<(chunk.data + chunk.length)] {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        crc ^= 0xFFFF_FFFF
        let at = chunk.data + chunk.length
        bytes[at] = UInt8(crc >> 24); bytes[at + 1] = UInt8((crc >> 16) & 0xFF)
        bytes[at + 2] = UInt8((crc >> 8) & 0xFF); bytes[at + 3] = UInt8(crc & 0xFF)
    }
}

enum JPEGMarkers {
    /// Offset of the first 0xFF `marker` pair among the header segments.
    static func offset(of marker: UInt8, in bytes: [UInt8]) -> Int? {
        var offset = 2
        while offset + 4 <= bytes.count, bytes[offset] == 0xFF {
            if bytes[offset + 1] == marker { return offset }
            let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            offset += 2 + length
        }
        return nil
    }
}
