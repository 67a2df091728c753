import Foundation
import Imaging
import Report
import TensorCore
import XCTest

/// A page assembled as `HTMLReport`'s documentation shows (the demo's page of several target
/// styles): it compiles, and it holds what it promises.
final class PageAssemblyTests: XCTestCase {
    func testAPageOfSeveralStylesInAFewLines() throws {
        let styles = ["satellite", "xray", "lesion"]
        let before = [31.5, 60.2, 44.0], after = [35.0, 58.9, 47.5]
        let examples = styles.map { ($0, Canvas(width: 12, height: 8).image) }
        let checkpoint = "builtin:deterministic"

        var page = HTMLReport(title: "cdfss demo: three target styles",
                              lead: "mIoU per style before and after fine-tuning the maskers.", generator: "cdfss 0.1.0 demo")
        page.add("Configuration") { KeyValueTable(rows: [("checkpoint", checkpoint), ("shots", "1")]) }
        page.add("Scores per style") {
            HTMLTable(columns: [.text("style"), .number("before, mIoU %"), .number("after, mIoU %"), .number("change")],
                      rows: styles.indices.map { [HTMLTable.Cell(styles[$0]), .number(before[$0]), .number(after[$0]),
                                                  .change(after[$0] - before[$0])] })
            SVGBarChart(id: "styles", caption: "mIoU per style, before and after fine-tuning.", categories: styles,
                        categoryLabel: "style", series: [.init(name: "before", values: before), .init(name: "after", values: after)],
                        valueLabel: "mIoU (%)", valueRange: 0...100)
        }
        try page.add("Example episodes") {
            for (style, picture) in examples {
                try PictureFigure(id: figureID("episode", style), caption: "An episode of \(style).", picture: picture)
            }
        }

        let read = try ReportStructure(parsing: try page.encoded())
        XCTAssertEqual(read.problems, [])
        XCTAssertEqual(read.declaredFigures, ["styles", "episode-satellite", "episode-xray", "episode-lesion"])
        XCTAssertEqual(read.figure("styles")?.legendEntries, ["before", "after"])
        let text = try page.rendered()
        XCTAssertTrue(text.contains("<td>xray</td><td class=\"num\">60.20</td><td class=\"num\">58.90</td><td class=\"num worse\">-1.30</td>"))
    }
}
