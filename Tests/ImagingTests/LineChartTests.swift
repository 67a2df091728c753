import Foundation
import Imaging
import XCTest

final class LineChartTests: XCTestCase {
    private let radii: [Double] = [0, 2, 4, 6, 8, 10, 12]

    private func count(_ color: RGBColor, in rendered: (image: RGBImage, plot: PixelRect)) -> (inside: Int, all: Int) {
        (colours(rendered.image, in: rendered.plot)[color] ?? 0, colours(rendered.image)[color] ?? 0)
    }

    func testOneSeriesIsDrawnInsideThePlotWithLabels() {
        let chart = LineChart(title: "low-pass sweep", xLabel: "radius", yLabel: "mIoU (%)",
                              series: [.init(name: "low-pass", points: radii.map { ($0, 40 + $0 * 1.5) }, color: .series(0))])
        let rendered = chart.renderWithPlotArea(width: 640, height: 400)
        XCTAssertEqual(rendered.image.width, 640)
        XCTAssertEqual(rendered.image.height, 400)
        XCTAssertGreaterThan(count(.series(0), in: rendered).inside, 200)
        // Nothing of it beyond the plot, but for the markers on its edges.
        let p = rendered.plot
        let near = (image: rendered.image, plot: PixelRect(x: p.x - 8, y: p.y - 8, width: p.width + 16, height: p.height + 16))
        XCTAssertEqual(count(.series(0), in: near).inside, count(.series(0), in: rendered).all)
        for label in ["40", "60", "0", "12", "radius"] { XCTAssertTrue(containsText(rendered.image, label, scale: 1), label) }
        XCTAssertTrue(containsText(rendered.image, "low-pass sweep", scale: 2))
    }

    func testSeveralSeriesAndAReferenceLine() {
        let chart = LineChart(
            title: "FSS-1000", xLabel: "radius", yLabel: "mIoU",
            series: (0..<3).map { k in
                .init(name: "filter \(k)", points: radii.map { ($0, 50 + Double(k) * 4 - $0 * 0.3) }, color: .series(k), dashed: k == 2)
            },
            horizontalReferences: [(name: "baseline", y: 30, color: .gray)])
        let rendered = chart.renderWithPlotArea(width: 640, height: 400)
        for k in 0..<3 { XCTAssertGreaterThan(count(.series(k), in: rendered).inside, 100, "series \(k)") }
        XCTAssertGreaterThan(count(.gray, in: rendered).inside, 200, "the baseline")
        // The y axis reaches down to the reference line, well below the data.
        XCTAssertTrue(containsText(rendered.image, "30", scale: 1))
        XCTAssertTrue(containsText(rendered.image, "baseline", scale: 1))
    }

    func testLegendMovesBelowWhenEveryCornerHasData() {
        // A zigzag over the whole plot leaves no corner free.
        let zigzag = (0...40).map { (Double($0), $0 % 2 == 0 ? 0.0 : 1.0) }
        let named = LineChart(title: "zigzag", series: [.init(name: "zigzag", points: zigzag, color: .series(1))])
        var unnamed = named
        unnamed.series[0].name = ""
        let below = named.renderWithPlotArea(width: 500, height: 300)
        let none = unnamed.renderWithPlotArea(width: 500, height: 300)
        XCTAssertLessThan(below.plot.height, none.plot.height)
        XCTAssertGreaterThan(count(.series(1), in: below).all, count(.series(1), in: below).inside, "the key is below")
        XCTAssertTrue(containsText(below.image, "zigzag", scale: 1))
    }

    func testDegenerateDataDrawsWithoutTrapping() {
        let charts = [
            LineChart(title: "one point", series: [.init(name: "a", points: [(3, 0.7)], color: .series(0))]),
            LineChart(title: "flat", series: [.init(name: "a", points: radii.map { ($0, 0) }, color: .series(0))]),
            LineChart(title: "gap", series: [.init(name: "a", points: [(0, 1), (1, .nan), (2, 3), (.infinity, 4), (4, 2)],
                                                   color: .series(0))]),
            LineChart(title: "nothing finite", series: [.init(name: "a", points: [(.nan, .nan)], color: .series(0))],
                      horizontalReferences: [(name: "ref", y: .nan, color: .gray)]),
            LineChart(title: "empty"),
            LineChart(title: "far off", series: [.init(name: "a", points: [(0, 1e300), (1, -1e300), (2, 0.5)], color: .series(0))],
                      yRange: 0...1),
        ]
        for chart in charts {
            for (w, h) in [(640, 400), (120, 80), (20, 10), (1, 1)] {
                let rendered = chart.renderWithPlotArea(width: w, height: h)
                XCTAssertEqual(rendered.image.width, w)
                XCTAssertEqual(rendered.image.height, h)
            }
            let rendered = chart.renderWithPlotArea(width: 640, height: 400)
            if chart.title != "nothing finite" && chart.title != "empty" {
                XCTAssertGreaterThan(count(.series(0), in: rendered).inside, 20, chart.title)
            }
        }
        // The gap: the line stops at the missing value, the points around it keep markers.
        let gap = charts[2].renderWithPlotArea(width: 640, height: 400)
        XCTAssertGreaterThan(count(.series(0), in: gap).inside, 40)
    }

    func testSameInputSameBytes() {
        let chart = LineChart(title: "t", xLabel: "x", yLabel: "y",
                              series: [.init(name: "s", points: radii.map { ($0, sin($0)) }, color: .series(3), dashed: true)],
                              horizontalReferences: [(name: "r", y: 0.5, color: .black)])
        XCTAssertEqual(try PNGWriter.encode(chart.render(width: 400, height: 300)),
                       try PNGWriter.encode(chart.render(width: 400, height: 300)))
    }
}
