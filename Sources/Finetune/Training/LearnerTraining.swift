import Datasets
import Evaluation
import Foundation
import HSNetCore
import Imaging
import TensorCore

/// Source-domain training of HSNet's learner (HSNet's and PATNet's `train.py`): the backbone
/// frozen, the HPN learner (and PATNet's reference weights) trained on batches of 1-shot
/// episodes with the mean two-class cross-entropy, validated after every epoch. PATNet's
/// pyramids depend on its reference weights, so they are formed at every step, never kept.
///
/// Speed comes from what does not change: the backbone is frozen, so each picture's taps are
/// computed once and kept (`BackboneFeatureCache`), and the three correlation pyramids of an
/// episode that recurs are kept too; a step is the learner's forward and backward. Both caches
/// share the memory budget and only ever recompute: the numbers never depend on the budget.
///
/// A run is a pure function of its settings, sets and starting learner: episodes come from
/// seeds (`TrainingEpisodes`), gradients are summed in episode order, and `snapshot` holds all
/// the state there is, so a resumed run is the uninterrupted one, bit for bit.
public final class LearnerTraining {
    public let model: HSNet
    public let settings: LearnerTrainingSettings
    public let training: TrainingEpisodes
    public let validation: TrainingEpisodes?
    public private(set) var optimizer: any Optimizer
    /// Steps taken over the whole run (the optimiser's count).
    public var completedSteps: Int { optimizer.stepCount }
    /// The best validation mIoU so far and the epoch (1-based) that reached it.
    public private(set) var best: (miou: Double, epoch: Int)?

    private var parameters: [String: Tensor]
    private let taps: BackboneFeatureCache
    private let pyramids: MemoryBoundedCache<TrainingEpisode, [Tensor]>
    /// Pictures whose label was found to have the picture's size (checked once per picture,
    /// not at every step that meets it).
    private var checkedSizes = Set<String>()

    /// `resuming`: the snapshot of an interrupted run with these settings. `keepingPyramids`
    /// false gives the whole budget to the taps (benchmarks time the pyramids every step).
    public init(model: HSNet, training: TrainingSet, validation: TrainingSet?, settings: LearnerTrainingSettings,
                cacheBytes: Int, resuming snapshot: LearnerTrainingSnapshot? = nil, keepingPyramids: Bool = true) throws {
        try settings.check()
        try model.checkImageSize(settings.imageSize)
        if let slot = model.plugins.occupied.first?.slot {
            throw InputError("plug-in slot \(slot.name): the learner is trained without plug-ins (HSNet's source-domain training)")
        }
        self.model = model
        self.settings = settings
        self.training = try TrainingEpisodes(training, role: "training")
        self.validation = try validation.map { try TrainingEpisodes($0, role: "validation") }
        let pyramidBytes = keepingPyramids ? cacheBytes / 4 : 0
        taps = BackboneFeatureCache(model: model, budgetBytes: cacheBytes - pyramidBytes)
        pyramids = MemoryBoundedCache(budgetBytes: pyramidBytes)
        if let snapshot {
            optimizer = try snapshot.optimizer()
            best = snapshot.best
            model.learner = try HPNLearner(stateDict: snapshot.learner.filter { $0.name.hasPrefix(HSNet.learnerPrefix) },
                                           prefix: HSNet.learnerPrefix, backbone: model.backbone.kind, source: "the run's snapshot")
            if model.prototypeTransformation != nil {
                try Self.setReferences(of: model, from: Dictionary(uniqueKeysWithValues: snapshot.learner.map { ($0.name, $0.tensor) }))
            }
        } else {
            optimizer = try settings.makeOptimizer()
        }
        parameters = Dictionary(uniqueKeysWithValues: model.learner.namedParameters.map { (HSNet.learnerPrefix + $0.name, $0.tensor) })
        for (name, tensor) in model.prototypeTransformation?.namedParameters ?? [] { parameters[name] = tensor }
    }

