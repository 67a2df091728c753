import Foundation
import TensorCore
import XCTest

final class SafetensorsTests: XCTestCase {
    func testRoundTripKeepsTensorsAndMetadata() throws {
        let file = SafetensorsFile(
            tensors: ["a.weight": Tensor(shape: [2, 3], scalars: [1, -2, 3.5, 0, .greatestFiniteMagnitude, -0.0]),
                      "b": Tensor(shape: [1], scalars: [42]),
                      "empty": Tensor(shape: [0, 4], scalars: [])],
            metadata: ["variant": "apm-m", "quote\"d": "line\nbreak"])
        let decoded = try SafetensorsFile.decode(file.encoded())
        XCTAssertEqual(decoded, file)
    }

    func testTruncatedFileIsRefusedWithReason() throws {
        let data = SafetensorsFile(tensors: ["x": Tensor(repeating: 1, shape: [4, 4])]).encoded()
        XCTAssertThrowsError(try SafetensorsFile.decode(data.prefix(data.count - 3))) { error in
            XCTAssertTrue("\(error)".contains("\"x\""), "\(error)")
        }
        XCTAssertThrowsError(try SafetensorsFile.decode(Data([1, 2, 3])))
        XCTAssertThrowsError(try SafetensorsFile.decode(Data([255, 255, 0, 0, 0, 0, 0, 0, 1])))
    }

    func testMissingFileNamesThePath() throws {
        XCTAssertThrowsError(try SafetensorsFile.read(URL(fileURLWithPath: "/nonexistent/m.safetensors"))) { error in
            XCTAssertEqual("\(error)", "/nonexistent/m.safetensors: safetensors file not found")
        }
    }

    func testHalfPrecisionTensorsAreConvertedToFloat() throws {
        // Header written by hand: one F16 tensor [1, -2, 0.5, 65504] and one BF16 [1, -3].
        let header = #"{"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}}"#
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        for half: UInt16 in [0x3C00, 0xC000, 0x3800, 0x7BFF] { withUnsafeBytes(of: half.littleEndian) { data.append(contentsOf: $0) } }
        for bf: UInt16 in [0x3F80, 0xC040] { withUnsafeBytes(of: bf.littleEndian) { data.append(contentsOf: $0) } }
        let file = try SafetensorsFile.decode(data)
        XCTAssertEqual(file.tensors["h"]?.scalars, [1, -2, 0.5, 65504])
        XCTAssertEqual(file.tensors["b"]?.scalars, [1, -3])
    }

    func testUnsupportedDtypeIsNamed() throws {
        let header = #"{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: [UInt8](repeating: 0, count: 8))
        XCTAssertThrowsError(try SafetensorsFile.decode(data)) { error in
            XCTAssertTrue("\(error)".contains("I64"), "\(error)")
        }
    }
}
