import Datasets
import Foundation
import FreqMask
import HSNetCore
import TensorCore

/// The paper's starting observation, measured: fixed filters on the frequency content of the
/// features, with no training at all, change the mIoU on a distant target domain
/// (`cdfss analyze filter-sweep`). Every filter runs the same episodes (same seed); with
/// filters on the layer-4 features the backbone taps are computed once and cached across
/// filters, with filters on the input image each filter needs its own backbone passes.
public struct FilterSweep {
    public enum Target: String, CaseIterable, Sendable {
        /// The layer-4 taps of query and support (`layer4.query`, `layer4.support` slots).
        case features
        /// The normalised input image's three channels, before the backbone.
        case image
    }

    /// One filter of the sweep; nil band is the unfiltered model.
    public struct Filter: Sendable {
        public let band: FrequencyBand
        public let part: SpectrumPart
    }

    /// What one filter (or the unfiltered model) scored.
    public struct Outcome: Sendable {
        public let filter: Filter?
        public let miou: Double
        public let fbiou: Double
        /// Layer-4 correlation figures of the episodes' distinct query pictures after the
        /// filter, averaged over the three layer-4 taps.
        public let meanAbsR: Double
        public let participationRatio: Double
    }

    public let model: HSNet
    public let dataset: TargetDataset
    public let plans: [EpisodePlan]
    public let imageSize: Int
    public let target: Target
    public let cacheBytes: Int

    public init(model: HSNet, dataset: TargetDataset, plans: [EpisodePlan], imageSize: Int, target: Target, cacheBytes: Int) {
        self.model = model
        self.dataset = dataset
        self.plans = plans
        self.imageSize = imageSize
        self.target = target
        self.cacheBytes = cacheBytes
    }

    /// The filters of a sweep: each kind at each radius (band-pass: the band of `bandWidth`
    /// centred on the radius, starting at 0 at the least), for each part; filters that do not
    /// fit the plane (a radius beyond it) are refused with the plane's largest radius.
    public static func filters(kinds: [String], radii: [Double], parts: [SpectrumPart], bandWidth: Double,
                               height: Int, width: Int) throws -> [Filter] {
        var filters: [Filter] = []
        for part in parts {
            for kind in kinds {
                for radius in radii {
                    let band: FrequencyBand
                    switch kind {
                    case "low": band = .lowPass(radius: radius)
                    case "high": band = .highPass(radius: radius)
                    case "band": band = .bandPass(inner: max(0, radius - bandWidth / 2), outer: radius + bandWidth / 2)
                    default: throw InputError("--kinds: no filter kind \"\(kind)\" (low, high, band)")
                    }
                    try band.validate(height: height, width: width)
                    filters.append(Filter(band: band, part: part))
                }
            }
        }
        return filters
    }

    /// The plane the filters act on at this target and image size.
    public func plane() -> (height: Int, width: Int) {
        target == .image ? (imageSize, imageSize) : HSNet.featureSize(layer: 4, imageHeight: imageSize, imageWidth: imageSize)
    }

    /// Runs the unfiltered model, then each filter; `progress` sees (filters done, total) and
    /// each outcome as it completes.
    public func run(_ filters: [Filter], progress: (Int, Int, Outcome) -> Void) throws -> [Outcome] {
        let (height, width) = plane()
        var shared: BenchmarkEvaluator?
        var outcomes: [Outcome] = []
        let all: [Filter?] = [nil] + filters
        for (position, filter) in all.enumerated() {
            let plugin = try filter.map { try FrequencyFilter(band: $0.band, part: $0.part, height: height, width: width) }
            let evaluator: BenchmarkEvaluator
            if target == .image {
                evaluator = try BenchmarkEvaluator(model: model, dataset: dataset, imageSize: imageSize, originalSize: false,
                                                   cacheBytes: cacheBytes, inputFilter: plugin)
            } else {
                if shared == nil {
                    shared = try BenchmarkEvaluator(model: model, dataset: dataset, imageSize: imageSize, originalSize: false, cacheBytes: cacheBytes)
                }
                evaluator = shared!
            }
            let before = model.plugins
            if target == .features, let plugin {
                model.plugins.install(plugin, in: [.layer4Query, .layer4Support])
            }
            defer { model.plugins = before }
            let outcome = try measure(evaluator, filter: filter)
            outcomes.append(outcome)
            progress(position + 1, all.count, outcome)
        }
        return outcomes
    }

