import Datasets
import Evaluation
import Foundation
import FreqMask
import ReferenceParity
import TensorCore
import XCTest

/// A filter sweep's figures come from its records, so the records of a sweep's shards put
/// back together give the whole sweep's report exactly.
final class FilterSweepMergeTests: XCTestCase {
    let dataset = EvaluationFixtures.dataset(.deepglobe, sizes: [6, 5, 7, 4])
    let filters: [FilterSweep.Filter?] = [nil, .init(band: .lowPass(radius: 1), part: .amplitude),
                                          .init(band: .bandPass(inner: 0.5, outer: 2.5), part: .phase)]

    /// A picture's made-up figures on the three layer-4 taps. They depend on the episode the
    /// picture was first measured at, by a hair: a merge that keeps another copy than the
    /// earliest episode's shows up as different bytes. Every fifth picture has no pair figure
    /// on one tap, as a picture with fewer than two varying channels.
    func taps(_ image: String, firstEpisode: Int, filter: Int) -> [FilterSweep.Measurement.TapFigures] {
        var random = SeededGenerator(seed: image.unicodeScalars.reduce(UInt64(7)) { $0 &* 31 &+ UInt64($1.value) } &+ UInt64(filter))
        let noPairs = image.hasSuffix("0.jpg")
        return ["layer4.0", "layer4.1", "layer4.2"].enumerated().map { k, tap in
            let r = Double(random.next() % 1_000_003) / 1_000_003 + Double(firstEpisode) * 1e-12
            let participation = 1 + Double(random.next() % 9_973) / 97
            return .init(tap: tap, meanAbsR: noPairs && k == 1 ? nil : r, participationRatio: participation)
        }
    }

    /// What a process running `plans` would measure for each filter.
    func outcomes(_ plans: [EpisodePlan]) -> [FilterSweep.Outcome] {
        filters.enumerated().map { position, filter in
            let episodes = plans.map {
                FilterSweep.Measurement.Episode(index: $0.index, classIndex: $0.classIndex,
                                                counts: EvaluationFixtures.record($0, seed: UInt64(position)).counts)
            }
            var seen = Set<String>()
            let queries = plans.filter { seen.insert($0.query.image).inserted }.map {
                FilterSweep.Measurement.Query(image: $0.query.image, firstEpisode: $0.index,
                                              taps: taps($0.query.image, firstEpisode: $0.index, filter: position))
            }
            return FilterSweep.Outcome(filter: filter, measurement: .init(episodes: episodes, queries: queries))
        }
    }

    func config(episodes: Int, shard: ShardSpec? = nil) -> FilterSweepReport.Config {
        .init(checkpointSHA256: "ab12", maskers: "none", benchmark: "deepglobe", shots: 1, episodes: episodes, seed: 3,
              imageSize: 400, target: "features", shard: shard)
    }

    func whole(episodes: Int) throws -> FilterSweepReport {
        let plans = try EpisodeSampler(dataset: dataset, shots: 1, seed: 3).plan(episodes: episodes)
        return FilterSweepReport(config: config(episodes: episodes), outcomes: outcomes(plans))
    }

    func shards(_ count: Int, episodes: Int) throws -> [(source: String, report: FilterSweepReport)] {
        let sampler = try EpisodeSampler(dataset: dataset, shots: 1, seed: 3)
        return try (0..<count).map { i in
            let shard = try ShardSpec(index: i, count: count)
            return ("sweep\(i).json", FilterSweepReport(config: config(episodes: episodes, shard: shard),
                                                        outcomes: outcomes(try sampler.plan(episodes: episodes, shard: shard))))
        }
    }

    func testMergedShardsAreByteIdenticalToTheWholeSweep() throws {
        let parts = try shards(3, episodes: 40)
        let whole = try whole(episodes: 40)
        let merged = try FilterSweepMerge.merge([parts[1], parts[2], parts[0]])
        XCTAssertEqual(try merged.encoded(), try whole.encoded())
        XCTAssertNil(merged.config.shard)
        // Query pictures recur across shards, and the shards' own figures differ from the
        // whole sweep's: the merge really recomputes, from the earliest copy of each picture.
        let perShard = parts.map { Set($0.report.baseline.records!.queries.map(\.image)) }
        XCTAssertFalse(perShard[0].isDisjoint(with: perShard[1]))
        XCTAssertNotEqual(parts[0].report.baseline.meanAbsR, whole.baseline.meanAbsR)
        XCTAssertNotEqual(parts[0].report.filters[1].miou, whole.filters[1].miou)
    }

    func testTheReportFileReadsBackAsItWasWritten() throws {
        let report = try shards(2, episodes: 12)[1].report
        let decoded = try FilterSweepReport(decoding: try report.encoded(), source: "s.json")
        XCTAssertEqual(decoded, report)
        XCTAssertEqual(decoded.config.shard?.description, "1/2")
        XCTAssertTrue(FilterSweepReport.isFilterSweep(try report.encoded()))
        XCTAssertFalse(FilterSweepReport.isFilterSweep(Data("{\"config\": {}, \"episodes\": []}".utf8)))
    }

