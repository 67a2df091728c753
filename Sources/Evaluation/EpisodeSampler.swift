import Datasets
import TensorCore

/// Draws the test episodes of a benchmark, as the reference test loaders do but reproducibly:
///
/// - deepglobe, isic, lung, folder: `episodes` episodes (600 unless given); episode i belongs
///   to class `i mod classCount` and draws its query and then K supports uniformly from that
///   class's images;
/// - fss: every image is the query of one episode, class by class in list order and image by
///   image in class order, with K supports drawn from the other images of its class; a given
///   `episodes` keeps the first that many episodes of this list.
///
/// Two departures from the reference, both deliberate: the K supports are distinct (the
/// reference only keeps them apart from the query, so with several shots it can repeat a
/// support), and the randomness is ours, not NumPy's. Every episode draws from its own
/// SplitMix64 generator seeded with `episodeSeed(seed:index:)`, so an episode is the same
/// whatever other episodes are run, in whatever order, on however many threads or machines.
///
/// Images in `excluding` (those a domain-adaptation run trains on) appear in no episode, not
/// as a query and not as a support.
public struct EpisodeSampler: Sendable {
    /// The reference's episode count for the benchmarks with random queries.
    public static let defaultEpisodeCount = 600
    /// The most episodes a run may have: 10^6. The benchmarks' protocols use 600 to 1000
    /// (FSS-1000: 2400 queries), and a report of a larger run could not be read back (report
    /// files are held to the same bound). Large runs are meant to be sharded, and a shard
    /// plans only its own episodes (`plan(episodes:shard:)`), so memory follows its work.
    public static let maximumEpisodeCount = InputLimits.episodes

    public let dataset: TargetDataset
    public let shots: Int
    public let seed: UInt64
    public let excluding: Set<LabelledImage>
    /// Per class, the images episodes may use, in class order.
    private let pools: [[LabelledImage]]

    /// Checks that every class keeps at least K + 1 images once `excluding` is taken out (a
    /// query and K supports apart from it); the error names the first class that does not.
    public init(dataset: TargetDataset, shots: Int, seed: UInt64, excluding: Set<LabelledImage> = []) throws {
        guard shots >= 1 else { throw InputError("shots must be at least 1, got \(shots)") }
        guard !dataset.classes.isEmpty else {
            throw InputError("\(dataset.root.path): the \(dataset.kind.rawValue) dataset has no classes")
        }
        var pools: [[LabelledImage]] = []
        for datasetClass in dataset.classes {
            let pool = datasetClass.samples.filter { !excluding.contains($0) }
            // Compared as pool.count > shots, and counted in UInt below: shots + 1 overflows Int
            // for the largest --shots.
            guard pool.count > shots else {
                let removed = datasetClass.samples.count - pool.count
                let held = removed == 0 ? "" : " after \(removed) taken for adaptation"
                throw InputError("class \"\(datasetClass.name)\" of \(dataset.kind.rawValue) has \(pool.count) usable image\(pool.count == 1 ? "" : "s")\(held); \(shots)-shot episodes need at least \(UInt(shots) + 1)")
            }
            pools.append(pool)
        }
        self.dataset = dataset
        self.shots = shots
        self.seed = seed
        self.excluding = excluding
        self.pools = pools
    }

    /// Checks a requested episode count: 1 to `maximumEpisodeCount`.
    public static func checkEpisodeCount(_ requested: Int) throws {
        guard requested >= 1 else { throw InputError("--episodes \(requested): expected at least 1") }
        guard requested <= maximumEpisodeCount else {
            throw InputError("--episodes \(requested): at most \(maximumEpisodeCount) episodes in a run")
        }
    }

    /// How many episodes a full run has: `requested`, or by default 600 (fss: every usable
    /// image). For fss a request beyond the number of images is an error.
    public func episodeCount(requested: Int? = nil) throws -> Int {
        if let requested { try Self.checkEpisodeCount(requested) }
        guard dataset.kind == .fss else { return requested ?? Self.defaultEpisodeCount }
        let images = pools.reduce(0) { $0 + $1.count }
        if let requested, requested > images {
            throw InputError("fss has \(images) test images to use as queries, \(requested) episodes asked for")
        }
        return requested ?? images
    }

    /// The episodes of a full run (`episodeCount(requested:)` of them), by index, or with
    /// `shard` only that shard's (what `ShardSpec.select` would keep of the full list). Only
    /// the shard's plans are built, so a shard of a huge run costs memory for its own episodes.
    public func plan(episodes requested: Int? = nil, shard: ShardSpec? = nil) throws -> [EpisodePlan] {
        let count = try episodeCount(requested: requested)
        try shard?.check(episodeCount: count)
        if dataset.kind == .fss {
            // At most one episode per image: the whole list is small.
            let all = fssPlans(count: count)
            return shard?.select(all) ?? all
        }
        let indices = stride(from: shard?.index ?? 0, to: count, by: shard?.count ?? 1)
        return indices.map { episode($0, classIndex: $0 % pools.count, queryPosition: nil) }
    }

    /// Every episode of an fss run: each image of each class the query of one, in order.
    private func fssPlans(count: Int) -> [EpisodePlan] {
        var plans: [EpisodePlan] = []
        plans.reserveCapacity(count)
        outer: for (classIndex, pool) in pools.enumerated() {
            for queryPosition in pool.indices {
                if plans.count == count { break outer }
                plans.append(episode(plans.count, classIndex: classIndex, queryPosition: queryPosition))
            }
        }
        return plans
    }

    /// The seed of episode `index`'s own generator: the index-th output of SplitMix64 seeded
    /// with `seed` (SplitMix64 can jump straight to it), so neighbouring indices and
    /// neighbouring seeds give unrelated streams. Other per-episode randomness should derive
    /// from it too.
    public static func episodeSeed(seed: UInt64, index: Int) -> UInt64 {
        precondition(index >= 0, "negative episode index \(index)")
        var generator = SeededGenerator(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        return generator.next()
    }

    /// Episode `index` of class `classIndex`: the query at `queryPosition` of the class's pool
    /// or, when nil, drawn; then K supports drawn without replacement from the rest (a partial
    /// Fisher-Yates shuffle of the other positions).
    private func episode(_ index: Int, classIndex: Int, queryPosition: Int?) -> EpisodePlan {
        let pool = pools[classIndex]
        var generator = SeededGenerator(seed: Self.episodeSeed(seed: seed, index: index))
        let query = queryPosition ?? generator.index(below: pool.count)
        var others = Array(pool.indices).filter { $0 != query }
        for k in 0..<shots {
            others.swapAt(k, k + generator.index(below: others.count - k))
        }
        return EpisodePlan(index: index, classIndex: classIndex, query: pool[query],
                           supports: others[0..<shots].map { pool[$0] })
    }
}
