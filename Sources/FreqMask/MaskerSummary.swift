import Foundation
import TensorCore

/// What `cdfss masker show` reports: for each mask, statistics of sigmoid(mask), the factor it
/// actually applies (mean, min, max, the fraction below 0.5, i.e. frequencies it suppresses
/// more than halfway); for ACPA the weight norms.
public struct MaskerSummary {
    public struct MaskStatistics: Codable, Equatable {
        public let name: String
        public let shape: [Int]
        public let mean: Double
        public let min: Double
        public let max: Double
        public let fractionBelowHalf: Double

        // snake_case, as every JSON cdfss writes.
        enum CodingKeys: String, CodingKey {
            case name, shape, mean, min, max
            case fractionBelowHalf = "fraction_below_half"
        }

        public init(name: String, mask: Tensor) {
            let factors = mask.scalars.map { Double(sigmoid($0)) }
            self.name = name
            shape = mask.shape
            mean = factors.reduce(0, +) / Double(Swift.max(factors.count, 1))
            min = factors.min() ?? .nan
            max = factors.max() ?? .nan
            fractionBelowHalf = Double(factors.filter { $0 < 0.5 }.count) / Double(Swift.max(factors.count, 1))
        }
    }

    public struct Report: Codable, Equatable {
        public let apm: String
        public let masks: [MaskStatistics]
        public let acpaChannels: Int?
        public let acpaWeightNorms: [String: Double]?
        public let metadata: [String: String]

        enum CodingKeys: String, CodingKey {
            case apm, masks
            case acpaChannels = "acpa_channels"
            case acpaWeightNorms = "acpa_weight_norms"
            case metadata
        }
    }

    public let report: Report

    public init(_ state: MaskerState) {
        var masks: [MaskStatistics] = []
        if let apm = state.amplitudePhase {
            masks.append(MaskStatistics(name: "mask_amplitude", mask: apm.maskAmplitude))
            masks.append(MaskStatistics(name: "mask_phase", mask: apm.maskPhase))
        }
        let norms = state.channelAttention.map { acpa in
            Dictionary(uniqueKeysWithValues: acpa.parameters.map { ($0.name, $0.value.squaredNorm().squareRoot()) })
        }
        report = Report(apm: state.amplitudePhase?.kind ?? "none", masks: masks,
                        acpaChannels: state.channelAttention?.channels, acpaWeightNorms: norms,
                        metadata: state.metadata)
    }

    /// sigmoid(mask) averaged over the mask channels, [H * W] row-major, for the amplitude and
    /// the phase mask, in the masks' own (fftshifted) coordinates: the zero frequency sits at
    /// (H/2, W/2), low frequencies in the middle. Nil without an amplitude-phase masker.
    public static func channelAveragedFactors(_ state: MaskerState) -> (height: Int, width: Int, amplitude: [Float], phase: [Float])? {
        guard let apm = state.amplitudePhase else { return nil }
        let planeSize = apm.height * apm.width
        func average(_ mask: Tensor) -> [Float] {
            var sums = [Double](repeating: 0, count: planeSize)
            for (i, value) in mask.scalars.enumerated() { sums[i % planeSize] += Double(sigmoid(value)) }
            return sums.map { Float($0 / Double(apm.maskChannels)) }
        }
        return (apm.height, apm.width, average(apm.maskAmplitude), average(apm.maskPhase))
    }

    public var text: String {
        var lines: [String] = []
        for mask in report.masks {
            lines.append(String(format: "  sigmoid(%@) %@: mean %.4f  min %.4f  max %.4f  below 0.5: %.1f%%",
                                mask.name, "[" + mask.shape.map(String.init).joined(separator: ", ") + "]",
                                mask.mean, mask.min, mask.max, 100 * mask.fractionBelowHalf))
        }
        if let channels = report.acpaChannels, let norms = report.acpaWeightNorms {
            lines.append("  acpa: \(channels) channels, hidden width \(ChannelPhaseAttention.hiddenWidth); "
                         + norms.keys.sorted().map { String(format: "||%@|| %.4f", $0, norms[$0]!) }.joined(separator: "  "))
        }
        for key in report.metadata.keys.sorted() where key != "loss_curve" {
            lines.append("  \(key): \(report.metadata[key]!)")
        }
        return lines.map { $0 + "\n" }.joined()
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }
}
