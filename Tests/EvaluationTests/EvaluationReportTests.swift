import Datasets
import Evaluation
import Foundation
import TensorCore
import XCTest

/// The report as a public file format: its keys, its round trip, its checks and its errors.
final class EvaluationReportTests: XCTestCase {
    let dataset = EvaluationFixtures.dataset(.deepglobe, sizes: [5, 7, 4])
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func report(seed: UInt64 = 0, episodes: Int = 12, shots: Int = 1) throws -> EvaluationReport {
        let plan = try EpisodeSampler(dataset: dataset, shots: shots, seed: seed).plan(episodes: episodes)
        return try EvaluationReport(config: EvaluationFixtures.config(seed: seed, episodes: episodes, shots: shots),
                                    episodes: plan.map { EvaluationFixtures.record($0, seed: seed) },
                                    classNames: dataset.classes.map(\.name))
    }

    func json(_ file: ReportFile) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: file.encoded()) as? [String: Any])
    }

    func testKeysAreExactlyThePublishedOnes() throws {
        let object = try json(.single(try report()))
        XCTAssertEqual(Set(object.keys), ["config", "episodes", "classes", "miou", "fbiou"])
        let config = try XCTUnwrap(object["config"] as? [String: Any])
        XCTAssertEqual(Set(config.keys), [
            "cdfss_version", "checkpoint", "checkpoint_sha256", "backbone_weights", "backbone_weights_sha256",
            "masker", "masker_sha256", "benchmark", "datapath", "shots", "seed", "seeds", "episodes",
            "image_size", "original_size", "adaptation", "shard",
        ])
        XCTAssertTrue(config["shard"] is NSNull, "shard written as null")
        XCTAssertTrue(config["backbone_weights"] is NSNull)
        XCTAssertEqual(config["benchmark"] as? String, "deepglobe")
        XCTAssertEqual(config["image_size"] as? Int, 400)
        let adaptation = try XCTUnwrap(config["adaptation"] as? [String: Any])
        XCTAssertEqual(Set(adaptation.keys), ["mode", "steps", "lr", "optimizer", "batch", "adapt_count", "images"])
        XCTAssertEqual(adaptation["mode"] as? String, "none")
        let episode = try XCTUnwrap((object["episodes"] as? [[String: Any]])?.first)
        XCTAssertEqual(Set(episode.keys), ["index", "seed", "class", "query", "supports", "intersection", "union", "foreground_iou", "seconds"])
        XCTAssertEqual((episode["intersection"] as? [Int])?.count, 2)
        XCTAssertEqual(episode["query"] as? String, try report().episodes[0].query)
        let entry = try XCTUnwrap((object["classes"] as? [[String: Any]])?.first)
        XCTAssertEqual(Set(entry.keys), ["class", "name", "iou"])
        XCTAssertEqual(entry["name"] as? String, "1")

        let text = String(decoding: try ReportFile.single(try report()).encoded(), as: UTF8.self)
        XCTAssertTrue(text.contains("\"query\" : \"1/img"), "pretty printed, slashes not escaped: \(text.prefix(400))")
    }

    func testScoresAreRecomputedFromTheRecords() throws {
        let report = try report(episodes: 30)
        var score = SegmentationScore()
        for record in report.episodes { score.add(record.counts, classIndex: record.classIndex) }
        XCTAssertEqual(report.miou, score.miou)
        XCTAssertEqual(report.fbiou, score.fbiou)
        XCTAssertEqual(report.classes.map(\.classIndex), [0, 1, 2])
        XCTAssertEqual(report.classes.map(\.name), ["1", "2", "3"])
        XCTAssertEqual(report.classes.map(\.iou), [0, 1, 2].map { score.iou(ofClass: $0)! })
        XCTAssertEqual(report.miou, report.classes.map(\.iou).reduce(0, +) / 3, accuracy: 1e-9)
        XCTAssertEqual(report.scoreLine, String(format: "mIoU: %.2f%%  FB-IoU: %.2f%%", score.miou, score.fbiou))
        XCTAssertEqual(report.missingEpisodes, [])
    }

    func testRecordsAreSortedAndOnlyOccurringClassesListed() throws {
        // Two episodes, both of class 0 and 2, handed over out of order: class 1 has none.
        let plan = try EpisodeSampler(dataset: dataset, shots: 1, seed: 0).plan(episodes: 6)
        let chosen = [plan[3], plan[2], plan[0]]
        let report = try EvaluationReport(config: EvaluationFixtures.config(episodes: 6),
                                          episodes: chosen.map { EvaluationFixtures.record($0, seed: 0) },
                                          classNames: dataset.classes.map(\.name))
        XCTAssertEqual(report.episodes.map(\.index), [0, 2, 3])
        XCTAssertEqual(report.classes.map(\.classIndex), [0, 2])
        XCTAssertEqual(report.missingEpisodes, [1, 4, 5])
    }

    func testRoundTripIsExact() throws {
        let single = ReportFile.single(try report(episodes: 20, shots: 2))
        let url = directory.appendingPathComponent("report.json")
        try single.write(to: url)
        let read = try ReportFile.read(url)
        XCTAssertEqual(read, single)
        XCTAssertEqual(try read.encoded(), try Data(contentsOf: url))

        let adapted = EvaluationFixtures.config(seed: 0, episodes: 3, adaptation: AdaptationConfig(
            mode: .domain, steps: 50, lr: 0.001, optimizer: "adam", batch: 4, adaptCount: 2, images: ["1/img0.jpg", "2/img3.jpg"]))
        var sharded = adapted
        sharded.shard = try ShardSpec(parsing: "1/2")
        let plan = try EpisodeSampler(dataset: dataset, shots: 1, seed: 0).plan(episodes: 3)
        let shardReport = try EvaluationReport(config: sharded, episodes: [EvaluationFixtures.record(plan[1], seed: 0)],
                                               classNames: dataset.classes.map(\.name))
        let decoded = try ReportFile(decoding: try ReportFile.single(shardReport).encoded(), source: "x.json")
        XCTAssertEqual(decoded, .single(shardReport))
        let config = try XCTUnwrap(try json(decoded)["config"] as? [String: Any])
        XCTAssertEqual(config["shard"] as? String, "1/2")
        XCTAssertEqual((config["adaptation"] as? [String: Any])?["images"] as? [String], ["1/img0.jpg", "2/img3.jpg"])
        XCTAssertEqual((config["adaptation"] as? [String: Any])?["adapt_count"] as? Int, 2)
    }

    func testMultiSeedReportSummary() throws {
        let runs = try [0, 1, 2].map { try report(seed: UInt64($0), episodes: 15) }
        let multi = try MultiSeedReport(runs: runs)
        let values = runs.map(\.miou)
        let mean = values.reduce(0, +) / 3
        // Population standard deviation (numpy's default): divide by n = 3, not n - 1.
        let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 3).squareRoot()
        XCTAssertEqual(multi.summary.miouMean, mean, accuracy: 1e-12)
        XCTAssertEqual(multi.summary.miouStd, std, accuracy: 1e-12)
        XCTAssertEqual(multi.summary.miou, values)
        XCTAssertEqual(multi.summary.seeds, [0, 1, 2])
        XCTAssertEqual(multi.config.seeds, [0, 1, 2])
        XCTAssertNil(multi.config.seed)

        let object = try json(.multiSeed(multi))
        XCTAssertEqual(Set(object.keys), ["config", "runs", "summary"])
        XCTAssertEqual(Set(try XCTUnwrap(object["summary"] as? [String: Any]).keys),
                       ["seeds", "miou", "fbiou", "miou_mean", "miou_std", "fbiou_mean", "fbiou_std"])
        XCTAssertEqual((object["runs"] as? [[String: Any]])?.count, 3)
        XCTAssertEqual(try ReportFile(decoding: try ReportFile.multiSeed(multi).encoded(), source: "m.json"), .multiSeed(multi))
    }

    func testPopulationStdOfTwoValues() throws {
        // Two values a and b: the population std is |a - b| / 2 (the sample std would be |a - b| / sqrt 2).
        let runs = try [3, 4].map { try report(seed: UInt64($0), episodes: 9) }
        let multi = try MultiSeedReport(runs: runs)
        XCTAssertEqual(multi.summary.fbiouStd, abs(runs[0].fbiou - runs[1].fbiou) / 2, accuracy: 1e-12)
        XCTAssertEqual(multi.summary.fbiouMean, (runs[0].fbiou + runs[1].fbiou) / 2, accuracy: 1e-12)
    }

    func testMultiSeedRunsMustAgreeExceptTheSeed() throws {
        let a = try report(seed: 0, episodes: 9)
        let b = try report(seed: 1, episodes: 12)
        XCTAssertThrowsError(try MultiSeedReport(runs: [a, b])) { error in
            XCTAssertEqual((error as? InputError)?.message,
                           "the run with seed 1 differs from the run with seed 0 in config key episodes: 12 against 9")
        }
        XCTAssertThrowsError(try MultiSeedReport(runs: [a, a]))
    }

    /// With domain adaptation each seed draws its own adaptation images: runs that differ only
    /// there combine, each keeping its list; any other adaptation setting must still agree.
    func testDomainAdaptedSeedsCombineWithTheirOwnAdaptationImages() throws {
        func adapted(seed: UInt64, images: [String], steps: Int = 50) throws -> EvaluationReport {
            var config = EvaluationFixtures.config(seed: seed, episodes: 9, shots: 1)
            config.adaptation = AdaptationConfig(mode: .domain, steps: steps, lr: 0.001, optimizer: "adam", batch: 2,
                                                 adaptCount: 2, images: images)
            let plan = try EpisodeSampler(dataset: dataset, shots: 1, seed: seed).plan(episodes: 9)
            return try EvaluationReport(config: config, episodes: plan.map { EvaluationFixtures.record($0, seed: seed) },
                                        classNames: dataset.classes.map(\.name))
        }
        let runs = [try adapted(seed: 0, images: ["1/img0.jpg", "2/img3.jpg"]),
                    try adapted(seed: 1, images: ["1/img2.jpg", "3/img1.jpg"])]
        let multi = try MultiSeedReport(runs: runs)
        XCTAssertNil(multi.config.adaptation.images)
        XCTAssertEqual(multi.config.adaptation.mode, .domain)
        XCTAssertEqual(multi.runs.map(\.config.adaptation.images), [["1/img0.jpg", "2/img3.jpg"], ["1/img2.jpg", "3/img1.jpg"]])
        XCTAssertEqual(try ReportFile(decoding: try ReportFile.multiSeed(multi).encoded(), source: "m.json"), .multiSeed(multi))
        XCTAssertThrowsError(try MultiSeedReport(runs: [runs[0], try adapted(seed: 2, images: ["1/img1.jpg"], steps: 60)])) { error in
            XCTAssertEqual((error as? InputError)?.message,
                           "the run with seed 2 differs from the run with seed 0 in config key adaptation.steps: 60 against 50")
        }
    }

    func testInconsistentRecordsAreRejected() throws {
        let plan = try EpisodeSampler(dataset: dataset, shots: 1, seed: 0).plan(episodes: 6)
        let names = dataset.classes.map(\.name)
        let records = plan.map { EvaluationFixtures.record($0, seed: 0) }
        let config = EvaluationFixtures.config(episodes: 6)
        func message(_ build: () throws -> EvaluationReport) -> String? {
            do { _ = try build(); return nil } catch { return (error as? InputError)?.message }
        }
        XCTAssertEqual(message { try EvaluationReport(config: config, episodes: records + [records[2]], classNames: names) },
                       "episode 2 appears twice")
        XCTAssertEqual(message { try EvaluationReport(config: EvaluationFixtures.config(episodes: 5), episodes: records, classNames: names) },
                       "episode 5: index outside the run's episodes 0 to 4")
        XCTAssertEqual(message { try EvaluationReport(config: EvaluationFixtures.config(seed: 1, episodes: 6), episodes: records, classNames: names) },
                       "episode 0 has seed 0 but the run's seed is 1")
        XCTAssertEqual(message { try EvaluationReport(config: config, episodes: records, classNames: ["1", "2"]) },
                       "episode 2 has class 2 but the benchmark has 2 classes")
        XCTAssertEqual(message { try EvaluationReport(config: EvaluationFixtures.config(episodes: 6, shots: 2), episodes: records, classNames: names) },
                       "episode 0 has 1 supports but the run is 2-shot")
        XCTAssertEqual(message { try EvaluationReport(config: EvaluationFixtures.config(episodes: 6, shard: try ShardSpec(parsing: "0/2")), episodes: records, classNames: names) },
                       "episode 1 does not belong to shard 0/2")
        XCTAssertEqual(message { try EvaluationReport(config: config, episodes: [], classNames: names) }, "no episodes to score")
        XCTAssertEqual(message { try EvaluationReport(config: EvaluationFixtures.config(seed: nil, episodes: 6), episodes: records, classNames: names) },
                       "a report's config needs its seed (\"seed\" is null)")
    }

    func testDecodingErrorsNameTheFileAndTheKey() throws {
        let good = try JSONSerialization.jsonObject(with: try ReportFile.single(try report()).encoded()) as! [String: Any]
        func error(_ object: Any) -> String? {
            let data = try! JSONSerialization.data(withJSONObject: object)
            do { _ = try ReportFile(decoding: data, source: "shards/r0.json"); return nil } catch { return (error as? InputError)?.message }
        }
        var missing = good
        missing["miou"] = nil
        XCTAssertEqual(error(missing), "shards/r0.json: not a valid cdfss report: missing key \"miou\"")

        var episodes = good["episodes"] as! [[String: Any]]
        episodes[3]["union"] = nil
        var missingNested = good
        missingNested["episodes"] = episodes
        XCTAssertEqual(error(missingNested), "shards/r0.json: not a valid cdfss report: missing key \"union\" (at episodes[3])")

        episodes = good["episodes"] as! [[String: Any]]
        episodes[1]["union"] = [1, 2, 3]
        var wrongCounts = good
        wrongCounts["episodes"] = episodes
        XCTAssertEqual(error(wrongCounts), "shards/r0.json: not a valid cdfss report: expected [background, foreground], got more than two counts (at episodes[1].union)")

        var config = good["config"] as! [String: Any]
        config["shots"] = "one"
        var wrongType = good
        wrongType["config"] = config
        XCTAssertEqual(error(wrongType), "shards/r0.json: not a valid cdfss report: expected an integer (at config.shots)")

        config = good["config"] as! [String: Any]
        config["shard"] = "4/4"
        var badShard = good
        badShard["config"] = config
        XCTAssertEqual(error(badShard), "shards/r0.json: not a valid cdfss report: shard 4/4: the index counts from 0 and must be below 4 (0 to 3) (at config.shard)")

        XCTAssertEqual(error(["config": 1]), "shards/r0.json: not a valid cdfss report: expected an object (at config)")

        do {
            _ = try ReportFile(decoding: Data("{\"config\": ".utf8), source: "bad.json")
            XCTFail("truncated JSON accepted")
        } catch let failure as InputError {
            XCTAssertTrue(failure.message.hasPrefix("bad.json: not a valid cdfss report: "), failure.message)
            XCTAssertFalse(failure.message.contains("\n"))
        }
        XCTAssertThrowsError(try ReportFile.read(directory.appendingPathComponent("absent.json"))) { failure in
            XCTAssertEqual((failure as? InputError)?.message, directory.appendingPathComponent("absent.json").path + ": report not found")
        }
    }

    func testWriteIsAtomicAndLeavesNothingOnError() throws {
        let url = directory.appendingPathComponent("no-such-folder/report.json")
        XCTAssertThrowsError(try ReportFile.single(try report()).write(to: url))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }
}
