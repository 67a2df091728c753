import Foundation
import Imaging
@testable import Report
import XCTest

/// The SVG charts: labelled axes, a legend, round ticks, and the data where it belongs.
final class SVGChartTests: XCTestCase {
    func svg(_ block: any ReportBlock) -> String {
        var markup = Markup()
        block.render(into: &markup)
        XCTAssertTrue(markup.isBalanced)
        return markup.text
    }

    func read(_ block: any ReportBlock) throws -> ReportStructure {
        var page = HTMLReport(title: "t", generator: "g")
        page.add("Chart") { block }
        return try structure(page)
    }

    func testLineChartHasLabelledAxesALegendAndOnePolylinePerSeries() throws {
        let chart = SVGLineChart(id: "sweep", caption: "mIoU against radius.", xLabel: "radius (frequency index)", yLabel: "mIoU (%)",
                                 series: [.init(name: "low-pass", points: [(1, 40), (2, 45), (3, 50)]),
                                          .init(name: "high-pass", points: [(1, 30), (2, 20), (3, 25)])],
                                 references: [("no filter", 42)])
        let read = try read(chart)
        XCTAssertEqual(read.problems, [])
        let figure = try XCTUnwrap(read.figure("sweep"))
        XCTAssertEqual(figure.kind, "svg")
        XCTAssertEqual(figure.axisLabels, ["mIoU (%)", "radius (frequency index)"])
        XCTAssertEqual(figure.legendEntries, ["low-pass", "high-pass", "no filter"])
        XCTAssertEqual(figure.caption, "mIoU against radius.")
        let text = svg(chart)
        XCTAssertEqual(occurrences(of: "<polyline", in: text), 2)
        // Three markers per series (circles for the first, squares for the second), one in each legend sample.
        XCTAssertEqual(occurrences(of: "<circle", in: text), 4)
        XCTAssertEqual(occurrences(of: "<rect", in: text) - 1, 4, "the background and four squares")
        // The reference line is dashed across the plot.
        XCTAssertTrue(text.contains("<g class=\"references\"><line"), text)
        // Round ticks around the data: 20 to 50 in steps of 5 or 10.
        for label in ["20", "30", "40", "50"] { XCTAssertTrue(text.contains(">\(label)</text>"), label) }
    }

    func testTicksCoverTheDataAndPointsFallInsideThePlot() throws {
        let points: [(x: Double, y: Double)] = (1...50).map { (Double($0), 0.7 - 0.004 * Double($0)) }
        let text = svg(SVGLineChart(id: "loss", caption: "c", xLabel: "step", yLabel: "loss (nats)",
                                    series: [.init(name: "loss", points: points)]))
        let polyline = try XCTUnwrap(text.components(separatedBy: "<polyline points=\"").dropFirst().first?.components(separatedBy: "\"").first)
        let coordinates = polyline.split(separator: " ").map { $0.split(separator: ",").map { Double($0)! } }
        XCTAssertEqual(coordinates.count, 50)
        // x grows with the step, y with the loss falling (SVG's y runs down).
        XCTAssertTrue(zip(coordinates, coordinates.dropFirst()).allSatisfy { $0[0] < $1[0] && $0[1] < $1[1] })
        XCTAssertTrue(coordinates.allSatisfy { $0[0] > 0 && $0[0] < 760 && $0[1] > 0 && $0[1] < 380 })
        XCTAssertTrue(text.contains(">0.50</text>") || text.contains(">0.5</text>"), "a tick at or below the lowest loss 0.5")
        XCTAssertTrue(text.contains(">0.70</text>") || text.contains(">0.7</text>"), "a tick at or above the highest loss 0.696")
    }

    func testWholeNumberStepsGetNoTicksBetweenThem() {
        let text = svg(SVGLineChart(id: "c", caption: "c", xLabel: "step", yLabel: "loss",
                                    series: [.init(name: "s", points: (1...5).map { (Double($0), 0.7) })]))
        let xAxis = text.components(separatedBy: "<g class=\"axis x-axis\">")[1].components(separatedBy: "</g>")[0]
        let ticks = xAxis.components(separatedBy: "class=\"tick\"").dropFirst().map { $0.components(separatedBy: ">")[1].components(separatedBy: "<")[0] }
        XCTAssertEqual(ticks, ["1", "2", "3", "4", "5"])
    }

    func testMissingValuesBreakTheLine() {
        let text = svg(SVGLineChart(id: "c", caption: "c", xLabel: "x", yLabel: "y",
                                    series: [.init(name: "s", points: [(1, 1), (2, 2), (3, .nan), (4, 3), (5, 4)], markers: false)]))
        XCTAssertEqual(occurrences(of: "<polyline", in: text), 2)
    }

