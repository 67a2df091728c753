import Foundation
import FreqMask
import TensorCore

/// A sweep's figures, keys in snake_case, scores in percent: what `analyze filter-sweep --json`
/// prints and, with each row's records, what `--report` writes.
///
/// Printed (`json()`): `{"config", "baseline": {"miou", "fbiou", "mean_abs_r",
/// "participation_ratio"}, "filters": [{"kind", "part", "radius" or "radii", ...}]}`, the config
/// with `"shard": "i/n"` only when the run is one shard. The file (`encoded()`) adds to the
/// baseline and to each filter its `"episodes"` (index, class, intersection, union) and
/// `"queries"` (each distinct query picture's per-tap figures): what `FilterSweepMerge` needs
/// to put a run's shards back together.
public struct FilterSweepReport: Codable, Equatable, Sendable {
    public struct Config: Codable, Equatable, Sendable {
        public let checkpointSHA256: String
        public let maskers: String
        public let benchmark: String
        public let shots: Int
        /// The whole run's episodes, also in a shard's report.
        public let episodes: Int
        public let seed: UInt64
        public let imageSize: Int
        public let target: String
        public var shard: ShardSpec?

        public init(checkpointSHA256: String, maskers: String, benchmark: String, shots: Int, episodes: Int, seed: UInt64,
                    imageSize: Int, target: String, shard: ShardSpec? = nil) {
            self.checkpointSHA256 = checkpointSHA256
            self.maskers = maskers
            self.benchmark = benchmark
            self.shots = shots
            self.episodes = episodes
            self.seed = seed
            self.imageSize = imageSize
            self.target = target
            self.shard = shard
        }

        enum CodingKeys: String, CodingKey {
            case checkpointSHA256 = "checkpoint_sha256", maskers, benchmark, shots, episodes, seed, imageSize = "image_size", target, shard
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            checkpointSHA256 = try c.decode(String.self, forKey: .checkpointSHA256)
            maskers = try c.decode(String.self, forKey: .maskers)
            benchmark = try c.decode(String.self, forKey: .benchmark)
            shots = try c.decode(Int.self, forKey: .shots)
            episodes = try c.decode(Int.self, forKey: .episodes)
            seed = try c.decode(UInt64.self, forKey: .seed)
            imageSize = try c.decode(Int.self, forKey: .imageSize)
            target = try c.decode(String.self, forKey: .target)
            shard = try c.decodeIfPresent(ShardSpec.self, forKey: .shard)
            guard (1...EpisodeSampler.maximumEpisodeCount).contains(episodes) else {
                throw DecodingError.dataCorruptedError(forKey: .episodes, in: c,
                                                       debugDescription: "\(episodes) episodes, expected 1 to \(EpisodeSampler.maximumEpisodeCount)")
            }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(checkpointSHA256, forKey: .checkpointSHA256)
            try c.encode(maskers, forKey: .maskers)
            try c.encode(benchmark, forKey: .benchmark)
            try c.encode(shots, forKey: .shots)
            try c.encode(episodes, forKey: .episodes)
            try c.encode(seed, forKey: .seed)
            try c.encode(imageSize, forKey: .imageSize)
            try c.encode(target, forKey: .target)
            // Only a shard says so: a whole run's config stays as it always was.
            try c.encodeIfPresent(shard, forKey: .shard)
        }

