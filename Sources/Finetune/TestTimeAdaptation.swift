import Datasets
import Evaluation
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

extension DomainAdaptationSet {
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
    /// sharing the evaluator's tap cache; `progress` sees the run after each step.
    public func adaptToDomain(_ set: DomainAdaptationSet, settings: FineTuneSettings, pairCacheBytes: Int,
                              progress: (MaskerFineTuning) -> Void = { _ in }) throws -> MaskerFineTuning {
        let images = try set.samples.map { try adaptationImage($0) }
        let run = try MaskerFineTuning(model: model, images: images, settings: settings, cacheBytes: pairCacheBytes,
                                       onlyPairs: set.pairs, backbone: backbone)
        while run.completedSteps < settings.steps {
            try run.step()
            progress(run)
        }
        return run
    }

    /// Installs a fresh copy of `start` and fine-tunes it on the supports of `plan`. Returns
    /// the run (its loss curve), or nil (leaving the fresh copy untrained) when every support
    /// mask is empty.
    @discardableResult
    public func adaptToEpisode(_ plan: EpisodePlan, start: MaskerState, settings: FineTuneSettings, runSeed: UInt64,
                               pairCacheBytes: Int) throws -> MaskerFineTuning? {
        // Every layer's maskers at their layer: the adaptation trains them wherever they sit.
        try model.installFrequencyMaskers(try MaskerState(stateDict: start.stateDict), imageSize: imageSize)
        let images = try plan.supports.map { try adaptationImage($0) }
        guard images.contains(where: { !$0.hasEmptyMask }) else { return nil }
        var episodeSettings = settings
        episodeSettings.seed = EpisodeSampler.episodeSeed(seed: runSeed, index: plan.index)
        let run = try MaskerFineTuning(model: model, images: images, settings: episodeSettings, cacheBytes: pairCacheBytes,
                                       backbone: backbone)
        while run.completedSteps < settings.steps { try run.step() }
        return run
    }
}
