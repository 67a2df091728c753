import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import TensorCore
import XCTest

/// Pairs, their schedule, adaptation lists and the memory-bounded cache.
final class AdaptationPairTests: XCTestCase {
    func testEveryOrderedPairIncludingAnImageWithItself() {
        let (usable, skipped) = AdaptationPair.all(imageCount: 3, unusableSupports: [1])
        XCTAssertEqual(usable.map(\.description), ["0>0", "0>1", "0>2", "2>0", "2>1", "2>2"])
        XCTAssertEqual(skipped.map(\.description), ["1>0", "1>1", "1>2"])
        XCTAssertEqual(AdaptationPair.all(imageCount: 1).usable, [AdaptationPair(support: 0, query: 0)])
    }

    func testScheduleDealsSeededEpochsAndDependsOnlyOnTheStep() throws {
        let pairs = AdaptationPair.all(imageCount: 3).usable
        let schedule = try PairSchedule(pairs: pairs, batch: 2, seed: 5)
        // 9 pairs, 2 per step: steps 0...8 cover two whole epochs, each a permutation.
        let dealt = (0..<9).flatMap { schedule.pairs(forStep: $0) }
        XCTAssertEqual(Set(dealt[0..<9]), Set(pairs))
        XCTAssertEqual(Set(dealt[9..<18]), Set(pairs))
        XCTAssertNotEqual(Array(dealt[0..<9]), pairs, "shuffled, not in order")
        XCTAssertNotEqual(Array(dealt[0..<9]), Array(dealt[9..<18]), "each epoch its own shuffle")
        // The same step from a fresh schedule (a resumed run) gives the same pairs.
        let again = try PairSchedule(pairs: pairs, batch: 2, seed: 5)
        XCTAssertEqual(again.pairs(forStep: 7), schedule.pairs(forStep: 7))
        let otherSeed = try PairSchedule(pairs: pairs, batch: 2, seed: 6)
        XCTAssertNotEqual((0..<4).flatMap { otherSeed.pairs(forStep: $0) }, Array(dealt[0..<8]))
        XCTAssertThrowsError(try PairSchedule(pairs: pairs, batch: 0, seed: 0))
        XCTAssertThrowsError(try PairSchedule(pairs: [], batch: 1, seed: 0))
    }

    func testAdaptationListResolvesPathsRelativeToItsFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("list-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let list = folder.appendingPathComponent("adapt.tsv")
        try "# target images\nimages/a.png\tmasks/a.png\r\n\n/abs/b.jpg\t/abs/b.png\n".write(to: list, atomically: true, encoding: .utf8)
        let entries = try AdaptationList.read(list)
        XCTAssertEqual(entries.map(\.image), [folder.appendingPathComponent("images/a.png").path, "/abs/b.jpg"])
        XCTAssertEqual(entries.map(\.mask), [folder.appendingPathComponent("masks/a.png").path, "/abs/b.png"])

        try "images/a.png masks/a.png\n".write(to: list, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try AdaptationList.read(list)) { XCTAssertTrue("\($0)".contains("adapt.tsv:1"), "\($0)") }
        try "# nothing\n".write(to: list, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try AdaptationList.read(list)) { XCTAssertTrue("\($0)".contains("no image"), "\($0)") }
        XCTAssertThrowsError(try AdaptationList.read(folder.appendingPathComponent("missing.tsv")))
    }

    func testCacheEvictsTheLeastRecentlyUsedWithinItsBudget() {
        let cache = MemoryBoundedCache<String, Int>(budgetBytes: 10)
        var computed: [String] = []
        func get(_ key: String, _ bytes: Int) -> Int {
            cache.value(for: key, bytes: { _ in bytes }) { computed.append(key); return key.count }
        }
        _ = get("a", 4)
        _ = get("bb", 4)
        _ = get("a", 4) // a is now the most recent
        _ = get("ccc", 4) // evicts bb
        XCTAssertTrue(cache.contains("a"))
        XCTAssertFalse(cache.contains("bb"))
        XCTAssertEqual(cache.storedBytes, 8)
        _ = get("huge", 11) // larger than the budget: returned, not kept
        XCTAssertFalse(cache.contains("huge"))
        XCTAssertEqual(get("huge", 11), 4)
        XCTAssertEqual(computed, ["a", "bb", "ccc", "huge", "huge"])
        XCTAssertEqual(cache.evictions, 1)
        XCTAssertEqual(cache.hits, 1)
    }
}
