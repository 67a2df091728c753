import Evaluation
import Foundation

/// The page of `cdfss report compare A B --html`: the two runs, their scores side by side with
/// the change, every class's IoU as grouped bars (A and B) and the change as bars of its own,
/// and the config keys in which the runs differ.
public enum ComparisonPage {
    public static func page(_ comparison: ReportComparison, generator: String) -> HTMLReport {
        let (a, b) = (comparison.a, comparison.b)
        var page = HTMLReport(
            title: "Report comparison: \(a.benchmark), A against B",
            lead: String(format: "mIoU %.2f%% (A) against %.2f%% (B), a change of %+.2f points; FB-IoU %.2f%% against %.2f%%.",
                         comparison.miou.a, comparison.miou.b, comparison.miou.change, comparison.fbiou.a, comparison.fbiou.b),
            generator: generator)
        func describe(_ side: ReportComparison.Side) -> String {
            "\(side.benchmark), \(side.shots)-shot, \(side.episodes) episodes, seed\(side.seeds.count == 1 ? "" : "s") "
                + side.seeds.map(String.init).joined(separator: ", ") + ", adaptation \(side.adaptation), masker \(side.masker)"
        }
        page.add("Reports") {
            KeyValueTable(rows: [("A: " + a.report, describe(a)), ("B: " + b.report, describe(b))])
            if a.seeds.count > 1 || b.seeds.count > 1 {
                Paragraph("A report of several seeds counts with its mean over the seeds: per class the mean of the runs' class IoUs, and the summary's mean mIoU and FB-IoU.", note: true)
            }
        }
        page.add("Scores") {
            HTMLTable(columns: [.text("score"), .number("A, %"), .number("B, %"), .number("change B - A, points")],
                      rows: [["mIoU", .number(comparison.miou.a), .number(comparison.miou.b), .change(comparison.miou.change)],
                             ["FB-IoU", .number(comparison.fbiou.a), .number(comparison.fbiou.b), .change(comparison.fbiou.change)]])
        }
        let categories = comparison.classes.map { "\($0.classIndex): \($0.name)" }
        page.add("Per class") {
            HTMLTable(columns: [.number("class"), .text("name"), .number("A, IoU %"), .number("B, IoU %"), .number("change, points")],
                      rows: comparison.classes.map { row in
                          [HTMLTable.Cell("\(row.classIndex)"), HTMLTable.Cell(row.name), .number(row.a), .number(row.b), .change(row.change)]
                      })
            SVGBarChart(id: "class-iou-a-b", caption: "Foreground IoU of each class in A and in B.",
                        categories: categories, categoryLabel: "class",
                        series: [.init(name: "A: " + a.report, values: comparison.classes.map(\.a)),
                                 .init(name: "B: " + b.report, values: comparison.classes.map(\.b))],
                        valueLabel: "foreground IoU (%)", valueRange: 0...100)
            SVGBarChart(id: "class-iou-change", caption: "Change of each class's IoU from A to B (right: B is better).",
                        categories: categories, categoryLabel: "class",
                        series: [.init(name: "B better than A (change > 0)", values: comparison.classes.map(\.change), color: SVGChart.color(2),
                                       negative: ("B worse than A (change < 0)", SVGChart.color(3)))],
                        valueLabel: "change of foreground IoU (percentage points)", decimals: 2)
        }
        page.add("Config differences") {
            if comparison.configDifferences.isEmpty {
                Paragraph("The two runs have the same config.")
            } else {
                HTMLTable(columns: [.text("key"), .text("A"), .text("B")],
                          rows: comparison.configDifferences.map { [HTMLTable.Cell($0.key), HTMLTable.Cell($0.a), HTMLTable.Cell($0.b)] })
            }
        }
        return page
    }
}
