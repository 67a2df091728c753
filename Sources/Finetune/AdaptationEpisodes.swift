import HSNetCore
import TensorCore

/// The prepared training episodes of a set of adaptation images, computed once and kept
/// under a memory budget.
///
/// Nothing before the layer-4 plug-ins changes while the maskers train: the backbone taps of
/// each image, and for each (support, query) pair the layer-3 and layer-2 correlations and
/// their squeezed encodings. They are cached here (taps per image, `MaskerEpisode` per pair),
/// so a step runs only the layer-4 path forward and backward. When the budget cannot hold
/// them all, the least recently used are dropped and recomputed on demand with the same
/// arithmetic, so results never depend on the budget.
public final class AdaptationEpisodes {
    public let model: HSNet
    public let images: [AdaptationImage]
    private let cache: MemoryBoundedCache<Key, Entry>

    private enum Key: Hashable {
        case taps(Int)
        case pair(AdaptationPair)
    }

    private enum Entry {
        case taps([Tensor])
        case episode(MaskerEpisode)

        var bytes: Int {
            switch self {
            case .taps(let taps): return taps.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }
            case .episode(let episode): return episode.byteCount
            }
        }
    }

    public init(model: HSNet, images: [AdaptationImage], budgetBytes: Int) {
        self.model = model
        self.images = images
        cache = MemoryBoundedCache(budgetBytes: budgetBytes)
    }

    /// The prepared episode of `pair`.
    public func episode(_ pair: AdaptationPair) throws -> MaskerEpisode {
        precondition(images.indices.contains(pair.support) && images.indices.contains(pair.query))
        if case .episode(let episode)? = cache.lookUp(.pair(pair)) { return episode }
        let taps = self.taps(of: [pair.query, pair.support])
        let (query, support) = (images[pair.query], images[pair.support])
        let episode: MaskerEpisode
        do {
            episode = try model.prepareMaskerEpisode(queryTaps: taps[0], supportTaps: taps[1],
                                                     supportMask: support.mask, queryMask: query.mask)
        } catch let error as InputError {
            throw InputError("pair \(support.imagePath) -> \(query.imagePath): \(error.message)")
        }
        let entry = Entry.episode(episode)
        cache.insert(entry, bytes: entry.bytes, for: .pair(pair))
        return episode
    }

    /// The backbone taps of the images at `indices` (repeats allowed); the missing ones are
    /// computed side by side (`HSNet.features(of:)` runs two images on two cores).
    func taps(of indices: [Int]) -> [[Tensor]] {
        var found: [Int: [Tensor]] = [:]
        for index in Set(indices) {
            if case .taps(let taps)? = cache.lookUp(.taps(index)) { found[index] = taps }
        }
        let missing = Array(Set(indices).subtracting(found.keys)).sorted()
        if !missing.isEmpty {
            for (index, taps) in zip(missing, model.features(of: missing.map { images[$0].image })) {
                found[index] = taps
                let entry = Entry.taps(taps)
                cache.insert(entry, bytes: entry.bytes, for: .taps(index))
            }
        }
        return indices.map { found[$0]! }
    }

    /// How the cache fared: entries held, bytes held, hits, misses, evictions.
    public var cacheStatistics: (entries: Int, bytes: Int, hits: Int, misses: Int, evictions: Int) {
        (cache.count, cache.storedBytes, cache.hits, cache.misses, cache.evictions)
    }
}
