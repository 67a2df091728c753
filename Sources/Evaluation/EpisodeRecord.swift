import Datasets
/// What a report keeps of one episode: the plan it ran, its counts and how long it took.
/// Records are the source of truth — a report's scores are always recomputed from them, which
/// is what lets shard reports be merged exactly.
///
/// JSON: `{"index", "seed", "class", "query", "supports", "intersection", "union",
/// "foreground_iou", "seconds"}`, with the counts as `[background, foreground]`, paths relative
/// to the datapath, and the episode's own foreground IoU in percent (written so that failure
/// cases can be found without arithmetic; derived from the counts, so it is not read back).
public struct EpisodeRecord: Codable, Equatable, Sendable {
    public var index: Int
    /// The run's seed (`EvaluationConfig.seed`).
    public var seed: UInt64
    /// The class index into the benchmark's class list.
    public var classIndex: Int
    /// The query image's path.
    public var query: String
    /// The support images' paths.
    public var supports: [String]
    public var counts: EpisodeCounts
    /// Wall-clock time of the episode (adaptation included, if any).
    public var seconds: Double

    public init(index: Int, seed: UInt64, classIndex: Int, query: String, supports: [String],
                counts: EpisodeCounts, seconds: Double) {
        self.index = index
        self.seed = seed
        self.classIndex = classIndex
        self.query = query
        self.supports = supports
        self.counts = counts
        self.seconds = seconds
    }

    /// The record of a planned episode, with the image paths of its query and supports.
    public init(plan: EpisodePlan, seed: UInt64, counts: EpisodeCounts, seconds: Double) {
        self.init(index: plan.index, seed: seed, classIndex: plan.classIndex, query: plan.query.image,
                  supports: plan.supports.map(\.image), counts: counts, seconds: seconds)
    }

    /// The episode's foreground IoU in percent, as the evaluator scores a class: intersection
    /// over union of the foreground, the union floored at one pixel (so 0 when neither the
    /// prediction nor the truth has foreground).
    public var foregroundIoU: Double {
        100 * Double(counts.intersection.foreground) / Double(max(counts.union.foreground, 1))
    }

    enum CodingKeys: String, CodingKey {
        case index, seed
        case classIndex = "class"
        case query, supports, intersection, union
        case foregroundIoU = "foreground_iou"
        case seconds
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        index = try container.decode(Int.self, forKey: .index)
        seed = try container.decode(UInt64.self, forKey: .seed)
        classIndex = try container.decode(Int.self, forKey: .classIndex)
        query = try container.decode(String.self, forKey: .query)
        supports = try container.decode([String].self, forKey: .supports)
        counts = EpisodeCounts(intersection: try container.decode(PixelCounts.self, forKey: .intersection),
                               union: try container.decode(PixelCounts.self, forKey: .union))
        seconds = try container.decode(Double.self, forKey: .seconds)
        guard counts.isConsistent else {
            throw DecodingError.dataCorruptedError(
                forKey: .union, in: container,
                debugDescription: "intersection \(Self.pair(counts.intersection)) and union \(Self.pair(counts.union)) cannot come from two masks of one size")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(index, forKey: .index)
        try container.encode(seed, forKey: .seed)
        try container.encode(classIndex, forKey: .classIndex)
        try container.encode(query, forKey: .query)
        try container.encode(supports, forKey: .supports)
        try container.encode(counts.intersection, forKey: .intersection)
        try container.encode(counts.union, forKey: .union)
        try container.encode(foregroundIoU, forKey: .foregroundIoU)
        try container.encode(seconds, forKey: .seconds)
    }

    private static func pair(_ counts: PixelCounts) -> String { "[\(counts.background), \(counts.foreground)]" }
}
