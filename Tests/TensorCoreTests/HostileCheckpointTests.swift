import ReferenceParity
import Foundation
import TensorCore
import XCTest

/// Checkpoints made to trap, exhaust memory or hang a reader, each made here in a few
/// kilobytes: every one must be refused with a one-line InputError naming the file, before
/// the work or the allocation it asks for.
final class HostileCheckpointTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func write(_ bytes: [UInt8], _ name: String) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    // MARK: Sizes that overflow or exhaust memory

    func testStrideZeroViewsOfTwoToTheSixtyTwoElementsAreRefusedWhenListed() throws {
        // Two views of 2^62 elements on a 4-element storage: their sum overflowed `inspect`'s
        // parameter count, and loading one wrote past its buffer.
        let huge = CraftedPickle.tensor(storage: "0", elements: 4, shape: [1 << 62], strides: [0])
        let url = try write(CraftedPickle.checkpoint(CraftedPickle.stateDict([("a", huge), ("b", huge)]), storages: ["0": 4]),
                            "stride0.pt")
        assertInputError([url.path, "tensor 'a'", "shape [4611686018427387904]", "at most 268435456"]) {
            _ = try CheckpointSummary.read(url)
        }
        assertInputError([url.path, "tensor 'a'", "at most"]) { _ = try TorchCheckpoint.loadStateDict(from: url) }
    }

    func testStrideZeroTensorClaimingFourTebibytesIsRefused() throws {
        let view = CraftedPickle.tensor(storage: "0", elements: 1, shape: [1 << 20, 1 << 20], strides: [0, 0])
        let url = try write(CraftedPickle.checkpoint(CraftedPickle.stateDict([("w", view)]), storages: ["0": 1]), "4tib.pt")
        assertInputError([url.path, "tensor 'w'", "[1048576, 1048576]", "1099511627776 elements"]) {
            _ = try TorchCheckpoint.loadStateDict(from: url)
        }
    }

    func testManyViewsWithinTheTensorLimitAreRefusedTogether() throws {
        // Each view is 1 GiB as float32 (the most one tensor may be); 20 of them are 20 GiB.
        let view = CraftedPickle.tensor(storage: "0", elements: 1, shape: [1 << 28], strides: [0])
        let entries = (0..<20).map { ("w\($0)", view) }
        let url = try write(CraftedPickle.checkpoint(CraftedPickle.stateDict(entries), storages: ["0": 1]), "views.pt")
        // Listing reads no data: it is fine.
        XCTAssertEqual(try CheckpointSummary.read(url).tensors.count, 20)
        assertInputError([url.path, "20 GiB as float32", "at most 4 GiB"]) { _ = try TorchCheckpoint.loadStateDict(from: url) }
    }

    func testSizeAndStrideWhoseSpanOverflowsAreRefused() throws {
        let view = CraftedPickle.tensor(storage: "0", elements: 4, shape: [1 << 40, 1 << 40], strides: [1 << 40, 1])
        let url = try write(CraftedPickle.checkpoint(CraftedPickle.stateDict([("w", view)]), storages: ["0": 4]), "span.pt")
        assertInputError([url.path, "data.pkl", "too large"]) { _ = try TorchCheckpoint(contentsOf: url) }
    }

    func testEmptyTensorWhoseOtherSizesOverflowIsRefused() throws {
        let view = CraftedPickle.tensor(storage: "0", elements: 4, shape: [0, 1 << 62, 1 << 62], strides: [1, 1, 1])
        let url = try write(CraftedPickle.checkpoint(CraftedPickle.stateDict([("w", view)]), storages: ["0": 4]), "empty.pt")
        assertInputError([url.path, "data.pkl", "size too large"]) { _ = try TorchCheckpoint(contentsOf: url) }
    }

    // MARK: Tiny files that would take hours or gigabytes

    func testRecordsSharingOneStreamAreRefusedBeforeInflating() throws {
        // 400 directory entries pointing at one record: reading each would inflate the same
        // data again (with a 1 GiB deflate stream, 400 GiB of work from a 1 MB file).
        var zip = CraftedZip()
        zip.add("archive/data.pkl", CraftedPickle.stateDict([]))
        zip.add("archive/data/0", [UInt8](repeating: 0, count: 4096))
        for key in 1..<400 {
            zip.records.append(.init(name: "archive/data/\(key)", stored: zip.records[1].stored, sharesDataOf: 1))
        }
        let url = try write(zip.bytes(), "shared.pt")
        assertInputError([url.path, "corrupt zip archive", "records overlap"]) { _ = try TorchCheckpoint(contentsOf: url) }
    }

    func testPickleInflatingBeyondItsLimitIsRefusedBeforeInflating() throws {
        // The directory says data.pkl inflates to 3 GiB from 3 MB (a thousandfold, as deflate
        // can): refused from the directory, nothing inflated. The stored bytes are never read.
        var zip = CraftedZip()
        zip.records.append(.init(name: "archive/data.pkl", stored: [UInt8](repeating: 0, count: 3 << 20), method: 8,
                                 claimedSize: 3 << 30))
        let url = try write(zip.bytes(), "bomb.pt")
        assertInputError([url.path, "data.pkl holds 3 GiB of pickle", "at most 64 MiB"]) { _ = try TorchCheckpoint(contentsOf: url) }
    }

    func testRecordInflatingBeyondItsDirectoryEntryStopsThere() throws {
        // The directory claims 16 bytes; the deflate data hold 64 KiB.
        var zip = CraftedZip()
        let pickle = CraftedPickle.stateDict([])
        zip.records.append(.init(name: "archive/data.pkl", stored: CraftedZip.deflateStored(pickle + [UInt8](repeating: 0, count: 65536)),
                                 method: 8, claimedSize: UInt32(pickle.count)))
        let url = try write(zip.bytes(), "longer.pt")
        assertInputError([url.path, "archive/data.pkl", "inflates beyond"]) { _ = try TorchCheckpoint(contentsOf: url) }
    }

    func testMemoSharedTupleUsedAsDictKeyIsRefusedQuickly() throws {
        // Each level is (previous, previous): 200 levels in 400 bytes, 2^201 values when hashed.
        let key: [UInt8] = [0x4E] + Array([[UInt8]](repeating: [0x32, 0x86], count: 200).joined())
        let pickle: [UInt8] = CraftedPickle.proto + CraftedPickle.emptyDict + key + [0x4E] + CraftedPickle.setItem + CraftedPickle.stop
        let start = Date()
        XCTAssertThrowsError(try RestrictedUnpickler(pickle).load()) { error in
            XCTAssertTrue("\(error)".contains("dict keys at byte"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "the key must be refused before it is hashed")
        let url = try write(CraftedPickle.checkpoint(pickle, storages: [:]), "key.pt")
        assertInputError([url.path, "data.pkl", "dict keys", "strings and ints"]) { _ = try TorchCheckpoint(contentsOf: url) }
    }

    func testSmallTupleKeysStillWork() throws {
        // {(1, 2): None}: tuple keys of real pickles stay far within the budget.
        let pickle: [UInt8] = CraftedPickle.proto + CraftedPickle.emptyDict + [0x4B, 1, 0x4B, 2, 0x86, 0x4E]
            + CraftedPickle.setItem + CraftedPickle.stop
        guard case .dict(let dict) = try RestrictedUnpickler(pickle).load() else { return XCTFail("not a dict") }
        XCTAssertEqual(dict.entries.count, 1)
    }
}
