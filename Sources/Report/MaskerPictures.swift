import Datasets
import Evaluation
import FreqMask
import Foundation
import HSNetCore
import Imaging
import TensorCore

/// What a person can read from a masker file: the factors sigmoid(mask) the amplitude-phase
/// masker applies to each frequency, drawn on the centred frequency grid (zero frequency
/// framed) with a colour scale that follows the values; and the weights the channel attention
/// gives the channels of a picture.
public enum MaskerPictures {
    /// Amplitude and phase factor maps, one row per selected input channel (APM-M) or one row
    /// of the channel mean; with `baseline`, the change from that masker's factors instead.
    /// Input channel j of APM-M is masked by mask channel (j + C/2) mod C (the published
    /// code's shift over every axis); rows name both.
    public static func frequencyMaps(_ masker: AmplitudePhaseMasker, channels: [Int]?, baseline: AmplitudePhaseMasker?,
                                     baselineName: String? = nil) throws -> RGBImage {
        let (h, w, c) = (masker.height, masker.width, masker.maskChannels)
        if let baseline, baseline.maskAmplitude.shape != masker.maskAmplitude.shape {
            throw InputError("--diff: its masks are \(baseline.maskAmplitude.shapeDescription), this masker's \(masker.maskAmplitude.shapeDescription)")
        }
        if let channels {
            guard masker.variant == .perChannel else { throw InputError("--channels: APM-S has one mask, shared by all channels") }
            if let bad = channels.first(where: { !(0..<c).contains($0) }) {
                throw InputError("--channels \(bad): the masker has \(c) channels (0 to \(c - 1))")
            }
        }
        func factors(_ m: AmplitudePhaseMasker, _ mask: KeyPath<AmplitudePhaseMasker, Tensor>, row: Int?) -> [Float] {
            let values = m[keyPath: mask].scalars.map(sigmoid)
            let plane = h * w
            if let row { return Array(values[(row * plane)..<((row + 1) * plane)]) }
            return (0..<plane).map { i in (0..<m.maskChannels).reduce(Float(0)) { $0 + values[$1 * plane + i] } / Float(m.maskChannels) }
        }
        // Rows: (label, mask row or nil for the mean).
        let rows: [(String, Int?)]
        if masker.variant == .shared {
            rows = [("shared by all channels", 0)]
        } else if let channels {
            rows = channels.map { ("input channel \($0) (mask channel \(($0 + c / 2) % c))", ($0 + c / 2) % c) }
        } else {
            rows = [("mean over \(c) channels", nil)]
        }
        let zero = (column: w / 2, row: h / 2)
        var panels: [RGBImage] = []
        for (label, row) in rows {
            var pair: [RGBImage] = []
            for (name, mask) in [("amplitude", \AmplitudePhaseMasker.maskAmplitude), ("phase", \AmplitudePhaseMasker.maskPhase)] {
                var values = factors(masker, mask, row: row)
                let title: String
                if let baseline {
                    let before = factors(baseline, mask, row: row)
                    values = zip(values, before).map { $0 - $1 }
                    title = "change of sigmoid(mask_\(name)) from \(baselineName ?? "the baseline"), \(label)"
                } else {
                    title = "sigmoid(mask_\(name)), \(label)"
                }
                pair.append(heatmapFigure(values: values, width: w, height: h, title: title,
                                          colorBarLabel: baseline == nil ? "factor" : "change of factor",
                                          axisLabel: "frequency, zero framed", diverging: baseline != nil, markedCell: zero))
            }
            panels.append(sideBySide(pair, gap: 12))
        }
        return stacked(panels, gap: 12)
    }

    /// The attention's channel weights for a picture's taps of `layer` (4, where the paper
    /// places it, by default), as a histogram per tap.
    public static func attentionHistogram(model: HSNet, attention: ChannelPhaseAttention, image: Tensor, pictureName: String,
                                          layer: Int = 4) throws -> RGBImage {
        let taps = model.features(of: image)
        var plugged = taps
        // The attention sees the taps after the masker, as in the model.
        try model.applyPlugins(role: .query, stage: .beforeSupportMask, to: &plugged)
        let layers = model.backbone.tapLayers
        let names = BackboneTaps(of: model).names
        let layer4 = layers.indices.filter { layers[$0] == layer }
        let bins = 40
        var series: [LineChart.Series] = []
        for (k, tap) in layer4.enumerated() {
            let weights = try attention.channelWeights(plugged[tap])
            var counts = [Double](repeating: 0, count: bins)
            for weight in weights where weight.isFinite { counts[min(bins - 1, max(0, Int(weight * Float(bins))))] += 1 }
            series.append(LineChart.Series(name: names[tap],
                                           points: (0..<bins).map { (x: (Double($0) + 0.5) / Double(bins), y: counts[$0]) },
                                           color: .series(k), marker: [.circle, .square, .triangle][k % 3]))
        }
        let chart = LineChart(title: "ACPA channel weights for \(pictureName) (\(attention.channels) channels, bins of 0.025)",
                              xLabel: "weight sigmoid(W2 relu(W1 pooled phase))", yLabel: "channels", series: series,
                              horizontalReferences: [], xRange: 0...1)
        return chart.render(width: 760, height: 420)
    }
}
