import Datasets
import Evaluation
import TensorCore
import XCTest

/// Episode plans: reproducible, valid, and the same whichever shard computes them.
final class EpisodeSamplerTests: XCTestCase {
    let deepglobe = EvaluationFixtures.dataset(.deepglobe, sizes: [5, 7, 4])

    func testPlansAreReproducibleAndDependOnTheSeed() throws {
        let a = try EpisodeSampler(dataset: deepglobe, shots: 2, seed: 7).plan(episodes: 60)
        let b = try EpisodeSampler(dataset: deepglobe, shots: 2, seed: 7).plan(episodes: 60)
        let other = try EpisodeSampler(dataset: deepglobe, shots: 2, seed: 8).plan(episodes: 60)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, other)
        XCTAssertEqual(a.map(\.index), Array(0..<60))
    }

    func testRandomEpisodesFollowTheClassCycleWithDistinctImages() throws {
        let plan = try EpisodeSampler(dataset: deepglobe, shots: 3, seed: 1).plan(episodes: 90)
        for episode in plan {
            XCTAssertEqual(episode.classIndex, episode.index % 3)
            let samples = deepglobe.classes[episode.classIndex].samples
            XCTAssertEqual(episode.supports.count, 3)
            let images = [episode.query] + episode.supports
            XCTAssertEqual(Set(images).count, 4, "query and supports distinct in episode \(episode.index)")
            XCTAssertTrue(images.allSatisfy(samples.contains), "episode \(episode.index) stays in its class")
        }
        // Every image of the 4-image class 2 (3-shot: all four in every episode) shows up as a
        // query within its 30 episodes, so the query is drawn, not fixed.
        let queries = Set(plan.filter { $0.classIndex == 2 }.map(\.query))
        XCTAssertEqual(queries.count, 4)
    }

    func testDefaultCountAndIndependenceOfTheRunLength() throws {
        let sampler = try EpisodeSampler(dataset: deepglobe, shots: 1, seed: 3)
        XCTAssertEqual(try sampler.plan().count, 600)
        // Episode i is the same whether the run has 10 or 600 episodes.
        XCTAssertEqual(try sampler.plan(episodes: 10), Array(try sampler.plan().prefix(10)))
        XCTAssertThrowsError(try sampler.plan(episodes: 0))
    }

    func testEpisodeSeedIsSplitMix64JumpedAhead() {
        // The first SplitMix64 output for seed 0 is the well-known 0xe220a8397b1dcdaf.
        XCTAssertEqual(EpisodeSampler.episodeSeed(seed: 0, index: 0), 0xE220_A839_7B1D_CDAF)
        var generator = SeededGenerator(seed: 12345)
        let outputs = (0..<5).map { _ in generator.next() }
        XCTAssertEqual((0..<5).map { EpisodeSampler.episodeSeed(seed: 12345, index: $0) }, outputs)
    }

    func testPlanIsPinned() throws {
        // Guards reproducibility across versions: a change here changes every published plan.
        let plan = try EpisodeSampler(dataset: deepglobe, shots: 2, seed: 0).plan(episodes: 3)
        let described = plan.map { "\($0.classIndex):\($0.query.image)<-\($0.supports.map(\.image).joined(separator: ","))" }
        XCTAssertEqual(described, Self.pinnedPlan)
    }

    static let pinnedPlan = ["0:1/img3.jpg<-1/img2.jpg,1/img0.jpg", "1:2/img1.jpg<-2/img2.jpg,2/img6.jpg", "2:3/img3.jpg<-3/img2.jpg,3/img0.jpg"]

    func testFSSUsesEveryImageOnceAsQueryInListOrder() throws {
        let fss = EvaluationFixtures.dataset(.fss, sizes: [4, 3, 5])
        let sampler = try EpisodeSampler(dataset: fss, shots: 2, seed: 9)
        let plan = try sampler.plan()
        XCTAssertEqual(plan.map(\.query), fss.allSamples)
        XCTAssertEqual(plan.map(\.classIndex), [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2])
        XCTAssertEqual(plan.map(\.index), Array(0..<12))
        for episode in plan {
            XCTAssertEqual(Set(episode.supports).count, 2)
            XCTAssertFalse(episode.supports.contains(episode.query))
            XCTAssertTrue(episode.supports.allSatisfy(fss.classes[episode.classIndex].samples.contains))
        }
        // A given count keeps the first episodes of the list, unchanged.
        XCTAssertEqual(try sampler.plan(episodes: 5), Array(plan.prefix(5)))
        XCTAssertThrowsError(try sampler.plan(episodes: 13)) { error in
            XCTAssertEqual((error as? InputError)?.message, "fss has 12 test images to use as queries, 13 episodes asked for")
        }
    }

    func testExcludedImagesAppearNowhere() throws {
        let excluded: Set<LabelledImage> = [deepglobe.classes[0].samples[1], deepglobe.classes[1].samples[0],
                                            deepglobe.classes[1].samples[6]]
        let plan = try EpisodeSampler(dataset: deepglobe, shots: 2, seed: 4, excluding: excluded).plan(episodes: 300)
        for episode in plan {
            XCTAssertFalse(excluded.contains(episode.query))
            XCTAssertTrue(excluded.isDisjoint(with: episode.supports))
        }
        // Every remaining image of class 1 (5 of 7) is still used.
        let used = Set(plan.filter { $0.classIndex == 1 }.flatMap { [$0.query] + $0.supports })
        XCTAssertEqual(used, Set(deepglobe.classes[1].samples).subtracting(excluded))

        let fss = EvaluationFixtures.dataset(.fss, sizes: [4, 3])
        let fssExcluded: Set<LabelledImage> = [fss.classes[0].samples[2]]
        let fssPlan = try EpisodeSampler(dataset: fss, shots: 1, seed: 0, excluding: fssExcluded).plan()
        XCTAssertEqual(fssPlan.map(\.query), fss.allSamples.filter { !fssExcluded.contains($0) })
        XCTAssertTrue(fssPlan.allSatisfy { fssExcluded.isDisjoint(with: [$0.query] + $0.supports) })
    }

    func testTooSmallClassIsAnError() {
        XCTAssertThrowsError(try EpisodeSampler(dataset: deepglobe, shots: 4, seed: 0)) { error in
            XCTAssertEqual((error as? InputError)?.message,
                           "class \"3\" of deepglobe has 4 usable images; 4-shot episodes need at least 5")
        }
        let excluded: Set<LabelledImage> = Set(deepglobe.classes[0].samples.prefix(4))
        XCTAssertThrowsError(try EpisodeSampler(dataset: deepglobe, shots: 1, seed: 0, excluding: excluded)) { error in
            XCTAssertEqual((error as? InputError)?.message,
                           "class \"1\" of deepglobe has 1 usable image after 4 taken for adaptation; 1-shot episodes need at least 2")
        }
        XCTAssertThrowsError(try EpisodeSampler(dataset: deepglobe, shots: 0, seed: 0))
        XCTAssertThrowsError(try EpisodeSampler(dataset: EvaluationFixtures.dataset(.lung, sizes: []), shots: 1, seed: 0))
    }

    func testShardsPartitionThePlan() throws {
        let sampler = try EpisodeSampler(dataset: deepglobe, shots: 2, seed: 5)
        let full = try sampler.plan(episodes: 100)
        var union: [EpisodePlan] = []
        for i in 0..<3 {
            let shard = try ShardSpec(parsing: "\(i)/3")
            // Each shard recomputes the plan on its own, as a separate process would.
            let part = shard.select(try EpisodeSampler(dataset: deepglobe, shots: 2, seed: 5).plan(episodes: 100))
            XCTAssertTrue(part.allSatisfy { $0.index % 3 == i })
            union += part
        }
        XCTAssertEqual(union.sorted { $0.index < $1.index }, full)
    }

    func testShardSpecParsing() throws {
        let shard = try ShardSpec(parsing: "2/5")
        XCTAssertEqual(shard, try ShardSpec(index: 2, count: 5))
        XCTAssertEqual(shard.description, "2/5")
        XCTAssertEqual(try ShardSpec(parsing: "0/1").description, "0/1")
        XCTAssertThrowsError(try ShardSpec(parsing: "5/5")) { error in
            XCTAssertEqual((error as? InputError)?.message, "shard 5/5: the index counts from 0 and must be below 5 (0 to 4)")
        }
        XCTAssertThrowsError(try ShardSpec(parsing: "1/0")) { error in
            XCTAssertEqual((error as? InputError)?.message, "shard 1/0: the shard count must be at least 1")
        }
        for text in ["3", "a/4", "1/2/3", "", "-1/4"] {
            XCTAssertThrowsError(try ShardSpec(parsing: text), text)
        }
        XCTAssertThrowsError(try ShardSpec(parsing: "a/4")) { error in
            XCTAssertEqual((error as? InputError)?.message, "shard \"a/4\": expected INDEX/COUNT with the index from 0, e.g. 0/4")
        }
        XCTAssertNoThrow(try ShardSpec(parsing: "3/4").check(episodeCount: 4))
        XCTAssertThrowsError(try ShardSpec(parsing: "4/8").check(episodeCount: 4))
    }
}
