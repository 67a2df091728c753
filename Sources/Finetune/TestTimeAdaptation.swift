import FreqMask
import HSNetCore
import TensorCore

/// How the maskers adapt to the target domain during a benchmark run.
public enum TestTimeAdaptation: Equatable {
    /// The maskers are used as loaded.
    case none
    /// Before each episode, a fresh copy of the starting masker is fine-tuned on that
    /// episode's supports alone (every ordered support pair, so 1-shot trains on the support
    /// with itself), then predicts the query. The pair shuffles are seeded by the episode's
    /// own seed (`EpisodeSampler.episodeSeed`), so an episode adapts the same way in any shard.
    case episode(FineTuneSettings)
    /// The starting masker is fine-tuned once on `count` labelled images drawn from the target
    /// set (`DomainAdaptationSet`), which are then kept out of every episode.
    case domain(FineTuneSettings, count: Int)
}

/// The labelled images a domain adaptation trains on: drawn class by class in turn (image k
/// from class k mod C, uniformly among that class's images not yet drawn; a class with none
/// left passes its turn), so every class is represented as evenly as `count` allows. Pairs
/// are formed within a class only: a support shows what its class looks like, and a query of
/// another class would be scored against the wrong object.
public struct DomainAdaptationSet: Equatable {
    /// How many pictures a domain adaptation takes when the user does not say: the paper's
    /// few-shot budget of up to five labelled target pictures.
    public static let defaultCount = 5

    public let samples: [LabelledImage]
    public let classIndices: [Int]

    public static func draw(from dataset: TargetDataset, count: Int, seed: UInt64) throws -> DomainAdaptationSet {
        guard count >= 1 else { throw InputError("--adapt-count \(count): expected at least 1 image") }
        let total = dataset.classes.reduce(0) { $0 + $1.samples.count }
        guard count < total else {
            throw InputError("--adapt-count \(count): the \(dataset.kind.rawValue) set at \(dataset.root.path) has \(total) images, and episodes need some left")
        }
        // A stream of its own, apart from the episodes' (which derive from the seed by index).
        var generator = SeededGenerator(seed: seed ^ 0xD0_4A1D_A97A_7E5E)
        var remaining = dataset.classes.map(\.samples)
        var samples: [LabelledImage] = []
        var classes: [Int] = []
        var turn = 0
        while samples.count < count {
            let classIndex = turn % remaining.count
            turn += 1
            guard !remaining[classIndex].isEmpty else { continue }
            let pick = generator.index(below: remaining[classIndex].count)
            samples.append(remaining[classIndex].remove(at: pick))
            classes.append(classIndex)
        }
        return DomainAdaptationSet(samples: samples, classIndices: classes)
    }

    /// Every ordered pair of images of the same class, an image with itself included.
    public var pairs: [AdaptationPair] {
        samples.indices.flatMap { support in
            samples.indices.filter { classIndices[$0] == classIndices[support] }
                .map { AdaptationPair(support: support, query: $0) }
        }
    }
}

extension BenchmarkEvaluator {
    /// Fine-tunes the installed maskers on the domain-adaptation images (within-class pairs),
    /// sharing the evaluator's tap cache; `progress` sees each step's number and loss.
    public func adaptToDomain(_ set: DomainAdaptationSet, settings: FineTuneSettings, pairCacheBytes: Int,
                              progress: (Int, Float) -> Void = { _, _ in }) throws -> MaskerFineTuning {
        let images = try set.samples.map { try adaptationImage($0) }
        let run = try MaskerFineTuning(model: model, images: images, settings: settings, cacheBytes: pairCacheBytes,
                                       onlyPairs: set.pairs, backbone: backbone)
        while run.completedSteps < settings.steps {
            let loss = try run.step()
            progress(run.completedSteps, loss)
        }
        return run
    }

    /// Installs a fresh copy of `start` and fine-tunes it on the supports of `plan`. Returns
    /// false (and leaves the fresh copy untrained) when every support mask is empty.
    @discardableResult
    public func adaptToEpisode(_ plan: EpisodePlan, start: MaskerState, settings: FineTuneSettings, runSeed: UInt64,
                               pairCacheBytes: Int) throws -> Bool {
        let copy = try MaskerState(stateDict: start.stateDict)
        try model.installFrequencyMaskers(amplitudePhase: copy.amplitudePhase, channelAttention: copy.channelAttention,
                                          imageSize: imageSize)
        let images = try plan.supports.map { try adaptationImage($0) }
        guard images.contains(where: { !$0.hasEmptyMask }) else { return false }
        var episodeSettings = settings
        episodeSettings.seed = EpisodeSampler.episodeSeed(seed: runSeed, index: plan.index)
        let run = try MaskerFineTuning(model: model, images: images, settings: episodeSettings, cacheBytes: pairCacheBytes,
                                       backbone: backbone)
        while run.completedSteps < settings.steps { try run.step() }
        return true
    }
}
