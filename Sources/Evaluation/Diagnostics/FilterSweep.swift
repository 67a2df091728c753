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
    public struct Filter: Equatable, Sendable {
        public let band: FrequencyBand
        public let part: SpectrumPart

        public init(band: FrequencyBand, part: SpectrumPart) {
            self.band = band
            self.part = part
        }
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
        /// The records the figures above are computed from (nil for figures given as they are).
        public let measurement: Measurement?

        public init(filter: Filter?, miou: Double, fbiou: Double, meanAbsR: Double, participationRatio: Double) {
            self.filter = filter
            self.miou = miou
            self.fbiou = fbiou
            self.meanAbsR = meanAbsR
            self.participationRatio = participationRatio
            measurement = nil
        }

        /// The figures of the records.
        public init(filter: Filter?, measurement: Measurement) {
            self.filter = filter
            self.measurement = measurement
            let score = measurement.score
            miou = score.miou
            fbiou = score.fbiou
            (meanAbsR, participationRatio) = measurement.correlation
        }
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
        target == .image ? (imageSize, imageSize) : model.featureSize(layer: 4, imageHeight: imageSize, imageWidth: imageSize)
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
        var episodes: [Measurement.Episode] = []
        for plan in plans {
            episodes.append(Measurement.Episode(index: plan.index, classIndex: plan.classIndex, counts: try evaluator.evaluate(plan).counts))
        }
        // Each distinct query picture once, at its first episode, over the layer-4 taps.
        let layers = evaluator.model.backbone.tapLayers
        let names = BackboneTaps(depth: evaluator.model.backbone.kind).names
        let layer4 = layers.indices.filter { layers[$0] == 4 }
        var queries: [Measurement.Query] = []
        var seen = Set<String>()
        for plan in plans where seen.insert(plan.query.image).inserted {
            let taps = try evaluator.queryFeatures(plan.query)
            queries.append(Measurement.Query(image: plan.query.image, firstEpisode: plan.index, taps: try layer4.map { tap in
                try Measurement.TapFigures(tap: names[tap], map: taps[tap], name: "\(plan.query.image) \(names[tap])")
            }))
        }
        return Outcome(filter: filter, measurement: Measurement(episodes: episodes, queries: queries))
    }
}
