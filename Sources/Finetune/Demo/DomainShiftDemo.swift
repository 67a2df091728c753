import Datasets
import Evaluation
import Foundation
import FreqMask
import HSNetCore
import Imaging
import TensorCore

/// What `cdfss demo` shows, one synthetic target style at a time: the demo model (trained on
/// the synthetic source style) evaluated on 1-shot episodes of the style without maskers;
/// APM-M + ACPA fine-tuned on a few labelled pictures of the style that no episode uses; the
/// same episodes again with the maskers; and the layer-4 channel correlation of the style's
/// pictures without and with them.
public struct DomainShiftDemo {
    /// The demo's sizes: every number that decides its figures.
    public struct Settings: Sendable {
        public var imageSize = 200
        public var classes = 3
        public var imagesPerClass = 12
        public var episodes = 30
        public var adaptationImages = 4
        /// 100 Adam steps at lr 0.1: on the synthetic styles 40 steps at 1e-2 barely move the
        /// masker (+0.7 mIoU over the styles), these recover a good part of the gap (+5).
        public var steps = 100
        public var learningRate = 1e-1
        public var correlationImages = 12
        public var seed: UInt64 = 0

        public init() {}

        /// About a minute for the four styles: fewer episodes, steps and pictures.
        public static var quick: Settings {
            var settings = Settings()
            settings.imageSize = 128
            settings.imagesPerClass = 6
            settings.episodes = 8
            settings.adaptationImages = 2
            settings.steps = 10
            settings.correlationImages = 4
            return settings
        }
    }

    /// One style's figures.
    public struct StyleResult {
        public let style: SyntheticStyle
        public let before: EvaluationReport
        public let after: EvaluationReport
        public let adaptationImages: [String]
        public let lossCurve: [Float]
        /// The fine-tuning pairs (ordered, within a class): one pass over them is the loss
        /// curve's natural window.
        public let pairCount: Int
        public let correlationBefore: ChannelCorrelationFigures
        public let correlationAfter: ChannelCorrelationFigures
        /// The adapted masker, for pictures.
        public let masker: MaskerState
        /// The first episodes' pictures and masks before and after (for the report).
        public let examples: [Example]
        public let seconds: Double

        public var miouChange: Double { after.miou - before.miou }
    }

    /// One episode drawn for the report: the pictures at network size, the ground truth and
    /// both predictions (0/1), and the episode's foreground IoU before and after.
    public struct Example {
        public let className: String
        public let support: RGBImage
        public let supportMask: GrayImage
        public let query: RGBImage
        public let truth: GrayImage
        public let before: GrayImage
        public let after: GrayImage
        public let iouBefore: Double
        public let iouAfter: Double
    }

    public let settings: Settings
    /// Where the synthetic styles are kept between runs.
    public let dataFolder: URL

    public init(settings: Settings, dataFolder: URL) {
        self.settings = settings
        self.dataFolder = dataFolder
    }

    /// The style's benchmark folder, written on first use (deterministic, so a kept one is
    /// what a fresh one would be; a folder left half-written by a kill is never used, since
    /// `SyntheticDomain.write` moves the finished tree into place).
    public func data(for style: SyntheticStyle) throws -> TargetDataset {
        let name = "\(style.rawValue)-\(settings.classes)x\(settings.imagesPerClass)-\(settings.imageSize)px-seed\(settings.seed)"
        let folder = dataFolder.appendingPathComponent(name)
        if !FileManager.default.fileExists(atPath: folder.path) {
            try FileManager.default.createDirectory(at: dataFolder, withIntermediateDirectories: true)
            try SyntheticDomain(style: style, classes: settings.classes, imagesPerClass: settings.imagesPerClass,
                                size: settings.imageSize, seed: settings.seed).write(to: folder)
        }
        return try TargetDataset.load(.folder, datapath: folder)
    }

