import Datasets
import Evaluation
import TensorCore
import XCTest

/// Episode counts, shard plans and cache budgets are bounded and checked
/// before anything is allocated, and a shard's memory follows its own work.
final class EpisodeLimitTests: XCTestCase {
    let deepglobe = EvaluationFixtures.dataset(.deepglobe, sizes: [5, 7, 4])
    let fss = EvaluationFixtures.dataset(.fss, sizes: [3, 4])

    func testAShardPlansExactlyWhatSelectingFromTheWholePlanKeeps() throws {
        for dataset in [deepglobe, fss] {
            let sampler = try EpisodeSampler(dataset: dataset, shots: 2, seed: 9)
            let count = dataset.kind == .fss ? 7 : 50
            let full = try sampler.plan(episodes: count)
            for n in [1, 3, count] {
                for i in [0, n - 1] {
                    let shard = try ShardSpec(index: i, count: n)
                    XCTAssertEqual(try sampler.plan(episodes: count, shard: shard), shard.select(full), "\(dataset.kind) \(shard)")
                }
            }
            XCTAssertThrowsError(try sampler.plan(episodes: count, shard: try ShardSpec(index: count, count: count + 1)))
        }
    }

    func testOneShardOfTheLargestRunIsCheap() throws {
        let sampler = try EpisodeSampler(dataset: deepglobe, shots: 1, seed: 0)
        let largest = EpisodeSampler.maximumEpisodeCount
        let shard = try ShardSpec(index: 12_345, count: largest / 2)
        // Building every plan first would make a million of them (about a second and 100 MB);
        // the shard's two episodes are all that is made.
        let plans = try sampler.plan(episodes: largest, shard: shard)
        XCTAssertEqual(plans.map(\.index), [12_345, 12_345 + largest / 2])
        XCTAssertEqual(plans.first, try sampler.plan(episodes: 12_346).last)
        XCTAssertThrowsError(try sampler.plan(episodes: largest + 1)) { error in
            XCTAssertEqual((error as? InputError)?.message, "--episodes \(largest + 1): at most \(largest) episodes in a run")
        }
        XCTAssertThrowsError(try EpisodeSampler.checkEpisodeCount(0))
        XCTAssertThrowsError(try EpisodeSampler.checkEpisodeCount(Int.max))
    }

    func testShotsBeyondAnyClassAreCountedWithoutOverflow() throws {
        XCTAssertThrowsError(try EpisodeSampler(dataset: deepglobe, shots: Int.max, seed: 0)) { error in
            XCTAssertTrue((error as? InputError)?.message.hasSuffix("need at least 9223372036854775808") ?? false, "\(error)")
        }
    }

    func testCacheBudgetIsConvertedWithoutWrapping() throws {
        XCTAssertEqual(try CacheBudget.bytes(mebibytes: 4096), 4096 << 20)
        XCTAssertEqual(try CacheBudget.bytes(mebibytes: 0), 0)
        XCTAssertEqual(try CacheBudget.bytes(mebibytes: CacheBudget.maximumMebibytes), 1 << 40)
        // 2^63 - 1 MiB shifted by 20 bits used to wrap to a negative budget.
        for bad in [Int.max, CacheBudget.maximumMebibytes + 1, -1] {
            XCTAssertThrowsError(try CacheBudget.bytes(mebibytes: bad), "\(bad)")
        }
    }
}
