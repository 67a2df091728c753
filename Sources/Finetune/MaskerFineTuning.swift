import Datasets
import Evaluation
import Foundation
import HSNetCore
import TensorCore

/// Target-domain fine-tuning of the maskers installed in an HSNet's slots, on whichever layers
/// they sit: every other weight stays frozen, and everything that does not depend on the
/// maskers comes from `AdaptationEpisodes`' cache, so a step costs the paths of the layers
/// holding maskers, forward and backward, per pair (the layer-4 path alone in the paper's
/// configuration).
///
/// Step k trains on `PairSchedule.pairs(forStep: k)`: the loss is the mean of the pairs'
/// cross-entropies, the gradient the mean of their gradients, and the optimiser updates with
/// the schedule's rate for step k. k is the optimiser's step count, so a run restored from a
/// saved masker and optimiser state continues exactly as an uninterrupted one would.
public final class MaskerFineTuning {
    public let model: HSNet
    public let settings: FineTuneSettings
    public let episodes: AdaptationEpisodes
    /// The pairs trained on, and those left out because their support mask is empty.
    public let pairs: [AdaptationPair]
    public let skippedPairs: [AdaptationPair]
    public private(set) var optimizer: any Optimizer
    /// The loss of every step taken so far (before that step's update), resumed steps included.
    public private(set) var lossCurve: [Float]
    private let schedule: PairSchedule
    private let rates: LearningRateSchedule

    /// Sets up a run on `images` with the maskers installed in `model` as the starting point.
    /// `resuming` continues a saved run: its optimiser state and loss curve (one loss per step
    /// the optimiser has taken). `onlyPairs` trains on those pairs instead of every ordered
    /// pair (pairs with an empty support mask are still skipped). `backbone` shares a cache of
    /// backbone taps with other runs on the same pictures (keyed by image path).
    public init(model: HSNet, images: [AdaptationImage], settings: FineTuneSettings, cacheBytes: Int,
                resuming: (optimizer: OptimizerState, lossCurve: [Float])? = nil,
                onlyPairs: [AdaptationPair]? = nil, backbone: BackboneFeatureCache? = nil) throws {
        guard !images.isEmpty else { throw InputError("no adaptation image given (one or more are needed)") }
        if let wrong = images.first(where: { $0.image.shape != [1, 3, settings.imageSize, settings.imageSize] }) {
            throw InputError("\(wrong.imagePath) was prepared at \(wrong.image.shapeDescription), the run's image size is \(settings.imageSize)")
        }
        let start = try model.maskerParameters()
        guard !start.isEmpty else {
            throw InputError("no masker to fine-tune: the model has no plug-in parameters in its slots")
        }
        if let name = start.keys.sorted().first(where: { !start[$0]!.isFinite }) {
            throw InputError("the starting masker's \(name) holds \(start[name]!.scalars[start[name]!.firstNonFiniteIndex()!]) at flat index \(start[name]!.firstNonFiniteIndex()!)")
        }
        if let bad = images.first(where: { !$0.image.isFinite }) {
            throw InputError("\(bad.imagePath): the prepared image holds a non-finite value")
        }
        rates = try settings.learningRateSchedule()
        let emptySupports = Set(images.indices.filter { images[$0].hasEmptyMask })
        if let onlyPairs {
            if let outside = onlyPairs.first(where: { !images.indices.contains($0.support) || !images.indices.contains($0.query) }) {
                throw InputError("pair \(outside) names an image beyond the \(images.count) given")
            }
            pairs = onlyPairs.filter { !emptySupports.contains($0.support) }
            skippedPairs = onlyPairs.filter { emptySupports.contains($0.support) }
        } else {
            (pairs, skippedPairs) = AdaptationPair.all(imageCount: images.count, unusableSupports: emptySupports)
        }
        guard !pairs.isEmpty else {
            throw InputError("every adaptation mask is empty at \(settings.imageSize) x \(settings.imageSize) (\(images.map(\.maskPath).joined(separator: ", "))): no image can serve as a support")
        }
        schedule = try PairSchedule(pairs: pairs, batch: settings.batch, seed: settings.seed)
        if let resuming {
            optimizer = try settings.restoreOptimizer(resuming.optimizer)
            guard resuming.lossCurve.count == optimizer.stepCount else {
                throw InputError("the saved run has \(resuming.lossCurve.count) losses for \(optimizer.stepCount) optimizer steps")
            }
            lossCurve = resuming.lossCurve
        } else {
            optimizer = try settings.makeOptimizer()
            lossCurve = []
        }
        self.model = model
        self.settings = settings
        episodes = AdaptationEpisodes(model: model, images: images, budgetBytes: cacheBytes, backbone: backbone)
    }