    func testLongSeriesAreThinnedKeepingTheirExtremes() {
        var points: [(x: Double, y: Double)] = (0..<100_000).map { (Double($0), 1 + 0.1 * sin(Double($0))) }
        points[54_321].y = 9
        points[70_000].y = -5
        let thinned = SVGLineChart.thinned(points, runs: 1000)
        XCTAssertLessThanOrEqual(thinned.count, 4000)
        XCTAssertTrue(thinned.contains { $0.y == 9 } && thinned.contains { $0.y == -5 })
        XCTAssertEqual(thinned.first?.x, 0)
        XCTAssertEqual(thinned.last?.x, 99_999)
        XCTAssertTrue(zip(thinned, thinned.dropFirst()).allSatisfy { $0.x < $1.x }, "in order")
        let text = svg(SVGLineChart(id: "c", caption: "c", xLabel: "step", yLabel: "loss", series: [.init(name: "s", points: points)]))
        XCTAssertLessThan(text.utf8.count, 200_000, "a million-step curve must not make a page of megabytes")
    }

    func testBarChartDrawsABarPerValueAndGroupsSeries() throws {
        let chart = SVGBarChart(id: "styles", caption: "mIoU per style.", categories: ["satellite", "xray", "lesion"],
                                categoryLabel: "style",
                                series: [.init(name: "before", values: [30, 40, nil]), .init(name: "after", values: [35, 38, 20])],
                                valueLabel: "mIoU (%)", valueRange: 0...100)
        let read = try read(chart)
        XCTAssertEqual(read.problems, [])
        let figure = try XCTUnwrap(read.figure("styles"))
        XCTAssertEqual(figure.axisLabels, ["mIoU (%)", "style"])
        XCTAssertEqual(figure.legendEntries, ["before", "after"])
        let text = svg(chart)
        // Five bars (one value missing), plus the background and two legend swatches.
        XCTAssertEqual(occurrences(of: "<rect", in: text), 5 + 1 + 2)
        XCTAssertTrue(text.contains(">n/a</text>"))
        for value in ["30.0", "40.0", "35.0", "38.0", "20.0"] { XCTAssertTrue(text.contains(">\(value)</text>"), value) }
        for name in ["satellite", "xray", "lesion"] { XCTAssertTrue(text.contains(">\(name)</text>"), name) }
        for tick in ["0", "20", "40", "60", "80", "100"] { XCTAssertTrue(text.contains(">\(tick)</text>"), tick) }
        // The bars of one category sit side by side: "before" above "after".
        let satellite = text.components(separatedBy: "<title>satellite, ")
        XCTAssertEqual(satellite.count, 3)
    }

    func testNegativeChangesRunLeftOfZeroInTheirOwnColour() throws {
        let chart = SVGBarChart(id: "change", caption: "c", categories: ["a", "b"], categoryLabel: "class",
                                series: [.init(name: "better", values: [2.5, -1.5], color: "#009e73", negative: ("worse", "#d55e00"))],
                                valueLabel: "change (points)")
        let read = try read(chart)
        XCTAssertEqual(read.figure("change")?.legendEntries, ["better", "worse"])
        let text = svg(chart)
        let bars = text.components(separatedBy: "<rect ").dropFirst().filter { $0.contains("<title>") || $0.contains("</rect>") }
        XCTAssertEqual(bars.count, 2)
        func attribute(_ name: String, _ bar: String) -> Double { Double(bar.components(separatedBy: "\(name)=\"")[1].components(separatedBy: "\"")[0]) ?? .nan }
        let (up, down) = (bars[0], bars[1])
        XCTAssertTrue(up.contains("fill=\"#009e73\""))
        XCTAssertTrue(down.contains("fill=\"#d55e00\""))
        // The positive bar starts where the negative one ends: at zero.
        XCTAssertEqual(attribute("x", up), attribute("x", down) + attribute("width", down), accuracy: 0.02)
        XCTAssertEqual(attribute("width", up) / attribute("width", down), 2.5 / 1.5, accuracy: 0.01)
    }

    func testLongCategoryNamesAreCutAndKeptWhole() {
        let name = String(repeating: "very long class name ", count: 4)
        let text = svg(SVGBarChart(id: "c", caption: "c", categories: [name], categoryLabel: "class",
                                   series: [.init(name: "IoU", values: [50])], valueLabel: "IoU (%)"))
        XCTAssertTrue(text.contains(">" + String(name.prefix(35)) + "…</text>"))
        XCTAssertTrue(text.contains("<title>" + name + ", IoU: 50.0</title>"))
    }
}