        /// The first key whose value differs, with both values as JSON text.
        func firstDifference(from other: Config) throws -> (key: String, this: String, other: String)? {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            func fields(_ config: Config) throws -> [String: String] {
                let object = try JSONSerialization.jsonObject(with: try encoder.encode(config)) as! [String: Any]
                return try object.mapValues { value in
                    String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]), as: UTF8.self)
                }
            }
            let (a, b) = (try fields(self), try fields(other))
            for key in Set(a.keys).union(b.keys).sorted() where a[key] != b[key] {
                return (key, a[key] ?? "absent", b[key] ?? "absent")
            }
            return nil
        }
    }

    public struct Baseline: Codable, Equatable, Sendable {
        public let miou, fbiou, meanAbsR, participationRatio: Double
        public var records: FilterSweep.Measurement?

        init(_ outcome: FilterSweep.Outcome) {
            miou = outcome.miou
            fbiou = outcome.fbiou
            meanAbsR = outcome.meanAbsR
            participationRatio = outcome.participationRatio
            records = outcome.measurement
        }

        enum CodingKeys: String, CodingKey {
            case miou, fbiou, meanAbsR = "mean_abs_r", participationRatio = "participation_ratio", episodes, queries
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            miou = try c.decode(Double.self, forKey: .miou)
            fbiou = try c.decode(Double.self, forKey: .fbiou)
            meanAbsR = try c.decode(Double.self, forKey: .meanAbsR)
            participationRatio = try c.decode(Double.self, forKey: .participationRatio)
            records = try FilterSweepReport.decodeRecords(c, episodes: .episodes, queries: .queries)
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(miou, forKey: .miou)
            try c.encode(fbiou, forKey: .fbiou)
            try c.encode(meanAbsR, forKey: .meanAbsR)
            try c.encode(participationRatio, forKey: .participationRatio)
            try c.encodeIfPresent(records?.episodes, forKey: .episodes)
            try c.encodeIfPresent(records?.queries, forKey: .queries)
        }
    }

    public struct Row: Codable, Equatable, Sendable {
        public let kind: String
        public let part: String
        public let radius: Double?
        public let radii: [Double]?
        public let miou, fbiou, meanAbsR, participationRatio: Double
        public var records: FilterSweep.Measurement?

        init(_ outcome: FilterSweep.Outcome, filter: FilterSweep.Filter) {
            switch filter.band {
            case .lowPass(let r), .highPass(let r): (radius, radii) = (r, nil)
            case .bandPass(let inner, let outer): (radius, radii) = (nil, [inner, outer])
            }
            kind = filter.band.kindName
            part = filter.part.rawValue
            miou = outcome.miou
            fbiou = outcome.fbiou
            meanAbsR = outcome.meanAbsR
            participationRatio = outcome.participationRatio
            records = outcome.measurement
        }

        /// The filter the row describes.
        public var filter: FilterSweep.Filter? {
            guard let part = SpectrumPart(rawValue: part) else { return nil }
            switch (kind, radius, radii) {
            case ("low-pass", let r?, nil): return .init(band: .lowPass(radius: r), part: part)
            case ("high-pass", let r?, nil): return .init(band: .highPass(radius: r), part: part)
            case ("band-pass", nil, let r?) where r.count == 2: return .init(band: .bandPass(inner: r[0], outer: r[1]), part: part)
            default: return nil
            }
        }

        enum CodingKeys: String, CodingKey {
            case kind, part, radius, radii, miou, fbiou, meanAbsR = "mean_abs_r", participationRatio = "participation_ratio", episodes, queries
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            kind = try c.decode(String.self, forKey: .kind)
            part = try c.decode(String.self, forKey: .part)
            radius = try c.decodeIfPresent(Double.self, forKey: .radius)
            radii = try c.decodeIfPresent([Double].self, forKey: .radii)
            miou = try c.decode(Double.self, forKey: .miou)
            fbiou = try c.decode(Double.self, forKey: .fbiou)
            meanAbsR = try c.decode(Double.self, forKey: .meanAbsR)
            participationRatio = try c.decode(Double.self, forKey: .participationRatio)
            records = try FilterSweepReport.decodeRecords(c, episodes: .episodes, queries: .queries)
            guard filter != nil else {
                throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription:
                    "no filter \"\(kind)\" of the \(part) with \(radius.map { "radius \($0)" } ?? radii.map { "radii \($0)" } ?? "no radius")")
            }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(kind, forKey: .kind)
            try c.encode(part, forKey: .part)
            if let radius { try c.encode(radius, forKey: .radius) }
            if let radii { try c.encode(radii, forKey: .radii) }
            try c.encode(miou, forKey: .miou)
            try c.encode(fbiou, forKey: .fbiou)
            try c.encode(meanAbsR, forKey: .meanAbsR)
            try c.encode(participationRatio, forKey: .participationRatio)
            try c.encodeIfPresent(records?.episodes, forKey: .episodes)
            try c.encodeIfPresent(records?.queries, forKey: .queries)
        }
    }

    public var config: Config
    public var baseline: Baseline
    public var filters: [Row]

    /// The report of a sweep's outcomes (the unfiltered model's among them), with their
    /// records when they have them.
    public init(config: Config, outcomes: [FilterSweep.Outcome]) {
        self.config = config
        baseline = Baseline(outcomes.first { $0.filter == nil }!)
        filters = outcomes.compactMap { outcome in outcome.filter.map { Row(outcome, filter: $0) } }
    }

    /// Whether every row carries its records (a file written by `--report`, not `--json`).
    public var hasRecords: Bool {
        baseline.records != nil && filters.allSatisfy { $0.records != nil }
    }

    /// The episodes the report holds (a shard's own; the whole run's otherwise).
    public var episodeCount: Int { baseline.records?.episodes.count ?? config.episodes }

    /// `--json`: the figures without the records.
    public func json() throws -> String {
        var figures = self
        figures.baseline.records = nil
        for k in figures.filters.indices { figures.filters[k].records = nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(figures), as: UTF8.self)
    }

    /// The report file: figures and records, pretty printed with sorted keys, so the same
    /// sweep is always the same bytes.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// Reads a report file; errors are one line starting with `source`.
    public init(decoding data: Data, source: String) throws {
        do {
            self = try JSONDecoder().decode(FilterSweepReport.self, from: data)
        } catch let error as DecodingError {
            throw InputError("\(source): not a valid cdfss filter sweep report: \(ReportFile.describe(error, in: data))")
        }
    }

    public static func read(_ url: URL) throws -> FilterSweepReport {
        try FilterSweepReport(decoding: try readFile(url, what: "filter sweep report"), source: url.path)
    }

    /// Whether a JSON file is a filter sweep's (it has a top-level `"baseline"`) rather than
    /// an evaluation report; false for anything that is not a JSON object.
    public static func isFilterSweep(_ data: Data) -> Bool {
        (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["baseline"] != nil
    }

    /// The records of a row: both keys or neither.
    fileprivate static func decodeRecords<Key: CodingKey>(_ c: KeyedDecodingContainer<Key>, episodes: Key, queries: Key) throws
        -> FilterSweep.Measurement? {
        let list = try c.decodeIfPresent([FilterSweep.Measurement.Episode].self, forKey: episodes)
        let pictures = try c.decodeIfPresent([FilterSweep.Measurement.Query].self, forKey: queries)
        switch (list, pictures) {
        case (nil, nil): return nil
        case (let list?, let pictures?):
            // The figures index every query's taps alike and count each picture once.
            let tapCounts = Set(pictures.map(\.taps.count))
            guard tapCounts.count <= 1, !tapCounts.contains(0) else {
                throw DecodingError.dataCorruptedError(forKey: queries, in: c, debugDescription: "the queries list different numbers of taps")
            }
            let indices = Set(list.map(\.index))
            guard Set(pictures.map(\.image)).count == pictures.count, Set(pictures.map(\.firstEpisode)).count == pictures.count,
                  pictures.allSatisfy({ indices.contains($0.firstEpisode) }) else {
                throw DecodingError.dataCorruptedError(forKey: queries, in: c,
                                                       debugDescription: "a query picture listed twice, or at an episode that is not listed")
            }
            return FilterSweep.Measurement(episodes: list, queries: pictures)
        case (nil, _): throw DecodingError.keyNotFound(episodes, .init(codingPath: c.codingPath, debugDescription: "queries without episodes"))
        case (_, nil): throw DecodingError.keyNotFound(queries, .init(codingPath: c.codingPath, debugDescription: "episodes without queries"))
        }
    }
}