    /// Runs one style on `model` (the demo model, no maskers installed; they are removed again
    /// at the end). `progress` hears what is happening.
    public func run(_ style: SyntheticStyle, model: HSNet, examples exampleCount: Int = 2,
                    progress: (String) -> Void = { _ in }) throws -> StyleResult {
        let started = Date()
        model.plugins.removeAll()
        defer { model.plugins.removeAll() }
        let dataset = try data(for: style)
        let size = settings.imageSize
        let evaluator = try BenchmarkEvaluator(model: model, dataset: dataset, imageSize: size, originalSize: false,
                                               cacheBytes: 1 << 30)
        let adaptationSet = try DomainAdaptationSet.draw(from: dataset, count: settings.adaptationImages, seed: settings.seed)
        let sampler = try EpisodeSampler(dataset: dataset, shots: 1, seed: settings.seed, excluding: Set(adaptationSet.samples))
        let plans = try sampler.plan(episodes: settings.episodes)
        let classNames = dataset.classes.map(\.name)

        func evaluate(_ label: String, masker: String) throws -> (EvaluationReport, [BenchmarkEvaluator.Outcome]) {
            var records: [EpisodeRecord] = []
            var outcomes: [BenchmarkEvaluator.Outcome] = []
            for plan in plans {
                let begun = Date()
                let outcome = try evaluator.evaluate(plan)
                records.append(EpisodeRecord(plan: plan, seed: settings.seed, counts: outcome.counts,
                                             seconds: Date().timeIntervalSince(begun)))
                if outcomes.count < exampleCount { outcomes.append(outcome) }
            }
            var config = EvaluationConfig(
                cdfssVersion: "demo", checkpoint: BuiltinModel.demo.rawValue, checkpointSHA256: BuiltinModel.demo.rawValue,
                backboneWeights: nil, backboneWeightsSHA256: nil, masker: masker, maskerSHA256: nil,
                benchmark: .folder, datapath: dataset.root.path, shots: 1, seed: settings.seed, episodes: plans.count,
                imageSize: size, originalSize: false, adaptation: .none, shard: nil)
            if label == "after" {
                config.adaptation = AdaptationConfig(mode: .domain, steps: settings.steps, lr: settings.learningRate,
                                                     optimizer: "adam", batch: 1, adaptCount: settings.adaptationImages,
                                                     images: adaptationSet.samples.map(\.image))
            }
            return (try EvaluationReport(config: config, episodes: records, classNames: classNames), outcomes)
        }

        progress("\(style.rawValue): \(plans.count) episodes without maskers")
        let (before, outcomesBefore) = try evaluate("before", masker: "none")

        progress("\(style.rawValue): fine-tuning APM-M + ACPA on \(adaptationSet.samples.count) pictures, \(settings.steps) steps")
        let feature = HSNet.featureSize(layer: 4, imageHeight: size, imageWidth: size)
        var generator = SeededGenerator(seed: settings.seed)
        try model.installFrequencyMaskers(
            amplitudePhase: AmplitudePhaseMasker(variant: .perChannel, channels: 2048, height: feature.height, width: feature.width),
            channelAttention: ChannelPhaseAttention(channels: 2048, generator: &generator), imageSize: size)
        let fineTuning = FineTuneSettings(steps: settings.steps, learningRate: settings.learningRate, seed: settings.seed,
                                          imageSize: size)
        let adapted = try evaluator.adaptToDomain(adaptationSet, settings: fineTuning, pairCacheBytes: 1 << 29)

        progress("\(style.rawValue): the same episodes with the maskers")
        let (after, outcomesAfter) = try evaluate("after", masker: "apm-m+acpa (adapted)")

        progress("\(style.rawValue): layer-4 channel correlation of \(settings.correlationImages) pictures")
        let analysis = CorrelationAnalysis(model: model, taps: try BackboneTaps(of: model).parse("layer4"))
        let pictures = try AnalysisImages.drawn(from: dataset, count: settings.correlationImages, seed: settings.seed)
        for start in stride(from: 0, to: pictures.count, by: 2) {
            let batch = try pictures[start..<min(start + 2, pictures.count)].map { path in
                (name: path, image: imageTensor(try RGBImage(contentsOf: URL(fileURLWithPath: path)), size: size))
            }
            try analysis.add(batch)
        }
        let correlation = Self.meanFigures(analysis)

        var examples: [Example] = []
        for (index, (first, second)) in zip(outcomesBefore, outcomesAfter).enumerated() {
            let plan = plans[index]
            let support = plan.supports[0]
            examples.append(Example(
                className: classNames[plan.classIndex],
                support: try evaluator.displayPicture(support, height: size, width: size),
                supportMask: try evaluator.displayMask(support, height: size, width: size),
                query: try evaluator.displayPicture(plan.query, height: size, width: size),
                truth: first.truth, before: first.prediction, after: second.prediction,
                iouBefore: Self.foregroundIoU(first.counts), iouAfter: Self.foregroundIoU(second.counts)))
        }
        return StyleResult(style: style, before: before, after: after, adaptationImages: adaptationSet.samples.map(\.image),
                           lossCurve: adapted.lossCurve, pairCount: adaptationSet.pairs.count, correlationBefore: correlation.before,
                           correlationAfter: correlation.after, masker: try MaskerState(stateDict: model.maskerParameters()),
                           examples: examples, seconds: Date().timeIntervalSince(started))
    }

    /// The mean over the layer-4 taps of each figure, without and with the maskers.
    static func meanFigures(_ analysis: CorrelationAnalysis) -> (before: ChannelCorrelationFigures, after: ChannelCorrelationFigures) {
        func mean(_ figures: [ChannelCorrelationFigures]) -> ChannelCorrelationFigures {
            let n = Double(max(1, figures.count))
            return ChannelCorrelationFigures(
                meanAbsR: figures.reduce(0) { $0 + $1.meanAbsR } / n,
                fractionAbsROverHalf: figures.reduce(0) { $0 + $1.fractionAbsROverHalf } / n,
                participationRatio: figures.reduce(0) { $0 + $1.participationRatio } / n,
                constantChannels: figures.reduce(0) { $0 + $1.constantChannels } / n)
        }
        return (mean(analysis.results.map(\.without.meanFigures)), mean(analysis.results.compactMap { $0.with?.meanFigures }))
    }

    /// An episode's foreground IoU in percent (union floored at 1, as the evaluator).
    static func foregroundIoU(_ counts: EpisodeCounts) -> Double {
        100 * Double(counts.intersection.foreground) / Double(max(1, counts.union.foreground))
    }
}