    /// `--json` prints what it always printed: no records, and no shard for a whole sweep.
    func testThePrintedJSONHasNeitherRecordsNorAShardForAWholeSweep() throws {
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try whole(episodes: 8).json().utf8)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["config", "baseline", "filters"])
        XCTAssertEqual(Set(try XCTUnwrap(object["config"] as? [String: Any]).keys),
                       ["checkpoint_sha256", "maskers", "benchmark", "shots", "episodes", "seed", "image_size", "target"])
        XCTAssertEqual(Set(try XCTUnwrap(object["baseline"] as? [String: Any]).keys), ["miou", "fbiou", "mean_abs_r", "participation_ratio"])
        let rows = try XCTUnwrap(object["filters"] as? [[String: Any]])
        XCTAssertEqual(Set(rows[0].keys), ["kind", "part", "radius", "miou", "fbiou", "mean_abs_r", "participation_ratio"])
        XCTAssertEqual(Set(rows[1].keys), ["kind", "part", "radii", "miou", "fbiou", "mean_abs_r", "participation_ratio"])
        let shard = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try shards(2, episodes: 8)[0].report.json().utf8)) as? [String: Any])
        XCTAssertEqual((shard["config"] as? [String: Any])?["shard"] as? String, "0/2")
    }

    /// The figures of the records are those of `ChannelCorrelationAccumulator`, which the
    /// sweep used before it kept records: the same sums in the same order, to the bit.
    func testRecordFiguresEqualTheCorrelationAccumulatorsBitForBit() throws {
        var random = SeededGenerator(seed: 11)
        let (channels, height, width) = (6, 3, 4)
        var accumulators = (0..<3).map { _ in ChannelCorrelationAccumulator(channels: channels) }
        var queries: [FilterSweep.Measurement.Query] = []
        for picture in 0..<7 {
            var maps: [Tensor] = []
            for _ in 0..<3 {
                // Picture 4 has one varying channel only: no pair figures, as a flat picture.
                let values = (0..<(channels * height * width)).map { i in
                    picture == 4 && i >= height * width ? Float(1) : Float(random.next() % 10_000) / 777 - 6
                }
                maps.append(Tensor(shape: [1, channels, height, width], scalars: values))
            }
            for k in 0..<3 { try accumulators[k].add(maps[k], name: "picture \(picture)") }
            queries.append(.init(image: "p\(picture).png", firstEpisode: picture, taps: try (0..<3).map { k in
                try FilterSweep.Measurement.TapFigures(tap: "layer4.\(k)", map: maps[k], name: "picture \(picture)")
            }))
        }
        XCTAssertNil(queries[4].taps[0].meanAbsR)
        let figures = accumulators.map(\.meanFigures)
        let correlation = FilterSweep.Measurement(episodes: [], queries: queries).correlation
        XCTAssertEqual(correlation.meanAbsR, figures.map(\.meanAbsR).reduce(0, +) / 3)
        XCTAssertEqual(correlation.participationRatio, figures.map(\.participationRatio).reduce(0, +) / 3)
    }

    func testMissingOrRepeatedEpisodesAreListed() throws {
        let parts = try shards(4, episodes: 40)
        assertInputError(["do not cover the sweep's 40 episodes exactly once for the unfiltered model", "10 missing (1, 5, 9"]) {
            _ = try FilterSweepMerge.merge([parts[0], parts[2], parts[3]])
        }
        assertInputError(["10 repeated", "episode 1 is in sweep1.json and sweep1.json"]) {
            _ = try FilterSweepMerge.merge(parts + [parts[1]])
        }
    }

    func testShardsOfDifferentSweepsAreRefused() throws {
        var parts = try shards(2, episodes: 10)
        let other = try shards(2, episodes: 12)
        assertInputError(["sweep0.json and sweep1.json are not shards of one sweep", "config key episodes is 10 in the first and 12"]) {
            _ = try FilterSweepMerge.merge([parts[0], other[1]])
        }
        var fewer = parts[1].report
        fewer.filters.removeLast()
        assertInputError(["not shards of one sweep", "different filters"]) { _ = try FilterSweepMerge.merge([parts[0], ("f.json", fewer)]) }
        // The --json figures, without records, cannot be merged.
        let figures = try FilterSweepReport(decoding: Data(try parts[1].report.json().utf8), source: "printed.json")
        parts[1] = ("printed.json", figures)
        assertInputError(["printed.json", "not its episode records", "--report"]) { _ = try FilterSweepMerge.merge(parts) }
        assertInputError(["no filter sweep reports"]) { _ = try FilterSweepMerge.merge([]) }
    }

    func testDamagedRecordsAreOneLineErrors() throws {
        let good = try JSONSerialization.jsonObject(with: try shards(2, episodes: 10)[0].report.encoded()) as! [String: Any]
        func damaged(_ change: (inout [String: Any]) -> Void) throws -> Data {
            var object = good
            var baseline = object["baseline"] as! [String: Any]
            change(&baseline)
            object["baseline"] = baseline
            return try JSONSerialization.data(withJSONObject: object)
        }
        let noQueries = try damaged { $0["queries"] = nil }
        assertInputError(["s.json: not a valid cdfss filter sweep report", "missing key \"queries\"", "baseline"]) {
            _ = try FilterSweepReport(decoding: noQueries, source: "s.json")
        }
        let unlisted = try damaged { baseline in
            var queries = baseline["queries"] as! [[String: Any]]
            queries[0]["first_episode"] = 1  // shard 0 of 2 has the even episodes
            baseline["queries"] = queries
        }
        assertInputError(["s.json", "not listed", "baseline.queries"]) { _ = try FilterSweepReport(decoding: unlisted, source: "s.json") }
        let tapless = try damaged { baseline in
            var queries = baseline["queries"] as! [[String: Any]]
            queries[1]["taps"] = [Any]()
            baseline["queries"] = queries
        }
        assertInputError(["s.json", "numbers of taps"]) { _ = try FilterSweepReport(decoding: tapless, source: "s.json") }
        let impossible = try damaged { baseline in
            var episodes = baseline["episodes"] as! [[String: Any]]
            episodes[0]["intersection"] = [1_000_000, 0]
            baseline["episodes"] = episodes
        }
        assertInputError(["s.json", "cannot come from two masks"]) { _ = try FilterSweepReport(decoding: impossible, source: "s.json") }
    }
}