    func measure(_ evaluator: BenchmarkEvaluator, filter: Filter?) throws -> Outcome {
        var score = SegmentationScore()
        for plan in plans {
            score.add(try evaluator.evaluate(plan).counts, classIndex: plan.classIndex)
        }
        let layers = evaluator.model.backbone.tapLayers
        let names = BackboneTaps(depth: evaluator.model.backbone.depth).names
        let layer4 = layers.indices.filter { layers[$0] == 4 }
        var accumulators = layer4.map { _ in ChannelCorrelationAccumulator(channels: ResNetBackbone.layerChannels[3]) }
        var seen = Set<LabelledImage>()
        for plan in plans where seen.insert(plan.query).inserted {
            let taps = try evaluator.queryFeatures(plan.query)
            for (k, tap) in layer4.enumerated() { try accumulators[k].add(taps[tap], name: "\(plan.query.image) \(names[tap])") }
        }
        let figures = accumulators.map(\.meanFigures)
        return Outcome(filter: filter, miou: score.miou, fbiou: score.fbiou,
                       meanAbsR: figures.map(\.meanAbsR).reduce(0, +) / Double(figures.count),
                       participationRatio: figures.map(\.participationRatio).reduce(0, +) / Double(figures.count))
    }
}

/// The JSON of a sweep (`--json`), keys in snake_case; scores in percent.
public struct FilterSweepReport: Encodable {
    public struct Config: Encodable {
        public let checkpointSHA256: String
        public let maskers: String
        public let benchmark: String
        public let shots: Int
        public let episodes: Int
        public let seed: UInt64
        public let imageSize: Int
        public let target: String

        public init(checkpointSHA256: String, maskers: String, benchmark: String, shots: Int, episodes: Int, seed: UInt64,
                    imageSize: Int, target: String) {
            self.checkpointSHA256 = checkpointSHA256
            self.maskers = maskers
            self.benchmark = benchmark
            self.shots = shots
            self.episodes = episodes
            self.seed = seed
            self.imageSize = imageSize
            self.target = target
        }

        enum CodingKeys: String, CodingKey {
            case checkpointSHA256 = "checkpoint_sha256", maskers, benchmark, shots, episodes, seed, imageSize = "image_size", target
        }
    }

    public struct Baseline: Encodable {
        public let miou, fbiou, meanAbsR, participationRatio: Double
        enum CodingKeys: String, CodingKey { case miou, fbiou, meanAbsR = "mean_abs_r", participationRatio = "participation_ratio" }
    }

    public struct Row: Encodable {
        public let kind: String
        public let part: String
        public let radius: Double?
        public let radii: [Double]?
        public let miou, fbiou, meanAbsR, participationRatio: Double
        enum CodingKeys: String, CodingKey {
            case kind, part, radius, radii, miou, fbiou, meanAbsR = "mean_abs_r", participationRatio = "participation_ratio"
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(kind, forKey: .kind)
            try c.encode(part, forKey: .part)
            if let radius { try c.encode(radius, forKey: .radius) }
            if let radii { try c.encode(radii, forKey: .radii) }
            try c.encode(miou, forKey: .miou)
            try c.encode(fbiou, forKey: .fbiou)
            try c.encode(meanAbsR, forKey: .meanAbsR)
            try c.encode(participationRatio, forKey: .participationRatio)
        }
    }

    public let config: Config
    public let baseline: Baseline
    public let filters: [Row]

    public init(config: Config, outcomes: [FilterSweep.Outcome]) {
        self.config = config
        let plain = outcomes.first { $0.filter == nil }!
        baseline = Baseline(miou: plain.miou, fbiou: plain.fbiou, meanAbsR: plain.meanAbsR, participationRatio: plain.participationRatio)
        filters = outcomes.compactMap { outcome in
            guard let filter = outcome.filter else { return nil }
            var radius: Double?, radii: [Double]?
            switch filter.band {
            case .lowPass(let r), .highPass(let r): radius = r
            case .bandPass(let inner, let outer): radii = [inner, outer]
            }
            return Row(kind: filter.band.kindName, part: filter.part.rawValue, radius: radius, radii: radii,
                       miou: outcome.miou, fbiou: outcome.fbiou, meanAbsR: outcome.meanAbsR, participationRatio: outcome.participationRatio)
        }
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
