import Foundation
import TensorCore
import XCTest

/// Safetensors and .npy files whose sizes overflow, whose byte ranges lie, or which are
/// another kind of file altogether: each gets a one-line InputError, never a trap. The
/// safetensors cases follow what the reference safetensors library refuses.
final class HostileTensorFileTests: XCTestCase {
    /// A safetensors file with `header` as its JSON and `payload` bytes of data.
    private func safetensors(_ header: String, payload: Int) -> Data {
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: [UInt8](repeating: 0, count: payload))
        return data
    }

    private func assertRefused(_ data: Data, _ parts: [String], file: StaticString = #filePath, line: UInt = #line,
                               _ decode: (Data) throws -> Any = { try SafetensorsFile.decode($0) }) {
        do {
            _ = try decode(data)
            XCTFail("accepted; expected an error mentioning \(parts)", file: file, line: line)
        } catch let error as InputError {
            XCTAssertFalse(error.message.contains("\n"), "error spans lines: \(error.message)", file: file, line: line)
            for part in parts {
                XCTAssertTrue(error.message.contains(part), "'\(error.message)' does not mention '\(part)'", file: file, line: line)
            }
        } catch {
            XCTFail("not an InputError: \(error)", file: file, line: line)
        }
    }

    // MARK: safetensors sizes

    func testShapesWhoseElementCountOverflowsAreRefused() {
        assertRefused(safetensors(#"{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#, payload: 0),
                      ["tensor \"x\"", "[4294967296, 4294967296]", "more elements than a 64-bit count holds"])
        assertRefused(safetensors(#"{"x":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,16]}}"#, payload: 16),
                      ["tensor \"x\"", "4611686018427387904 elements", "at most 268435456"])
        // Empty, but its sizes would overflow any product that leaves the zero out.
        assertRefused(safetensors(#"{"x":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}"#, payload: 0),
                      ["tensor \"x\"", "more elements than"])
    }

    func testShapeOfTwoToTheSixtyFourIsNamedNotReadAsZero() {
        assertRefused(safetensors(#"{"x":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,0]}}"#, payload: 0),
                      ["tensor \"x\"", "shape holds 18446744073709551616, beyond 64-bit integers"])
    }

    func testShapesHoldingAStringAFloatOrABoolAreRefused() {
        for (item, kind) in [(#""2""#, "\"2\", a string"), ("2.5", "2.5, not an integer"), ("true", "true, a bool")] {
            assertRefused(safetensors(#"{"x":{"dtype":"F32","shape":[1,"# + item + #"],"data_offsets":[0,8]}}"#, payload: 8),
                          ["tensor \"x\"", "shape holds \(kind)"])
        }
        assertRefused(safetensors(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,-8]}}"#, payload: 8),
                      ["tensor \"x\"", "data_offsets holds -8"])
    }

    // MARK: safetensors byte ranges

    func testOverlappingRangesAreRefused() {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        assertRefused(safetensors(header, payload: 12), ["tensor \"b\"", "4..<12 overlaps tensor \"a\" (0..<8)"])
    }

    func testGapBetweenRangesIsRefused() {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#
        assertRefused(safetensors(header, payload: 20), ["tensor \"b\"", "leaving bytes 8..<12", "to no tensor"])
        assertRefused(safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, payload: 8),
                      ["tensor \"a\"", "leaving bytes 0..<4 at the start of the data"])
    }

    func testExtraBytesAfterTheLastTensorAreRefused() {
        assertRefused(safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, payload: 12),
                      ["bytes 8..<12", "belong to no tensor"])
    }

    func testEmptyTensorsMaySitAnywhereInTheTiling() throws {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},"b":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}}"#
        let file = try SafetensorsFile.decode(safetensors(header, payload: 8))
        XCTAssertEqual(file.tensors["e"]?.shape, [0, 3])
        XCTAssertEqual(file.tensors["b"]?.scalars, [0, 0])
    }

    // MARK: safetensors files of another kind

    func testCheckpointGivenAsSafetensorsIsNamed() {
        // A torch.save archive: its first eight bytes read as a header length of 578712552184433488.
        var zip = CraftedZip()
        zip.add("archive/data.pkl", CraftedPickle.stateDict([]))
        assertRefused(Data(zip.bytes()), ["is a zip archive (a PyTorch checkpoint", "not a safetensors file"])
        assertRefused(NumPyArray.encode(Tensor(shape: [2], scalars: [1, 2])), ["is a NumPy .npy array, not a safetensors file"])
    }

    func testHeaderThatIsNotAnObjectIsRefused() {
        assertRefused(safetensors("[1, 2]", payload: 0), ["header does not start with '{'"])
        assertRefused(safetensors("{\"a\": ", payload: 0), ["not valid JSON"])
        assertRefused(safetensors(#"{"x":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}}"#, payload: 4),
                      ["beyond the range of a double"])
    }

    // MARK: .npy

    private func npy(_ dict: String, payload: Int) -> Data {
        var data = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(dict.count + 1), 0])
        data.append(contentsOf: Array((dict + "\n").utf8))
        data.append(contentsOf: [UInt8](repeating: 0, count: payload))
        return data
    }

    func testNpyShapesWhoseElementCountOverflowsAreRefused() {
        let decode: (Data) throws -> Any = { try NumPyArray.decode($0) }
        assertRefused(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", payload: 16),
                      [".npy shape [1099511627776, 1099511627776]", "more elements than"], decode)
        assertRefused(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536), }", payload: 16),
                      [".npy shape [65536, 65536] has 4294967296 elements", "at most"], decode)
        assertRefused(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", payload: 16),
                      ["99999999999999999999 is beyond 64-bit sizes"], decode)
    }

    func testOtherFilesGivenAsNpyAreNamed() {
        let decode: (Data) throws -> Any = { try NumPyArray.decode($0) }
        assertRefused(SafetensorsFile(tensors: ["x": Tensor(shape: [1], scalars: [1])]).encoded(),
                      ["is a safetensors file, not a .npy file"], decode)
        assertRefused(Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0]), ["is a PNG image, not a .npy file"], decode)
    }
}
