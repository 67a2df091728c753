import Foundation
import TensorCore

/// How a source-domain training run of the HPN learner goes (`cdfss train`). Everything that
/// decides the numbers is here, and a resumed run must bring the same (only `epochs` may grow).
public struct LearnerTrainingSettings: Codable, Equatable, Sendable {
    public var epochs = 10
    public var episodesPerEpoch = 1000
    /// Episodes per step: the loss is their mean (HSNet's batch).
    public var batch = 4
    public var learningRate = 1e-3
    public var algorithm: FineTuneSettings.Algorithm = .adam
    public var imageSize = 400
    /// Seeds the fresh learner and every training episode.
    public var seed: UInt64 = 0
    /// Validation episodes after each epoch (0 when there is no validation set).
    public var validationEpisodes = 200

    public static let maximumEpochs = 100_000
    public static let maximumEpisodesPerEpoch = 1_000_000
    public static let maximumBatch = 64
    public static let maximumValidationEpisodes = 1_000_000
    /// The validation episodes are drawn with this seed whatever `seed` is, so the curves of
    /// runs with different seeds are scored on the same episodes.
    public static let validationSeed: UInt64 = 0

    public init(epochs: Int = 10, episodesPerEpoch: Int = 1000, batch: Int = 4, learningRate: Double = 1e-3,
                algorithm: FineTuneSettings.Algorithm = .adam, imageSize: Int = 400, seed: UInt64 = 0,
                validationEpisodes: Int = 200) {
        self.epochs = epochs
        self.episodesPerEpoch = episodesPerEpoch
        self.batch = batch
        self.learningRate = learningRate
        self.algorithm = algorithm
        self.imageSize = imageSize
        self.seed = seed
        self.validationEpisodes = validationEpisodes
    }

    /// What files record: every setting but `epochs`, which a resumed run may raise (so the
    /// best checkpoint of epoch 3 is the same file whether the run was asked for 5 epochs
    /// or for 3 and then resumed to 5).
    enum CodingKeys: String, CodingKey {
        case episodesPerEpoch, batch, learningRate, algorithm, imageSize, seed, validationEpisodes
    }

    /// Steps per epoch: the last batch of an epoch takes what is left.
    public var stepsPerEpoch: Int { (episodesPerEpoch + batch - 1) / batch }
    public var totalSteps: Int { epochs * stepsPerEpoch }

    /// Every setting in range, each error naming its option.
    public func check() throws {
        guard (1...Self.maximumEpochs).contains(epochs) else {
            throw InputError("--epochs \(epochs): expected 1 to \(Self.maximumEpochs)")
        }
        guard (1...Self.maximumEpisodesPerEpoch).contains(episodesPerEpoch) else {
            throw InputError("--episodes-per-epoch \(episodesPerEpoch): expected 1 to \(Self.maximumEpisodesPerEpoch)")
        }
        guard (1...Self.maximumBatch).contains(batch) else {
            throw InputError("--batch \(batch): expected 1 to \(Self.maximumBatch)")
        }
        guard batch <= episodesPerEpoch else {
            throw InputError("--batch \(batch) is larger than --episodes-per-epoch \(episodesPerEpoch)")
        }
        guard learningRate.isFinite, learningRate > 0 else {
            throw InputError("--lr \(learningRate): expected a finite number > 0")
        }
        guard (0...Self.maximumValidationEpisodes).contains(validationEpisodes) else {
            throw InputError("--val-episodes \(validationEpisodes): expected 0 to \(Self.maximumValidationEpisodes)")
        }
    }

    /// The optimiser a fresh run starts with: torch's Adam or plain SGD, no weight decay
    /// (HSNet's training); the same construction as fine-tuning's.
    public func makeOptimizer() throws -> any Optimizer {
        try FineTuneSettings(algorithm: algorithm).makeOptimizer()
    }

    /// The optimiser continuing from a snapshot's state.
    public func restoreOptimizer(_ state: OptimizerState) throws -> any Optimizer {
        try FineTuneSettings(algorithm: algorithm).restoreOptimizer(state)
    }

    /// The settings but `epochs` as one line of JSON (sorted keys), for checkpoints' metadata.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    public init(json: String) throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            self = try decoder.decode(Self.self, from: Data(json.utf8))
        } catch {
            throw InputError("training settings in the snapshot are unreadable: \(error)")
        }
    }
}
