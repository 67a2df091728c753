import Datasets
/// How an evaluation was run: everything needed to reproduce it and to tell two reports
/// apart. It is the `"config"` object of a report (keys in snake_case, every key always
/// written, `null` where it does not apply).
///
/// Shard reports of one run have equal configs except for `shard`; `ReportMerge` relies on it.
public struct EvaluationConfig: Codable, Equatable, Sendable {
    /// The `cdfss --version` that wrote the report.
    public var cdfssVersion: String
    public var checkpoint: String
    /// Lowercase hex SHA-256 of the checkpoint file (`SHA256Digest.hex(ofFile:)`).
    public var checkpointSHA256: String
    /// The separate ResNet-50 weights, when the checkpoint has no backbone.
    public var backboneWeights: String?
    public var backboneWeightsSHA256: String?
    /// Where the frequency maskers came from: `"none"`, `"checkpoint"` (the checkpoint's own
    /// apm.* / acpa.* entries) or the path of a masker file.
    public var masker: String
    /// The masker file's SHA-256, when `masker` is a path.
    public var maskerSHA256: String?
    public var benchmark: BenchmarkKind
    public var datapath: String
    public var shots: Int
    /// The seed of a single-seed run (also the config of each run in a multi-seed report).
    public var seed: UInt64?
    /// The seeds of a multi-seed report's top-level config, in run order.
    public var seeds: [UInt64]?
    /// Episodes in the whole run, over all shards.
    public var episodes: Int
    /// The side of the square network input.
    public var imageSize: Int
    /// Whether masks were scored at the query picture's own size (else at `imageSize`).
    public var originalSize: Bool
    public var adaptation: AdaptationConfig
    /// The part of the run this report holds, nil for a whole run.
    public var shard: ShardSpec?

    public init(cdfssVersion: String, checkpoint: String, checkpointSHA256: String,
                backboneWeights: String? = nil, backboneWeightsSHA256: String? = nil,
                masker: String, maskerSHA256: String? = nil, benchmark: BenchmarkKind, datapath: String,
                shots: Int, seed: UInt64?, seeds: [UInt64]? = nil, episodes: Int, imageSize: Int, originalSize: Bool,
                adaptation: AdaptationConfig = .none, shard: ShardSpec? = nil) {
        self.cdfssVersion = cdfssVersion
        self.checkpoint = checkpoint
        self.checkpointSHA256 = checkpointSHA256
        self.backboneWeights = backboneWeights
        self.backboneWeightsSHA256 = backboneWeightsSHA256
        self.masker = masker
        self.maskerSHA256 = maskerSHA256
        self.benchmark = benchmark
        self.datapath = datapath
        self.shots = shots
        self.seed = seed
        self.seeds = seeds
        self.episodes = episodes
        self.imageSize = imageSize
        self.originalSize = originalSize
        self.adaptation = adaptation
        self.shard = shard
    }

    enum CodingKeys: String, CodingKey {
        case cdfssVersion = "cdfss_version"
        case checkpoint
        case checkpointSHA256 = "checkpoint_sha256"
        case backboneWeights = "backbone_weights"
        case backboneWeightsSHA256 = "backbone_weights_sha256"
        case masker
        case maskerSHA256 = "masker_sha256"
        case benchmark, datapath, shots, seed, seeds, episodes
        case imageSize = "image_size"
        case originalSize = "original_size"
        case adaptation, shard
    }

    /// Writes absent values as `null` so that every report has the same keys.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(cdfssVersion, forKey: .cdfssVersion)
        try container.encode(checkpoint, forKey: .checkpoint)
        try container.encode(checkpointSHA256, forKey: .checkpointSHA256)
        try container.encode(backboneWeights, forKey: .backboneWeights)
        try container.encode(backboneWeightsSHA256, forKey: .backboneWeightsSHA256)
        try container.encode(masker, forKey: .masker)
        try container.encode(maskerSHA256, forKey: .maskerSHA256)
        try container.encode(benchmark, forKey: .benchmark)
        try container.encode(datapath, forKey: .datapath)
        try container.encode(shots, forKey: .shots)
        try container.encode(seed, forKey: .seed)
        try container.encode(seeds, forKey: .seeds)
        try container.encode(episodes, forKey: .episodes)
        try container.encode(imageSize, forKey: .imageSize)
        try container.encode(originalSize, forKey: .originalSize)
        try container.encode(adaptation, forKey: .adaptation)
        try container.encode(shard, forKey: .shard)
    }
}

/// Test-time adaptation of the maskers, the `"adaptation"` object of a report's config.
public struct AdaptationConfig: Codable, Equatable, Sendable {
    public enum Mode: String, Codable, Sendable {
        /// The maskers are used as loaded.
        case none
        /// Before each episode, fine-tuned on that episode's supports.
        case episode
        /// Fine-tuned once on `images`, which then appear in no episode.
        case domain
    }

    public var mode: Mode
    /// Optimiser steps (per episode, or in all for domain mode).
    public var steps: Int?
    /// Base learning rate.
    public var lr: Double?
    /// `adam` or `sgd` (`OptimizerState.algorithm`).
    public var optimizer: String?
    /// Images per optimiser step.
    public var batch: Int?
    /// Domain mode: how many images were taken for adaptation.
    public var adaptCount: Int?
    /// Domain mode: the adaptation images' paths relative to the datapath.
    public var images: [String]?

    public init(mode: Mode, steps: Int? = nil, lr: Double? = nil, optimizer: String? = nil, batch: Int? = nil,
                adaptCount: Int? = nil, images: [String]? = nil) {
        self.mode = mode
        self.steps = steps
        self.lr = lr
        self.optimizer = optimizer
        self.batch = batch
        self.adaptCount = adaptCount
        self.images = images
    }

    /// No adaptation.
    public static let none = AdaptationConfig(mode: .none)

    enum CodingKeys: String, CodingKey {
        case mode, steps, lr, optimizer, batch
        case adaptCount = "adapt_count"
        case images
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(mode, forKey: .mode)
        try container.encode(steps, forKey: .steps)
        try container.encode(lr, forKey: .lr)
        try container.encode(optimizer, forKey: .optimizer)
        try container.encode(batch, forKey: .batch)
        try container.encode(adaptCount, forKey: .adaptCount)
        try container.encode(images, forKey: .images)
    }
}
