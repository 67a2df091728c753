import Foundation
import TensorCore
import XCTest

/// The zip reader on archives torch.save does not write but a user may have: records
/// compressed with deflate (re-zipped checkpoints) load as the stored ones do.
final class ZipArchiveTests: XCTestCase {
    func testDeflatedRecordsLoadLikeStoredOnes() throws {
        let tensor = CraftedPickle.tensor(storage: "0", elements: 6, shape: [2, 3], strides: [3, 1])
        let pickle = CraftedPickle.stateDict([("w", tensor)])
        let values: [Float] = [1, -2, 3.5, 0, 1e-3, 42]
        let storage = values.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) } }
        var zip = CraftedZip()
        for (name, bytes) in [("archive/data.pkl", pickle), ("archive/data/0", storage)] {
            zip.records.append(.init(name: name, stored: CraftedZip.deflateStored(bytes), method: 8,
                                     claimedSize: UInt32(bytes.count), claimedCRC: CraftedZip.crc32(bytes)))
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-deflated-\(UUID().uuidString).pt")
        try Data(zip.bytes()).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let stateDict = try TorchCheckpoint.loadStateDict(from: url)
        XCTAssertEqual(stateDict.map(\.name), ["w"])
        XCTAssertEqual(stateDict[0].tensor.shape, [2, 3])
        XCTAssertEqual(stateDict[0].tensor.scalars, values)
    }
}
