import Datasets
import FreqMask
import Foundation
import HSNetCore
import TensorCore

/// Channel correlations of backbone taps over a set of images, with and without the model's
/// plug-ins (`cdfss analyze correlation`). Each image is taken as a query: its taps, and for
/// "with" the taps after the plug-ins of the `.query` and `.query.masked` slots, as the model
/// runs them. A tap whose layer has no query plug-in has no "with" part.
///
/// Cost: one backbone pass per image (two images side by side, one per core) and one GEMM per
/// tap and part; memory: the accumulators (C² doubles and counts per tap and part), whatever
/// the number of images.
public final class CorrelationAnalysis {
    public struct TapResult {
        public let tap: Int
        public let name: String
        public let channels: Int
        public internal(set) var positions: Int?
        public internal(set) var without: ChannelCorrelationAccumulator
        public internal(set) var with: ChannelCorrelationAccumulator?
    }

    public let model: HSNet
    public private(set) var results: [TapResult]
    public private(set) var images: [String] = []
    /// Whether any requested tap has plug-ins to compare with.
    public let hasPlugins: Bool

    public init(model: HSNet, taps: [Int]) {
        self.model = model
        let layersWithPlugins = Set((2...4).filter { layer in
            PluginSlot.Stage.allCases.contains { stage in
                !model.plugins[try! PluginSlot(layer: layer, role: .query, stage: stage)].isEmpty
            }
        })
        let layers = model.backbone.tapLayers
        let channels = layers.map { model.backbone.kind.channels(layer: $0) }
        let names = BackboneTaps(of: model).names
        results = taps.map { tap in
            TapResult(tap: tap, name: names[tap], channels: channels[tap], positions: nil,
                      without: ChannelCorrelationAccumulator(channels: channels[tap]),
                      with: layersWithPlugins.contains(layers[tap])
                        ? ChannelCorrelationAccumulator(channels: channels[tap]) : nil)
        }
        hasPlugins = results.contains { $0.with != nil }
    }

    /// Adds images ([1, 3, S, S] network inputs, all of one size) named by `names` for errors
    /// and the report. Images are processed two at a time, one backbone pass per core.
    public func add(_ batch: [(name: String, image: Tensor)]) throws {
        let taps = model.features(of: batch.map(\.image))
        for (index, (name, _)) in batch.enumerated() {
            let withTaps = hasPlugins ? try model.queryFeatures(fromTaps: taps[index]) : nil
            for r in results.indices {
                let tap = results[r].tap
                try results[r].without.add(taps[index][tap], name: "\(name) \(results[r].name)")
                if results[r].with != nil, let withTaps {
                    try results[r].with!.add(withTaps[tap], name: "\(name) \(results[r].name) with plug-ins")
                }
                results[r].positions = results[r].without.positions
            }
            images.append(name)
        }
    }
}

/// The JSON summary of a correlation analysis (`--json`), keys in snake_case.
public struct CorrelationReport: Encodable {
    public struct Figures: Encodable {
        public let meanAbsR: Double?
        public let fractionAbsROverHalf: Double?
        public let participationRatio: Double?
        public let constantChannels: Double?

        init(_ f: ChannelCorrelationFigures) {
            func finite(_ value: Double) -> Double? { value.isFinite ? value : nil }
            meanAbsR = finite(f.meanAbsR)
            fractionAbsROverHalf = finite(f.fractionAbsROverHalf)
            participationRatio = finite(f.participationRatio)
            constantChannels = finite(f.constantChannels)
        }

        enum CodingKeys: String, CodingKey {
            case meanAbsR = "mean_abs_r", fractionAbsROverHalf = "fraction_abs_r_over_0_5"
            case participationRatio = "participation_ratio", constantChannels = "constant_channels"
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            // Explicit nulls: a figure that does not exist is shown as such, not dropped.
            try container.encode(meanAbsR, forKey: .meanAbsR)
            try container.encode(fractionAbsROverHalf, forKey: .fractionAbsROverHalf)
            try container.encode(participationRatio, forKey: .participationRatio)
            try container.encode(constantChannels, forKey: .constantChannels)
        }
    }

    public struct Tap: Encodable {
        public let tap: String
        public let channels: Int
        public let positions: Int
        public let without: Figures
        public let with: Figures?

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(tap, forKey: .tap)
            try container.encode(channels, forKey: .channels)
            try container.encode(positions, forKey: .positions)
            try container.encode(without, forKey: .without)
            try container.encode(with, forKey: .with)
        }

        enum CodingKeys: String, CodingKey { case tap, channels, positions, without, with }
    }

    public let checkpointSHA256: String
    public let maskerSHA256: String?
    public let imageSize: Int
    public let images: [String]
    public let taps: [Tap]

    public init(analysis: CorrelationAnalysis, checkpointSHA256: String, maskerSHA256: String?, imageSize: Int) {
        self.checkpointSHA256 = checkpointSHA256
        self.maskerSHA256 = maskerSHA256
        self.imageSize = imageSize
        images = analysis.images
        taps = analysis.results.map { result in
            Tap(tap: result.name, channels: result.channels, positions: result.positions ?? 0,
                without: Figures(result.without.meanFigures), with: result.with.map { Figures($0.meanFigures) })
        }
    }

    enum CodingKeys: String, CodingKey {
        case checkpointSHA256 = "checkpoint_sha256", maskerSHA256 = "masker_sha256", imageSize = "image_size", images, taps
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(checkpointSHA256, forKey: .checkpointSHA256)
        try container.encode(maskerSHA256, forKey: .maskerSHA256)
        try container.encode(imageSize, forKey: .imageSize)
        try container.encode(images, forKey: .images)
        try container.encode(taps, forKey: .taps)
    }

    /// The JSON text, keys sorted so that runs compare line by line.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