    /// PATNet's reference weights from trained parameters (`reference_layerN.weight`).
    static func setReferences(of model: HSNet, from parameters: [String: Tensor]) throws {
        var references: [Int: Tensor] = [:]
        for layer in 2...4 {
            let name = PrototypeTransformation.parameterName(layer: layer)
            guard let weight = parameters[name] else { throw InputError("the run's PATNet parameters lack \(name)") }
            references[layer] = weight
        }
        try model.prototypeTransformation?.setReferences(references)
    }

    /// The epoch (0-based) and the position in it of the next step.
    public var position: (epoch: Int, step: Int) {
        (completedSteps / settings.stepsPerEpoch, completedSteps % settings.stepsPerEpoch)
    }

    public var isFinished: Bool { completedSteps >= settings.totalSteps }

    /// The episodes of the next step.
    public var nextEpisodes: [TrainingEpisode] {
        let (epoch, step) = position
        let first = step * settings.batch
        let last = min(first + settings.batch, settings.episodesPerEpoch)
        return (first..<last).map { training.training(seed: settings.seed, epoch: epoch, index: $0) }
    }

    /// One optimiser step on the next batch; returns the batch's mean loss.
    public func step() throws -> Float {
        let episodes = nextEpisodes
        var total: [String: Tensor] = [:]
        var lossSum = 0.0
        for episode in episodes {
            // HSNet's loss sees PASCAL's boundary as background, as the foreground masks have it.
            let query = try preparedMask(episode.query, in: training.dataset).foreground
            let support = try preparedMask(episode.support, in: training.dataset).foreground
            let (loss, gradients): (Float, [String: Tensor])
            if model.prototypeTransformation != nil {
                let (queryTaps, supportTaps) = try tapsOf(episode, in: training.dataset)
                (loss, gradients) = try model.patnetLossAndGradients(queryTaps: queryTaps, supportTaps: supportTaps,
                                                                     supportMask: support, queryMask: query)
            } else {
                (loss, gradients) = try model.learnerLossAndGradients(pyramids: try pyramids(episode, supportMask: support),
                                                                      queryMasks: query)
            }
            guard loss.isFinite else {
                throw InputError("step \(completedSteps + 1): the loss is \(loss) on the episode of \(episode.query.image) with support \(episode.support.image); lower --lr")
            }
            lossSum += Double(loss)
            for (name, gradient) in gradients {
                if total[name] == nil { total[name] = gradient } else { total[name]!.addScaled(gradient) }
            }
        }
        // The batch's loss is the mean of its episodes' (all have the same pixel count).
        let scale = 1 / Float(episodes.count)
        for name in total.keys where scale != 1 { total[name] = total[name]! * scale }
        try optimizer.step(&parameters, gradients: total, learningRate: settings.learningRate)
        model.learner = try HPNLearner(stateDict: parameters.filter { $0.key.hasPrefix(HSNet.learnerPrefix) }.map { ($0.key, $0.value) },
                                       prefix: HSNet.learnerPrefix, backbone: model.backbone.kind, source: "the trained learner")
        if model.prototypeTransformation != nil { try Self.setReferences(of: model, from: parameters) }
        return Float(lossSum / Double(episodes.count))
    }

    /// The learner's parameters under their checkpoint names (`hpn_learner.*`, and PATNet's
    /// `reference_layerN.weight`).
    public var learnerParameters: [String: Tensor] { parameters }

    /// Records a validation result for the epoch that just ended; true when it is the best so far.
    public func record(validationMIoU miou: Double, epoch: Int) -> Bool {
        guard best.map({ miou > $0.miou }) ?? true else { return false }
        best = (miou, epoch)
        return true
    }

    // MARK: Validation

