import Datasets
import Evaluation
import Foundation
import TensorCore

/// Everything that decides a fine-tuning run's arithmetic besides the model, the starting
/// masker and the images: a resumed run must use the same settings (only `steps` may grow,
/// and only with a constant learning rate).
public struct FineTuneSettings: Equatable, Sendable {
    public enum Algorithm: String, CaseIterable, Codable, Sendable {
        case adam
        case sgd
    }

    public var steps: Int
    public var learningRate: Double
    public var algorithm: Algorithm
    /// SGD's momentum (Adam keeps torch's betas 0.9 / 0.999 and eps 1e-8).
    public var momentum: Double
    public var weightDecay: Double
    /// `constant` or `cosine`.
    public var schedule: String
    /// Pairs per step; the loss is their mean.
    public var batch: Int
    public var seed: UInt64
    /// The side of the square network input.
    public var imageSize: Int

    public init(steps: Int = FineTuneSettings.defaultSteps, learningRate: Double = 1e-3, algorithm: Algorithm = .adam, momentum: Double = 0,
                weightDecay: Double = 0, schedule: String = "constant", batch: Int = 1, seed: UInt64 = 0,
                imageSize: Int = 400) {
        self.steps = steps
        self.learningRate = learningRate
        self.algorithm = algorithm
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.schedule = schedule
        self.batch = batch
        self.seed = seed
        self.imageSize = imageSize
    }

    /// The steps of fine-tuning when none are given, for `finetune` and test-time adaptation
    /// alike: on one to five pictures the loss has levelled off by then.
    public static let defaultSteps = 50
    /// At most a million steps (a day at a tenth of a second each); the loss curve of every
    /// step goes into the masker file's metadata.
    public static let maximumSteps = 1_000_000
    /// At most 1024 pairs per step, so that a step's position in the pair stream
    /// (step x batch) stays far from overflowing.
    public static let maximumBatch = 1_024

    /// Checks the values and builds the schedule (errors name the command-line option).
    public func learningRateSchedule() throws -> LearningRateSchedule {
        guard steps >= 1 else { throw InputError("--steps \(steps): expected at least 1") }
        guard steps <= Self.maximumSteps else { throw InputError("--steps \(steps): at most \(Self.maximumSteps)") }
        guard batch >= 1 else { throw InputError("--batch \(batch): expected at least 1") }
        guard batch <= Self.maximumBatch else { throw InputError("--batch \(batch): at most \(Self.maximumBatch) pairs per step") }
        guard learningRate.isFinite, learningRate > 0 else { throw InputError("--lr \(learningRate): expected a finite value > 0") }
        return try LearningRateSchedule(name: schedule, base: learningRate, totalSteps: steps)
    }

    /// A fresh optimiser with these hyperparameters.
    public func makeOptimizer() throws -> any Optimizer {
        switch algorithm {
        case .adam:
            guard momentum == 0 else { throw InputError("--momentum \(momentum) applies to --optimizer sgd only (Adam uses betas 0.9 / 0.999)") }
            return try Adam(weightDecay: weightDecay)
        case .sgd:
            return try SGD(momentum: momentum, weightDecay: weightDecay)
        }
    }

    /// The optimiser continuing from a saved state, which must be this algorithm's with these
    /// hyperparameters.
    public func restoreOptimizer(_ state: OptimizerState) throws -> any Optimizer {
        let fresh = try makeOptimizer().state
        guard state.algorithm == fresh.algorithm else {
            throw InputError("the saved optimizer is \(state.algorithm), this run asks for \(fresh.algorithm)")
        }
        for (name, value) in fresh.hyperparameters.sorted(by: { $0.key < $1.key }) where state.hyperparameters[name] != value {
            throw InputError("the saved optimizer has \(name) \(state.hyperparameters[name].map { "\($0)" } ?? "unset"), this run asks for \(value)")
        }
        switch algorithm {
        case .adam: return try Adam(state: state)
        case .sgd: return try SGD(state: state)
        }
    }

    /// The settings as masker-file metadata (`training.*`), each value in a form that reads
    /// back exactly.
    public var metadata: [String: String] {
        ["training.total_steps": String(steps), "training.lr": "\(learningRate)", "training.optimizer": algorithm.rawValue,
         "training.momentum": "\(momentum)", "training.weight_decay": "\(weightDecay)", "training.schedule": schedule,
         "training.batch": String(batch), "training.seed": String(seed), "training.image_size": String(imageSize)]
    }

    /// Reads settings back from `metadata` (a masker file written by fine-tuning).
    public init(metadata: [String: String], source: String) throws {
        func value<T>(_ key: String, _ parse: (String) -> T?) throws -> T {
            guard let text = metadata["training." + key], let parsed = parse(text) else {
                throw InputError("\(source): metadata training.\(key) is \(metadata["training." + key].map { "\"\($0)\"" } ?? "missing"); is this a masker file written by cdfss finetune?")
            }
            return parsed
        }
        self.init(steps: try value("total_steps") { Int($0) }, learningRate: try value("lr") { Double($0) },
                  algorithm: try value("optimizer") { Algorithm(rawValue: $0) }, momentum: try value("momentum") { Double($0) },
                  weightDecay: try value("weight_decay") { Double($0) }, schedule: try value("schedule") { $0 },
                  batch: try value("batch") { Int($0) }, seed: try value("seed") { UInt64($0) },
                  imageSize: try value("image_size") { Int($0) })
    }

    /// Why a run with these settings cannot continue one made with `saved`, or nil when it can:
    /// everything must agree except the step count, which may grow when the rate is constant
    /// (a cosine schedule's rates depend on the total).
    public func resumeConflict(with saved: FineTuneSettings) -> String? {
        let pairs: [(String, String, String)] = [
            ("--lr", "\(saved.learningRate)", "\(learningRate)"), ("--optimizer", saved.algorithm.rawValue, algorithm.rawValue),
            ("--momentum", "\(saved.momentum)", "\(momentum)"), ("--weight-decay", "\(saved.weightDecay)", "\(weightDecay)"),
            ("--schedule", saved.schedule, schedule), ("--batch", String(saved.batch), String(batch)),
            ("--seed", String(saved.seed), String(seed)), ("--image-size", String(saved.imageSize), String(imageSize)),
        ]
        if let (option, old, new) = pairs.first(where: { $0.1 != $0.2 }) {
            return "it was trained with \(option) \(old), this run asks for \(new)"
        }
        if steps != saved.steps && schedule != "constant" {
            return "it was trained for --steps \(saved.steps) with a \(schedule) schedule, whose rates depend on the total; this run asks for \(steps)"
        }
        return nil
    }
}
