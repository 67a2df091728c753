import Datasets
import Evaluation
import HSNetCore
import TensorCore

/// The prepared training episodes of a set of adaptation images, computed once and kept
/// under a memory budget.
///
/// Only the paths of the layers holding plug-ins change while the maskers train: the backbone
/// taps of each image, and for each (support, query) pair the correlations of the other
/// layers and their squeezed encodings, stay (with the paper's layer-4 maskers, those of
/// layers 3 and 2). They are cached here (taps per image path in a `BackboneFeatureCache`,
/// `MaskerEpisode` per pair), so a step runs only the plug-in layers' paths forward and backward. When the budget cannot hold
/// them all, the least recently used are dropped and recomputed on demand with the same
/// arithmetic, so results never depend on the budget.
public final class AdaptationEpisodes {
    public let model: HSNet
    public let images: [AdaptationImage]
    /// The backbone taps, by image path; may be shared with other users of the same pictures.
    public let backbone: BackboneFeatureCache
    private let pairCache: MemoryBoundedCache<AdaptationPair, MaskerEpisode>

    /// `backbone`: an existing tap cache to share (its model must be `model`); else one with
    /// three quarters of `budgetBytes` is made, the rest holds prepared pairs.
    public init(model: HSNet, images: [AdaptationImage], budgetBytes: Int, backbone: BackboneFeatureCache? = nil) {
        precondition(backbone == nil || backbone!.model === model, "the tap cache belongs to another model")
        self.model = model
        self.images = images
        self.backbone = backbone ?? BackboneFeatureCache(model: model, budgetBytes: budgetBytes / 4 * 3)
        pairCache = MemoryBoundedCache(budgetBytes: backbone == nil ? budgetBytes / 4 : budgetBytes)
    }

    /// The prepared episode of `pair`.
    public func episode(_ pair: AdaptationPair) throws -> MaskerEpisode {
        precondition(images.indices.contains(pair.support) && images.indices.contains(pair.query))
        if let episode = pairCache.lookUp(pair) { return episode }
        let (query, support) = (images[pair.query], images[pair.support])
        let paths = [query.imagePath, support.imagePath]
        let taps = backbone.taps(of: paths) { path in images.first { $0.imagePath == path }!.image }
        let episode: MaskerEpisode
        do {
            episode = try model.prepareMaskerEpisode(queryTaps: taps[0], supportTaps: taps[1],
                                                     supportMask: support.mask, queryMask: query.mask)
        } catch let error as InputError {
            throw InputError("pair \(support.imagePath) -> \(query.imagePath): \(error.message)")
        }
        pairCache.insert(episode, bytes: episode.byteCount, for: pair)
        return episode
    }

    /// How the pair cache fared: entries held, bytes held, hits, misses, evictions.
    public var cacheStatistics: (entries: Int, bytes: Int, hits: Int, misses: Int, evictions: Int) {
        (pairCache.count, pairCache.storedBytes, pairCache.hits, pairCache.misses, pairCache.evictions)
    }
}
