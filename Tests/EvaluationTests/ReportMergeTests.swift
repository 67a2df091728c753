import Datasets
import Evaluation
import Foundation
import TensorCore
import XCTest

/// Shard reports merged back into the whole run's report.
final class ReportMergeTests: XCTestCase {
    let dataset = EvaluationFixtures.dataset(.deepglobe, sizes: [6, 5, 7, 4])
    var names: [String] { dataset.classes.map(\.name) }

    /// Runs "the shards" as separate processes would: each plans the whole run, keeps its own
    /// episodes and writes a report of them.
    func shardReports(count: Int, episodes: Int, seed: UInt64 = 0) throws -> [(source: String, file: ReportFile)] {
        try (0..<count).map { i in
            let shard = try ShardSpec(index: i, count: count)
            let plan = shard.select(try EpisodeSampler(dataset: dataset, shots: 2, seed: seed).plan(episodes: episodes))
            let report = try EvaluationReport(config: EvaluationFixtures.config(seed: seed, episodes: episodes, shots: 2, shard: shard),
                                              episodes: plan.map { EvaluationFixtures.record($0, seed: seed) }, classNames: names)
            return (source: "shard\(i).json", file: .single(report))
        }
    }

    func wholeReport(episodes: Int, seed: UInt64 = 0) throws -> EvaluationReport {
        let plan = try EpisodeSampler(dataset: dataset, shots: 2, seed: seed).plan(episodes: episodes)
        return try EvaluationReport(config: EvaluationFixtures.config(seed: seed, episodes: episodes, shots: 2),
                                    episodes: plan.map { EvaluationFixtures.record($0, seed: seed) }, classNames: names)
    }

    func testMergedShardsAreByteIdenticalToTheWholeRun() throws {
        let shards = try shardReports(count: 3, episodes: 50)
        // Shards handed over in any order.
        let merged = try ReportMerge.merge([shards[2], shards[0], shards[1]])
        let whole = ReportFile.single(try wholeReport(episodes: 50))
        XCTAssertEqual(merged, whole)
        XCTAssertEqual(try merged.encoded(), try whole.encoded())
        XCTAssertNil(merged.config.shard)
        // The shards' own scores differ from the whole run's: merging really recomputes.
        XCTAssertNotEqual(shards[0].file.runs[0].miou, merged.runs[0].miou)
    }

    func testMergingThroughFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-merge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var urls: [URL] = []
        for (source, file) in try shardReports(count: 4, episodes: 30) {
            let url = directory.appendingPathComponent(source)
            try file.write(to: url)
            urls.append(url)
        }
        let merged = try ReportMerge.merge(files: urls)
        XCTAssertEqual(try merged.encoded(), try ReportFile.single(try wholeReport(episodes: 30)).encoded())
    }

    func testMultiSeedReportsMergeRunByRun() throws {
        let seeds: [UInt64] = [0, 7]
        let perSeed = try seeds.map { try shardReports(count: 2, episodes: 20, seed: $0) }
        let shards = try (0..<2).map { i in
            (source: "multi\(i).json", file: ReportFile.multiSeed(try MultiSeedReport(runs: perSeed.map { $0[i].file.runs[0] })))
        }
        let merged = try ReportMerge.merge(shards)
        let whole = ReportFile.multiSeed(try MultiSeedReport(runs: try seeds.map { try wholeReport(episodes: 20, seed: $0) }))
        XCTAssertEqual(try merged.encoded(), try whole.encoded())
        XCTAssertThrowsError(try ReportMerge.merge([shards[0], perSeed[0][1]])) { error in
            XCTAssertEqual((error as? InputError)?.message, "multi0.json is a multi-seed report but shard1.json is not")
        }
    }

    func testMissingAndRepeatedEpisodesAreListed() throws {
        let shards = try shardReports(count: 4, episodes: 40)
        XCTAssertThrowsError(try ReportMerge.merge([shards[0], shards[2], shards[3]])) { error in
            XCTAssertEqual((error as? InputError)?.message,
                           "the shards do not cover the run's 40 episodes with seed 0 exactly once: 10 missing (1, 5, 9, 13, 17, 21, 25, 29, ...)")
        }
        XCTAssertThrowsError(try ReportMerge.merge(shards + [shards[1]])) { error in
            XCTAssertEqual((error as? InputError)?.message,
                           "the shards do not cover the run's 40 episodes with seed 0 exactly once: 10 repeated (1, 5, 9, 13, 17, 21, 25, 29, ...; episode 1 is in shard1.json and shard1.json)")
        }
    }

    func testConfigsMustAgreeExceptTheShard() throws {
        var shards = try shardReports(count: 2, episodes: 10)
        var config = shards[1].file.config
        config.adaptation = AdaptationConfig(mode: .episode, steps: 5, lr: 0.01, optimizer: "adam", batch: 2)
        let changed = try EvaluationReport(config: config, episodes: shards[1].file.runs[0].episodes, classNames: names)
        shards[1] = (source: "lr.json", file: .single(changed))
        XCTAssertThrowsError(try ReportMerge.merge(shards)) { error in
            XCTAssertEqual((error as? InputError)?.message,
                           "shard0.json and lr.json are not shards of one run: config key adaptation.batch is null in the first and 2 in the second")
        }
    }

    func testClassNamesMustAgree() throws {
        // Shard 0 of 3 has episodes 0, 3, 6 (classes 0, 3, 2), shard 1 has 1, 4, 7 (classes 1, 0, 3).
        var shards = try shardReports(count: 3, episodes: 8)
        let renamed = try EvaluationReport(config: shards[1].file.config, episodes: shards[1].file.runs[0].episodes,
                                           classNames: ["one", "2", "3", "4"])
        shards[1] = (source: "renamed.json", file: .single(renamed))
        XCTAssertThrowsError(try ReportMerge.merge(shards)) { error in
            XCTAssertEqual((error as? InputError)?.message, "class 0 is \"1\" in shard0.json but \"one\" in renamed.json")
        }
    }

    func testAWholeReportMergesToItself() throws {
        let whole = ReportFile.single(try wholeReport(episodes: 12))
        XCTAssertEqual(try ReportMerge.merge([(source: "whole.json", file: whole)]), whole)
        XCTAssertThrowsError(try ReportMerge.merge([]))
    }
}
