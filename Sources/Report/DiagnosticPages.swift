import Evaluation
import Foundation
import Imaging
import TensorCore

/// The pages of the `cdfss analyze` subcommands (`--html`): each the run's settings and what
/// the subcommand measures or draws, on one self-contained page.
public enum DiagnosticPages {
    /// `analyze correlation`: the figures per tap without and with the plug-ins, their bars,
    /// and the mean correlation matrices.
    public static func correlation(_ analysis: CorrelationAnalysis, report: CorrelationReport,
                                   configuration: [(key: String, value: String)], generator: String) throws -> HTMLReport {
        let count = report.images.count
        var lead = "Channel correlation of \(count) picture\(count == 1 ? "" : "s") at \(report.imageSize) x \(report.imageSize)"
        if let tap = report.taps.first(where: { $0.with != nil }), let before = tap.without.meanAbsR, let after = tap.with?.meanAbsR {
            lead += String(format: "; at %@ the mean |r| goes from %.4f without the plug-ins to %.4f with them", tap.tap, before, after)
        }
        var page = HTMLReport(title: "cdfss analyze correlation", lead: lead + ".", generator: generator)
        page.add("Configuration") {
            KeyValueTable(rows: configuration + [("pictures", report.images.prefix(20).joined(separator: ", ")
                                                    + (count > 20 ? ", ... (\(count) in all)" : ""))])
        }
        page.add("Correlation figures") {
            Paragraph("Per picture and tap, X [C, P] is centred per channel, S = X Xᵀ / (P - 1) and r_ij = S_ij / sqrt(S_ii S_jj); channels without variance are left out and counted. The figures are averaged over the pictures.", note: true)
            CorrelationSections.figures(report)
        }
        try page.add("Mean correlation matrices") { try CorrelationSections.heatmaps(analysis) }
        return page
    }

    /// `analyze filter-sweep`: every filter's scores and the charts against the radius.
    public static func filterSweep(_ report: FilterSweepReport, configuration: [(key: String, value: String)],
                                   generator: String) -> HTMLReport {
        let best = report.filters.max { $0.miou < $1.miou }
        var lead = String(format: "Unfiltered: mIoU %.2f%%, FB-IoU %.2f%%", report.baseline.miou, report.baseline.fbiou)
        if let best {
            lead += String(format: "; best filter: %@ %@ (%@), mIoU %.2f%%", best.kind, FilterSweepSections.radiusText(best), best.part, best.miou)
        }
        var page = HTMLReport(title: "cdfss analyze filter-sweep: \(report.config.benchmark)", lead: lead + ".", generator: generator)
        page.add("Configuration") { KeyValueTable(rows: configuration) }
        page.add("Filters") { FilterSweepSections.blocks(report) }
        return page
    }

    /// `analyze features`: the arrays written, with their shapes and statistics.
    public static func features(_ tensors: [(name: String, tensor: Tensor)], configuration: [(key: String, value: String)],
                                generator: String) -> HTMLReport {
        var page = HTMLReport(title: "cdfss analyze features",
                              lead: "\(tensors.count) arrays written as float32 .npy files, for study in NumPy.", generator: generator)
        page.add("Configuration") { KeyValueTable(rows: configuration) }
        page.add("Arrays") {
            HTMLTable(columns: [.text("file"), .text("shape"), .number("mean"), .number("standard deviation"), .number("min"), .number("max")],
                      rows: tensors.map { name, tensor in
                          let values = tensor.scalars.lazy.map(Double.init)
                          let count = Double(max(tensor.count, 1))
                          let mean = values.reduce(0, +) / count
                          let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / count
                          return [HTMLTable.Cell(name + ".npy"), HTMLTable.Cell(tensor.shapeDescription),
                                  .number(mean, decimals: 4), .number(variance.squareRoot(), decimals: 4),
                                  .number(values.min(), decimals: 4), .number(values.max(), decimals: 4)]
                      })
            Paragraph("Statistics over every value of the array (population standard deviation).", note: true)
        }
        return page
    }

    /// `analyze activation`: the picture it draws.
    public static func activation(_ picture: RGBImage, tap: String, configuration: [(key: String, value: String)],
                                  generator: String) throws -> HTMLReport {
        var page = HTMLReport(title: "cdfss analyze activation: \(tap)",
                              lead: "The channel mean of \(tap) over the picture, without and with the plug-ins, on one colour scale.",
                              generator: generator)
        page.add("Configuration") { KeyValueTable(rows: configuration) }
        try page.add("Activation") {
            try PictureFigure(id: "activation", caption: "\(tap): the channel mean upsampled to the picture (bilinear) and drawn over it, half and half; both panels share the colour scale.",
                              picture: picture)
        }
        return page
    }
}