    /// mIoU and FB-IoU (percent) of the current learner on the validation episodes, PASCAL's
    /// boundary pixels left out as HSNet's evaluator leaves them out. `progress` sees each
    /// episode's number.
    public func validate(progress: (Int) -> Void = { _ in }) throws -> SegmentationScore {
        guard let validation else { return SegmentationScore() }
        var score = SegmentationScore()
        let size = settings.imageSize
        for index in 0..<settings.validationEpisodes {
            let episode = validation.validation(index: index)
            let (queryTaps, supportTaps) = try tapsOf(episode, in: validation.dataset)
            let support = try preparedMask(episode.support, in: validation.dataset)
            let query = try preparedMask(episode.query, in: validation.dataset)
            let features = try model.shotFeatures(query: queryTaps, supportTaps: supportTaps, mask: support.foreground)
            let logits = try model.logits(queryTaps: features.query, supportTaps: features.support, height: size, width: size)
            let prediction = try ShotVote.mask(logits)
            var predicted = prediction.scalars, truth = query.foreground.scalars
            if let ignored = query.ignored?.scalars {
                let kept = ignored.indices.filter { ignored[$0] == 0 }
                predicted = kept.map { predicted[$0] }
                truth = kept.map { truth[$0] }
            }
            score.add(try EpisodeCounts(predicted: predicted, truth: truth), classIndex: episode.classIndex)
            progress(index + 1)
        }
        return score
    }

    // MARK: Pictures, taps and pyramids

    private func tapsOf(_ episode: TrainingEpisode, in set: TrainingSet) throws -> (query: [Tensor], support: [Tensor]) {
        let names = [set.url(episode.query.image).path, set.url(episode.support.image).path]
        let size = settings.imageSize
        // One picture at a time: a pair of missing pictures would go through the backbone side
        // by side (each pass on one thread) and a single one with its work split over the
        // cores, and the two need not round alike. Which pictures are cached depends on the
        // run's history, so a resumed run must meet the same arithmetic whatever its cache holds.
        let found = try names.map { name in
            try taps.taps(of: [name]) { path in
                imageTensor(try RGBImage(contentsOf: URL(fileURLWithPath: path)), size: size)
            }[0]
        }
        return (found[0], found[1])
    }

    /// A sample's foreground [S, S] and ignored pixels [S, S] (0/1) at the network size S,
    /// resized with torch's nearest rule as HSNet resizes its label maps.
    private func preparedMask(_ sample: TrainingSample, in set: TrainingSet) throws -> (foreground: Tensor, ignored: Tensor?) {
        let (foreground, ignored) = try set.masks(sample)
        let key = set.url(sample.image).path + "\u{0}" + sample.label
        if !checkedSizes.contains(key) {
            let image = try RGBImage(contentsOf: set.url(sample.image))
            guard image.width == foreground.width, image.height == foreground.height else {
                throw InputError("\(set.url(sample.label).path): the label is \(foreground.width) x \(foreground.height) but its picture \(sample.image) is \(image.width) x \(image.height)")
            }
            checkedSizes.insert(key)
        }
        let size = settings.imageSize
        func plane(_ mask: GrayImage) -> Tensor {
            let resized = resizeNearestTorch(mask, width: size, height: size)
            return Tensor(shape: [size, size], scalars: resized.pixels.map { Float($0) })
        }
        return (plane(foreground), ignored.map(plane))
    }

    private func pyramids(_ episode: TrainingEpisode, supportMask: Tensor) throws -> [Tensor] {
        if let kept = pyramids.lookUp(episode) { return kept }
        let (queryTaps, supportTaps) = try tapsOf(episode, in: training.dataset)
        let computed = try model.trainingPyramids(queryTaps: queryTaps, supportTaps: supportTaps, supportMask: supportMask)
        pyramids.insert(computed, bytes: computed.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }, for: episode)
        return computed
    }

    /// How the caches fared: (entries, bytes, hits, misses) of the taps and of the pyramids.
    public var cacheStatistics: String {
        let t = taps.statistics
        return "taps \(t.entries) pictures, \(t.bytes >> 20) MiB, \(t.hits) hits / \(t.misses) misses; pyramids \(pyramids.count) episodes, \(pyramids.storedBytes >> 20) MiB, \(pyramids.hits) hits / \(pyramids.misses) misses"
    }
}
