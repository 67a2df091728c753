import Datasets
import HSNetCore
import TensorCore

/// The backbone taps of pictures, keyed by a name (their path), computed once and kept under a
/// memory budget. The backbone is frozen in fine-tuning and in evaluation, so a picture that
/// recurs (in several training pairs, in several test episodes) needs one backbone pass.
/// Evicted taps are recomputed with the same arithmetic, so results never depend on the budget.
public final class BackboneFeatureCache {
    public let model: HSNet
    private let cache: MemoryBoundedCache<String, [Tensor]>

    public init(model: HSNet, budgetBytes: Int) {
        self.model = model
        cache = MemoryBoundedCache(budgetBytes: budgetBytes)
    }

    /// The 13 taps of each picture (`HSNet.features(of:)`); `image` gives the network input of
    /// a name and is called only for pictures not cached. The missing pictures are computed
    /// two at a time, one per core.
    public func taps(of names: [String], image: (String) throws -> Tensor) rethrows -> [[Tensor]] {
        var found: [String: [Tensor]] = [:]
        for name in Set(names) {
            if let taps = cache.lookUp(name) { found[name] = taps }
        }
        let missing = Array(Set(names).subtracting(found.keys)).sorted()
        for start in stride(from: 0, to: missing.count, by: 2) {
            let batch = Array(missing[start..<min(start + 2, missing.count)])
            for (name, taps) in zip(batch, model.features(of: try batch.map(image))) {
                found[name] = taps
                cache.insert(taps, bytes: taps.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }, for: name)
            }
        }
        return names.map { found[$0]! }
    }

    /// How the cache fared: entries held, bytes held, hits, misses, evictions.
    public var statistics: (entries: Int, bytes: Int, hits: Int, misses: Int, evictions: Int) {
        (cache.count, cache.storedBytes, cache.hits, cache.misses, cache.evictions)
    }
}
