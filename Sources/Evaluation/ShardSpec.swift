import Datasets
import Foundation
import TensorCore

/// One part of a run split over several processes: shard `index` of `count` runs the episodes
/// whose index is `index` modulo `count`.
///
/// Written `"i/n"` with i counted from 0, so that a SLURM array `--array=0-(n-1)` can pass
/// `--shard $SLURM_ARRAY_TASK_ID/n`. Taking every n-th episode (rather than a block) spreads
/// the classes, and so the work, evenly over the shards.
public struct ShardSpec: Equatable, Hashable, Codable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1 else { throw InputError("shard \(index)/\(count): the shard count must be at least 1") }
        guard (0..<count).contains(index) else {
            throw InputError("shard \(index)/\(count): the index counts from 0 and must be below \(count) (0 to \(count - 1))")
        }
        self.index = index
        self.count = count
    }

    /// Parses `"i/n"`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2,
              let index = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let count = Int(parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw InputError("shard \"\(text)\": expected INDEX/COUNT with the index from 0, e.g. 0/4")
        }
        try self.init(index: index, count: count)
    }

    public var description: String { "\(index)/\(count)" }

    /// Whether episode `episodeIndex` belongs to this shard.
    public func contains(episode episodeIndex: Int) -> Bool {
        episodeIndex % count == index
    }

    /// This shard's episodes of a full plan.
    public func select(_ plan: [EpisodePlan]) -> [EpisodePlan] {
        plan.filter { contains(episode: $0.index) }
    }

    /// Checks that a run of `episodeCount` episodes gives this shard at least one.
    public func check(episodeCount: Int) throws {
        guard index < episodeCount else {
            throw InputError("shard \(self): the run has only \(episodeCount) episode\(episodeCount == 1 ? "" : "s"), so shard \(index) would be empty; use at most \(episodeCount) shards")
        }
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(parsing: text)
        } catch let error as InputError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
