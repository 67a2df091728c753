import Evaluation
import Foundation
import Imaging

/// The channel-correlation figures on a page (`cdfss analyze correlation --html`, and any
/// page comparing features without and with the maskers): per tap, the mean |r|, the share of
/// strongly correlated pairs and the participation ratio, without and with the plug-ins and
/// the change; grouped bars of the first and the last; the mean correlation matrices as
/// heatmaps. Lower correlation and a higher participation ratio (more independent channels)
/// are what the paper credits the maskers with.
public enum CorrelationSections {
    /// The table and the bar charts; figure ids start with `idPrefix`.
    public static func figures(_ report: CorrelationReport, idPrefix: String = "correlation") -> [any ReportBlock] {
        let taps = report.taps
        let hasWith = taps.contains { $0.with != nil }
        var rows: [[HTMLTable.Cell]] = []
        // Lower correlation and more independent channels are the maskers' intended effect.
        let measures: [(String, KeyPath<CorrelationReport.Figures, Double?>, Int, Bool?)] = [
            ("mean |r|", \.meanAbsR, 4, false), ("share of pairs with |r| > 0.5", \.fractionAbsROverHalf, 4, false),
            ("participation ratio (independent channels)", \.participationRatio, 1, true), ("constant channels", \.constantChannels, 1, nil),
        ]
        for tap in taps {
            for (name, path, decimals, higherIsBetter) in measures {
                let without = tap.without[keyPath: path], with = tap.with?[keyPath: path]
                rows.append([HTMLTable.Cell(tap.tap), HTMLTable.Cell("\(tap.channels)"), HTMLTable.Cell(name),
                             .number(without, decimals: decimals), .number(with, decimals: decimals),
                             .change(with.flatMap { w in without.map { w - $0 } }, decimals: decimals, higherIsBetter: higherIsBetter)])
            }
        }
        var blocks: [any ReportBlock] = [
            HTMLTable(columns: [.text("tap"), .number("channels"), .text("figure"), .number("without plug-ins"),
                                .number("with plug-ins"), .number("change")], rows: rows),
        ]
        if !hasWith {
            blocks.append(Paragraph("No tap analysed has plug-ins in its layer (they sit on layer 4), so there is no \"with\" column to compare.", note: true))
        }
        func series(_ path: KeyPath<CorrelationReport.Figures, Double?>) -> [SVGBarChart.Series] {
            [.init(name: "without plug-ins", values: taps.map { $0.without[keyPath: path] })]
                + (hasWith ? [.init(name: "with plug-ins (APM, then ACPA)", values: taps.map { $0.with?[keyPath: path] })] : [])
        }
        let names = taps.map(\.tap)
        blocks.append(SVGBarChart(id: figureID(idPrefix, "mean-abs-r"),
                                  caption: "Mean |r| over the channel pairs of each tap, averaged over the \(report.images.count) picture\(report.images.count == 1 ? "" : "s") (lower: channels less alike).",
                                  categories: names, categoryLabel: "tap", series: series(\.meanAbsR),
                                  valueLabel: "mean |r| (Pearson, 0 to 1)", decimals: 3))
        blocks.append(SVGBarChart(id: figureID(idPrefix, "participation"),
                                  caption: "Participation ratio (tr S)² / tr(S²) of each tap: the effective number of independent channels (higher: more of them carry their own information).",
                                  categories: names, categoryLabel: "tap", series: series(\.participationRatio),
                                  valueLabel: "participation ratio (channels)", decimals: 1))
        return blocks
    }

    /// The mean correlation matrices as heatmaps, without and with the plug-ins side by side.
    public static func heatmaps(_ analysis: CorrelationAnalysis, idPrefix: String = "correlation") throws -> [any ReportBlock] {
        try analysis.results.map { result in
            FigureRow(try DiagnosticPictures.correlationHeatmaps(result, pictures: analysis.images.count).map { part, picture in
                try PictureFigure(id: figureID(idPrefix, result.name, part),
                                  caption: "\(result.name), \(part) plug-ins: the mean correlation matrix (r from -1, blue, to 1, red), channels in the spectral order of the matrix without plug-ins.",
                                  picture: picture)
            })
        }
    }
}
