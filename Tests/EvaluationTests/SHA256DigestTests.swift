import Datasets
import Evaluation
import Foundation
import XCTest

/// SHA-256 against the FIPS 180-4 examples, fed whole and in pieces.
final class SHA256DigestTests: XCTestCase {
    func testKnownDigests() {
        XCTAssertEqual(SHA256Digest.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256Digest.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256Digest.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testPiecesGiveTheSameDigest() {
        let bytes = Data((0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let whole = SHA256Digest.hex(bytes)
        for pieceSize in [1, 3, 63, 64, 65, 200] {
            var digest = SHA256Digest()
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + pieceSize)
                digest.update(bytes.subdata(in: start..<end))
                start = end
            }
            XCTAssertEqual(digest.finalize(), whole, "pieces of \(pieceSize)")
        }
        // A million 'a' (FIPS 180-2 appendix B.3), in 1000-byte pieces.
        var million = SHA256Digest()
        let thousand = Data(repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { million.update(thousand) }
        XCTAssertEqual(million.finalize(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testFileDigest() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-sha-\(UUID().uuidString).bin")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data("abc".utf8).write(to: url)
        XCTAssertEqual(try SHA256Digest.hex(ofFile: url), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertThrowsError(try SHA256Digest.hex(ofFile: url.appendingPathExtension("absent")))
    }
}
