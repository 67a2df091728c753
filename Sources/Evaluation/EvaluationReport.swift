import Datasets
import Foundation
import TensorCore

/// The score of one class in a report: `{"class": 0, "name": "1", "iou": 41.2}` (IoU in
/// percent).
public struct ClassScore: Codable, Equatable, Sendable {
    public let classIndex: Int
    public let name: String
    public let iou: Double

    public init(classIndex: Int, name: String, iou: Double) {
        self.classIndex = classIndex
        self.name = name
        self.iou = iou
    }

    enum CodingKeys: String, CodingKey {
        case classIndex = "class"
        case name, iou
    }
}

/// The result of one evaluation run (or one shard of it) with one seed:
/// `{"config", "episodes", "classes", "miou", "fbiou"}`.
///
/// The episode records are the source of truth: `classes`, `miou` and `fbiou` are always
/// computed from them by `SegmentationScore` — when a report is built and again when one is
/// read — so a report is internally consistent and shards merge exactly. `classes` lists the
/// classes that have episodes, by index; `miou` is their mean IoU.
public struct EvaluationReport: Codable, Equatable, Sendable {
    public let config: EvaluationConfig
    /// Sorted by index.
    public let episodes: [EpisodeRecord]
    public let classes: [ClassScore]
    public let miou: Double
    public let fbiou: Double

    /// Scores `episodes` (in any order) under `config`. `classNames` is the benchmark's class
    /// list (`dataset.classes.map(\.name)`), indexed by the records' class indices.
    ///
    /// Checks that the records fit the config: at least one, indices distinct, within the
    /// run's `config.episodes` and in `config.shard` if any, seeds equal to `config.seed`, K
    /// supports each, consistent counts.
    public init(config: EvaluationConfig, episodes: [EpisodeRecord], classNames: [String]) throws {
        try self.init(config: config, episodes: episodes,
                      names: Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($0.offset, $0.element) }),
                      classCount: classNames.count)
    }

    /// The designated builder: class names by index, and the size of the class list when it
    /// is known (else a class without a name is reported as such).
    init(config: EvaluationConfig, episodes: [EpisodeRecord], names: [Int: String], classCount: Int?) throws {
        guard let seed = config.seed else { throw InputError("a report's config needs its seed (\"seed\" is null)") }
        guard config.episodes >= 1 else { throw InputError("config.episodes is \(config.episodes), expected at least 1") }
        // The episode count sizes the checks below and every merge: bounded before it is used.
        guard config.episodes <= InputLimits.episodes else {
            throw InputError("config.episodes is \(config.episodes); a run has at most \(InputLimits.episodes) episodes")
        }
        guard config.shots >= 1 else { throw InputError("config.shots is \(config.shots), expected at least 1") }
        guard !episodes.isEmpty else { throw InputError("no episodes to score") }
        let sorted = episodes.sorted { $0.index < $1.index }
        var score = SegmentationScore()
        for (position, record) in sorted.enumerated() {
            let what = "episode \(record.index)"
            guard (0..<config.episodes).contains(record.index) else {
                throw InputError("\(what): index outside the run's episodes 0 to \(config.episodes - 1)")
            }
            if position > 0, sorted[position - 1].index == record.index {
                throw InputError("\(what) appears twice")
            }
            if let shard = config.shard, !shard.contains(episode: record.index) {
                throw InputError("\(what) does not belong to shard \(shard)")
            }
            guard record.seed == seed else { throw InputError("\(what) has seed \(record.seed) but the run's seed is \(seed)") }
            guard record.supports.count == config.shots else {
                throw InputError("\(what) has \(record.supports.count) supports but the run is \(config.shots)-shot")
            }
            guard record.counts.isConsistent else {
                throw InputError("\(what): its intersection and union cannot come from two masks of one size")
            }
            guard record.classIndex >= 0, names[record.classIndex] != nil else {
                if let classCount {
                    throw InputError("\(what) has class \(record.classIndex) but the benchmark has \(classCount) classes")
                }
                throw InputError("\(what) has class \(record.classIndex), which has no entry in \"classes\"")
            }
            score.add(record.counts, classIndex: record.classIndex)
        }
        self.config = config
        self.episodes = sorted
        self.classes = score.classIndices.map { ClassScore(classIndex: $0, name: names[$0]!, iou: score.iou(ofClass: $0)!) }
        self.miou = score.miou
        self.fbiou = score.fbiou
    }

    /// The score of the records, with per-class sums and episode counts.
    public var score: SegmentationScore {
        var score = SegmentationScore()
        for record in episodes { score.add(record.counts, classIndex: record.classIndex) }
        return score
    }

    /// How many episodes the run (or its shard: episodes i, i + n, ...) has, counted without
    /// listing them, since a shard of a huge run is small.
    public var expectedEpisodeCount: Int {
        guard let shard = config.shard else { return config.episodes }
        return config.episodes > shard.index ? (config.episodes - shard.index - 1) / shard.count + 1 : 0
    }

    /// The indices of the run (or of its shard) that have no record, in order.
    public var missingEpisodes: [Int] {
        let present = Set(episodes.map(\.index))
        return (0..<config.episodes).filter { (config.shard?.contains(episode: $0) ?? true) && !present.contains($0) }
    }

    /// The line the reference prints at the end of a test, with the unit the reference leaves
    /// out: `mIoU: 45.10%  FB-IoU: 60.20%`.
    public var scoreLine: String {
        String(format: "mIoU: %.2f%%  FB-IoU: %.2f%%", miou, fbiou)
    }

    enum CodingKeys: String, CodingKey {
        case config, episodes, classes, miou, fbiou
    }

    /// Reads the config, the records and the class names, and scores the records again.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let config = try container.decode(EvaluationConfig.self, forKey: .config)
        let episodes = try container.decode([EpisodeRecord].self, forKey: .episodes)
        let classes = try container.decode([ClassScore].self, forKey: .classes)
        _ = try container.decode(Double.self, forKey: .miou)
        _ = try container.decode(Double.self, forKey: .fbiou)
        var names: [Int: String] = [:]
        for entry in classes {
            if let known = names[entry.classIndex], known != entry.name {
                throw DecodingError.dataCorruptedError(forKey: .classes, in: container,
                    debugDescription: "class \(entry.classIndex) is listed as both \"\(known)\" and \"\(entry.name)\"")
            }
            names[entry.classIndex] = entry.name
        }
        do {
            try self.init(config: config, episodes: episodes, names: names, classCount: nil)
        } catch let error as InputError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }
}
