import Foundation
import TensorCore
import XCTest

final class NumPyArrayTests: XCTestCase {
    func testRoundTrip() throws {
        for shape in [[2, 3, 4], [5], [], [0, 3]] {
            let count = shape.reduce(1, *)
            let tensor = Tensor(shape: shape, scalars: (0..<count).map { Float($0) * 0.25 - 1 })
            let data = NumPyArray.encode(tensor)
            XCTAssertEqual((data.count - 4 * count) % 64, 0, "data starts on a 64-byte boundary")
            XCTAssertEqual(try NumPyArray.decode(data), tensor)
        }
    }

    /// A file as numpy 2.x writes it: `np.save(f, np.arange(6, dtype=np.float32).reshape(2, 3))`.
    func testReadsNumpyWrittenHeader() throws {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
        header += String(repeating: " ", count: 128 - 10 - header.count - 1) + "\n"
        var data = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.count), 0])
        data.append(contentsOf: Array(header.utf8))
        for v in 0..<6 { withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        let tensor = try NumPyArray.decode(data)
        XCTAssertEqual(tensor.shape, [2, 3])
        XCTAssertEqual(tensor.scalars, [0, 1, 2, 3, 4, 5])
    }

    func testOtherDtypesAndOrdersAreRefusedClearly() throws {
        func file(_ dict: String, payload: Int) -> Data {
            var data = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(dict.count + 1), 0])
            data.append(contentsOf: Array((dict + "\n").utf8))
            data.append(contentsOf: [UInt8](repeating: 0, count: payload))
            return data
        }
        XCTAssertThrowsError(try NumPyArray.decode(file("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", payload: 16))) {
            XCTAssertTrue("\($0)".contains("<f8"), "\($0)")
        }
        XCTAssertThrowsError(try NumPyArray.decode(file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", payload: 16))) {
            XCTAssertTrue("\($0)".contains("Fortran"), "\($0)")
        }
        XCTAssertThrowsError(try NumPyArray.decode(file("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }", payload: 16))) {
            XCTAssertTrue("\($0)".contains("truncated"), "\($0)")
        }
        XCTAssertThrowsError(try NumPyArray.decode(Data("hello world".utf8)))
    }
}
