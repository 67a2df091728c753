import Foundation
import Imaging
import TensorCore
import XCTest

/// Small files that declare huge pictures or endless work: each is refused from its headers,
/// in well under a second, before the decoder allocates or decodes anything.
final class HostileImageTests: XCTestCase {
    /// Decodes `bytes` and expects a quick InputError with `fragments`.
    private func expectQuickFailure(_ bytes: [UInt8], _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        let start = Date()
        assertInputError(["image.bin"] + fragments, file: file, line: line) {
            _ = try DecodedImage(decoding: Data(bytes), source: "image.bin")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1, "refused only after decoding", file: file, line: line)
    }

    // MARK: PNG

    private func pngChunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in body {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return be32(UInt32(data.count)) + body + be32(~crc)
    }

    private func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    private func be16(_ v: Int) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }

    /// An 8-bit RGB PNG declaring `width` x `height` with `dataBytes` bytes of IDAT.
    private func png(width: Int, height: Int, dataBytes: Int) -> [UInt8] {
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + pngChunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [8, 2, 0, 0, 0])
            + pngChunk("IDAT", [0x78, 0x9C] + [UInt8](repeating: 0, count: dataBytes - 2))
            + pngChunk("IEND", [])
    }

    func testPNGDeclaring16384Squared() {
        // The 32 KB file: beyond the pixel limit.
        expectQuickFailure(png(width: 16384, height: 16384, dataBytes: 32 << 10), ["PNG", "too large", "16384x16384"])
    }

    func testPNGWhoseDataCannotHoldItsPicture() {
        // Within the pixel limit, but 32 KB of deflate data hold at most 33 MB of rows, not 201 MB.
        expectQuickFailure(png(width: 8192, height: 8192, dataBytes: 32 << 10),
                           ["PNG is truncated or corrupt", "32768 bytes of image data cannot hold 8192x8192 pixels"])
    }

    // MARK: JPEG

    /// SOI and a progressive frame header for a 3-component `width` x `height` picture.
    private func jpegHead(width: Int, height: Int) -> [UInt8] {
        [0xFF, 0xD8, 0xFF, 0xC2] + be16(17) + [8] + be16(height) + be16(width) + [3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]
    }

    /// A DC scan header of all three components, with a few bytes of entropy-coded data.
    private let scan: [UInt8] = [0xFF, 0xDA] + [0, 12, 3, 1, 0, 2, 0, 3, 0, 0, 0, 1, 0] + [0x12, 0x34, 0xFF, 0x00, 0x56]

    func testTruncatedProgressiveJPEGOfAHugePicture() {
        // libjpeg would allocate the whole picture's coefficients and decode it from these bytes.
        expectQuickFailure(jpegHead(width: 8192, height: 8192) + scan, ["JPEG is truncated", "no EOI marker after scan 1"])
        expectQuickFailure(jpegHead(width: 16384, height: 16384) + scan, ["JPEG image is too large", "16384x16384"])
    }

    func testJPEGWithThousandsOfScans() {
        let bytes = jpegHead(width: 64, height: 64) + Array([[UInt8]](repeating: scan, count: 3000).joined()) + [0xFF, 0xD9]
        expectQuickFailure(bytes, ["JPEG has more than \(InputLimits.jpegScans) scans"])
    }

    func testGoodProgressiveJPEGStillDecodes() throws {
        let url = imagingFixtures.appendingPathComponent("decode/jpeg_progressive.jpg")
        XCTAssertGreaterThan(try DecodedImage(contentsOf: url).width, 0)
    }

    // MARK: Library failures

    /// Threads of this process, from /proc (Linux).
    private func threadCount() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("Threads:") })
        return try XCTUnwrap(Int(line.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)))
    }

    func testLibraryFailuresLeaveNothingBehind() throws {
        // Refused by libjpeg and libpng themselves (past every check in Swift): a Huffman table
        // whose code counts pass 256, and IDAT data that does not inflate. Each failure used
        // to park a thread for good; a run over a folder of bad files must not accumulate any.
        var jpeg = [UInt8](try Data(contentsOf: imagingFixtures.appendingPathComponent("decode/jpeg420.jpg")))
        let table = try XCTUnwrap(JPEGMarkers.offset(of: 0xC4, in: jpeg))
        for i in 0..<16 { jpeg[table + 5 + i] = 200 }
        var png = [UInt8](try Data(contentsOf: imagingFixtures.appendingPathComponent("decode/rgb16.png")))
        let idat = try XCTUnwrap(PNGChunks.find("IDAT", in: png))
        for i in 2..<idat.length { png[idat.data + i] = UInt8(truncatingIfNeeded: i &* 37) }
        PNGChunks.fixCRC(of: idat, in: &png)

        let before = try threadCount()
        for _ in 0..<200 {
            assertInputError(["JPEG is corrupt", "Huffman"]) { _ = try DecodedImage(decoding: Data(jpeg), source: "a.jpg") }
            assertInputError(["PNG is corrupt"]) { _ = try DecodedImage(decoding: Data(png), source: "a.png") }
        }
        XCTAssertLessThan(try threadCount(), before + 10, "failed decodes leave threads behind")
    }

    // MARK: TIFF

    func testTIFFDeclaringAHugePicture() {
        // Little-endian, one directory of width, height, bits, photometric, strip offset and size.
        func entry(_ tag: UInt16, _ type: UInt16, _ value: UInt32) -> [UInt8] {
            [UInt8(tag & 0xFF), UInt8(tag >> 8), UInt8(type & 0xFF), UInt8(type >> 8), 1, 0, 0, 0]
                + (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        }
        let entries = entry(256, 4, 65535) + entry(257, 4, 65535) + entry(258, 3, 8) + entry(262, 3, 1)
            + entry(273, 4, 8) + entry(279, 4, 16)
        let bytes: [UInt8] = [0x49, 0x49, 0x2A, 0x00, 8 + 16, 0, 0, 0] + [UInt8](repeating: 0, count: 16) + [6, 0] + entries + [0, 0, 0, 0]
        expectQuickFailure(bytes, ["TIFF image is too large", "65535x65535"])
    }
}