    public var completedSteps: Int { optimizer.stepCount }

    /// Steps in one pass over the pairs (`batch` pairs a step). One step's loss belongs to the
    /// pairs it drew and cycles with them; the loss is read as its running mean over this many
    /// steps (`RunningMean`), which covers every pair about once (exactly once when the window
    /// ends where a pass of the schedule ends).
    public var stepsPerPass: Int { (pairs.count + settings.batch - 1) / settings.batch }

    /// The mean loss of the last `stepsPerPass` steps (of all steps while there are fewer);
    /// nil before the first step.
    public var runningMeanLoss: Double? { RunningMean.last(lossCurve, window: stepsPerPass) }

    /// The pairs the next step trains on.
    public var nextPairs: [AdaptationPair] { schedule.pairs(forStep: completedSteps) }

    /// One step: the mean loss and gradient of the step's pairs, then the optimiser's update.
    /// Returns the loss (before the update). A non-finite loss or gradient throws
    /// `NonFiniteLoss` and leaves the maskers and the optimiser as they were.
    @discardableResult
    public func step() throws -> Float {
        let step = completedSteps
        let batch = schedule.pairs(forStep: step)
        var total = 0.0
        var gradients: [String: Tensor] = [:]
        for pair in batch {
            let (loss, pairGradients) = try model.maskerLossAndGradients(episodes.episode(pair))
            guard loss.isFinite else { throw NonFiniteLoss(step: step, pair: pair, images: episodes.images, what: "loss \(loss)") }
            total += Double(loss)
            for (name, gradient) in pairGradients {
                if gradients[name] == nil { gradients[name] = gradient } else { gradients[name]!.addScaled(gradient) }
            }
        }
        if batch.count > 1 {
            let scale = 1 / Float(batch.count)
            for name in gradients.keys { gradients[name] = gradients[name]! * scale }
        }
        if let name = gradients.keys.sorted().first(where: { !gradients[$0]!.isFinite }) {
            throw NonFiniteLoss(step: step, pair: nil, images: episodes.images, what: "gradient of \(name)")
        }
        // An update can still overflow (a huge learning rate): then the step is undone.
        let (parametersBefore, optimizerBefore) = (try model.maskerParameters(), optimizer)
        let rate = rates.rate(atStep: step)
        try model.applyMaskerStep(&optimizer, gradients: gradients, learningRate: rate)
        let updated = try model.maskerParameters()
        if let name = updated.keys.sorted().first(where: { !updated[$0]!.isFinite }) {
            optimizer = optimizerBefore
            try model.setMaskerParameters(parametersBefore)
            throw NonFiniteLoss(step: step, pair: nil, images: episodes.images,
                                what: "the update with learning rate \(rate) made \(name) non-finite")
        }
        let loss = Float(total / Double(batch.count))
        lossCurve.append(loss)
        return loss
    }
}

/// A step whose loss or gradient is NaN or infinite: the run stops and keeps the maskers of
/// the last good step.
public struct NonFiniteLoss: Error, CustomStringConvertible {
    public let step: Int
    public let message: String

    init(step: Int, pair: AdaptationPair?, images: [AdaptationImage], what: String) {
        self.step = step
        let place = pair.map { " on support \(images[$0.support].imagePath) -> query \(images[$0.query].imagePath)" } ?? ""
        message = "step \(step + 1): \(what)\(place); the run stopped and kept the maskers of step \(step)"
    }

    public var description: String { message }
}
