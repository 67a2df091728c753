import Evaluation
import Foundation
import FreqMask

/// A filter sweep on a page (`cdfss analyze filter-sweep --html`): the table of every filter's
/// scores beside the unfiltered model, and per spectrum part a chart of mIoU against the
/// filter radius with a line per filter kind and the unfiltered model dashed, and the same
/// for the layer-4 mean |r|.
public enum FilterSweepSections {
    public static func blocks(_ report: FilterSweepReport, idPrefix: String = "sweep") -> [any ReportBlock] {
        let base = report.baseline
        var rows: [[HTMLTable.Cell]] = [["unfiltered", "-", "-", .number(base.miou), .number(base.fbiou), .number(base.meanAbsR, decimals: 4),
                                         .number(base.participationRatio, decimals: 1)]]
        for row in report.filters {
            rows.append([HTMLTable.Cell(row.kind), HTMLTable.Cell(row.part), HTMLTable.Cell(radiusText(row)),
                         .number(row.miou), .number(row.fbiou), .number(row.meanAbsR, decimals: 4), .number(row.participationRatio, decimals: 1)])
        }
        var blocks: [any ReportBlock] = [
            HTMLTable(columns: [.text("filter"), .text("part"), .text("radius"), .number("mIoU %"), .number("FB-IoU %"),
                                .number("mean |r|"), .number("participation ratio")], rows: rows),
        ]
        let place = report.config.target == "image" ? "input picture" : "layer-4 features"
        let parts = SpectrumPart.allCases.map(\.rawValue).filter { part in report.filters.contains { $0.part == part } }
        for part in parts {
            func lines(_ value: (FilterSweepReport.Row) -> Double) -> [SVGLineChart.Series] {
                ["low-pass", "high-pass", "band-pass"].compactMap { kind in
                    let points = report.filters.filter { $0.part == part && $0.kind == kind }
                        .map { (x: centre($0), y: value($0)) }.sorted { $0.x < $1.x }
                    return points.isEmpty ? nil : SVGLineChart.Series(name: kind == "band-pass" ? "band-pass (band centre)" : kind,
                                                                      points: points, markers: true)
                }
            }
            blocks.append(SVGLineChart(id: figureID(idPrefix, part, "miou"),
                                       caption: "mIoU with fixed \(part) filters on the \(place), against the filter radius; the unfiltered model dashed.",
                                       xLabel: "radius (frequency index from the zero frequency)", yLabel: "mIoU (%)",
                                       series: lines(\.miou), references: [("no filter", base.miou)]))
            blocks.append(SVGLineChart(id: figureID(idPrefix, part, "correlation"),
                                       caption: "Layer-4 channel correlation of the episodes' query pictures under the same \(part) filters.",
                                       xLabel: "radius (frequency index from the zero frequency)", yLabel: "mean |r| (Pearson, 0 to 1)",
                                       series: lines(\.meanAbsR), references: [("no filter", base.meanAbsR)]))
        }
        return blocks
    }

    static func radiusText(_ row: FilterSweepReport.Row) -> String {
        if let radius = row.radius { return String(format: row.kind == "high-pass" ? "r > %g" : "r <= %g", radius) }
        if let radii = row.radii, radii.count == 2 { return String(format: "%g < r <= %g", radii[0], radii[1]) }
        return "-"
    }

    static func centre(_ row: FilterSweepReport.Row) -> Double {
        if let radius = row.radius { return radius }
        if let radii = row.radii, radii.count == 2 { return (radii[0] + radii[1]) / 2 }
        return .nan
    }
}
