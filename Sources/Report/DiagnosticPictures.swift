import Datasets
import Evaluation
import FreqMask
import Foundation
import HSNetCore
import Imaging
import TensorCore

/// The pictures of the diagnostics: correlation matrices, filter-sweep charts and activation
/// maps, each titled and with its scale.
public enum DiagnosticPictures {
    /// The largest side of a drawn correlation matrix; larger ones are averaged over blocks.
    public static let matrixSide = 512

    /// Heatmaps of one tap's mean correlation matrices, without and with plug-ins, channels in
    /// the spectral order of the "without" matrix (the same order for both), averaged over
    /// blocks down to at most 512 x 512. Colours span r from -1 to 1.
    public static func correlationHeatmaps(_ result: CorrelationAnalysis.TapResult, pictures: Int) -> [(part: String, picture: RGBImage)] {
        let without = result.without.meanMatrix
        let order = ChannelOrdering.spectral(without)
        var parts: [(String, Tensor)] = [("without", without)]
        if let with = result.with { parts.append(("with", with.meanMatrix)) }
        return parts.map { part, matrix in
            let pooled = ChannelOrdering.reorderedAndPooled(matrix, order: order, maximumSide: matrixSide)
            let block = (result.channels + pooled.side - 1) / pooled.side
            let title = "\(result.name), \(part) plug-ins: mean channel correlation over \(pictures) picture\(pictures == 1 ? "" : "s")"
            let axis = "\(result.channels) channels, spectral order" + (block > 1 ? ", blocks of \(block)" : "")
            return (part, heatmapFigure(values: pooled.values, width: pooled.side, height: pooled.side, title: title,
                                        range: -1...1, colorBarLabel: "Pearson r", axisLabel: axis, diverging: true))
        }
    }

    /// One chart per spectrum part: mIoU against radius, a line per filter kind, the
    /// unfiltered model dashed; below it the same for the layer-4 mean |r|.
    public static func sweepCharts(_ outcomes: [FilterSweep.Outcome], target: FilterSweep.Target) -> [(part: String, picture: RGBImage)] {
        guard let plain = outcomes.first(where: { $0.filter == nil }) else { return [] }
        let parts = SpectrumPart.allCases.filter { part in outcomes.contains { $0.filter?.part == part } }
        let kinds = ["low-pass", "high-pass", "band-pass"]
        func radius(_ band: FrequencyBand) -> Double {
            switch band {
            case .lowPass(let r), .highPass(let r): return r
            case .bandPass(let inner, let outer): return (inner + outer) / 2
            }
        }
        let place = target == .features ? "layer-4 features" : "input picture"
        return parts.map { part in
            func chart(_ value: (FilterSweep.Outcome) -> Double, title: String, yLabel: String) -> RGBImage {
                var series: [LineChart.Series] = []
                for (index, kind) in kinds.enumerated() {
                    let points = outcomes.compactMap { o -> (x: Double, y: Double)? in
                        guard let f = o.filter, f.part == part, f.band.kindName == kind else { return nil }
                        return (radius(f.band), value(o))
                    }.sorted { $0.x < $1.x }
                    if !points.isEmpty {
                        let name = kind == "band-pass" ? "band-pass (centre)" : kind
                        series.append(LineChart.Series(name: name, points: points, color: .series(index), marker: [.circle, .square, .triangle][index]))
                    }
                }
                let chart = LineChart(title: title, xLabel: "radius (frequency index)", yLabel: yLabel, series: series,
                                      horizontalReferences: [(name: "no filter", y: value(plain), color: .gray)])
                return chart.render(width: 720, height: 400)
            }
            let miou = chart({ $0.miou }, title: "mIoU with fixed \(part.rawValue) filters on the \(place)", yLabel: "mIoU (%)")
            let correlation = chart({ $0.meanAbsR }, title: "layer-4 channel correlation of the query pictures", yLabel: "mean |r|")
            return (part.rawValue, stacked([miou, correlation], gap: 12))
        }
    }

    /// The channel mean of a tap over the picture, without and with plug-ins side by side,
    /// each upsampled (bilinear, align_corners=True) to the picture shown under it, on one
    /// colour scale so that the two compare.
    public static func activation(picture: RGBImage, tapName: String, without: Tensor, with: Tensor?, side: Int = 320) -> RGBImage {
        let display = resizeBilinearAntialiased(picture, width: side, height: side)
        func meanMap(_ tap: Tensor) -> [Float] {
            let (c, h, w) = (tap.shape[1], tap.shape[2], tap.shape[3])
            var mean = [Float](repeating: 0, count: h * w)
            for channel in 0..<c { for i in 0..<(h * w) { mean[i] += tap.scalars[channel * h * w + i] / Float(c) } }
            return BilinearResize(outputHeight: side, outputWidth: side)
                .forward(Tensor(shape: [1, 1, h, w], scalars: mean)).scalars
        }
        let maps = [("without plug-ins", meanMap(without))] + (with.map { [("with plug-ins", meanMap($0))] } ?? [])
        let finite = maps.flatMap { $0.1 }.filter { $0.isFinite }
        let low = finite.min() ?? 0, high = finite.max() ?? 1
        let range: ClosedRange<Float>? = high > low ? low...high : nil
        return sideBySide(maps.map { label, values in
            heatmapFigure(values: values, width: side, height: side, title: "\(tapName) channel mean, \(label)", range: range,
                          colorBarLabel: "mean activation", underlay: display)
        }, gap: 12)
    }
}
