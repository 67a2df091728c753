import Foundation
import Imaging

/// A bar chart as inline SVG, bars running across from a category axis on the left: one bar
/// per category (per-class IoU), or a group of bars per category, one per series side by side
/// (before and after, per style or per class). Horizontal bars keep every category name
/// readable, unturned, however many there are (FSS-1000 has 240 test classes); the chart
/// grows downwards with them.
///
/// Values are written at the end of their bars. Bars start at 0, so changes (negative values)
/// run left of the zero line. A value that is nil or not finite leaves its bar out and says
/// "n/a" in its place.
public struct SVGBarChart: ReportBlock {
    public struct Series {
        public var name: String
        /// One value per category (nil: no value).
        public var values: [Double?]
        /// nil: the series' position picks a colour of the palette.
        public var color: String?
        /// For a change: negative values drawn in a colour of their own, under a legend entry
        /// of their own (e.g. "B worse than A"), so that the colour never says "better" of a loss.
        public var negative: (name: String, color: String)?

        public init(name: String, values: [Double?], color: String? = nil, negative: (name: String, color: String)? = nil) {
            self.name = name
            self.values = values
            self.color = color
            self.negative = negative
        }
    }

    public var id: String
    public var caption: String
    public var categories: [String]
    /// The categories' axis label, e.g. "class".
    public var categoryLabel: String
    public var series: [Series]
    /// The value axis label with its unit, e.g. "foreground IoU (%)".
    public var valueLabel: String
    /// Fixed ends of the value axis (0...100 for IoU); nil: round values around the data and 0.
    public var valueRange: ClosedRange<Double>?
    /// Decimals of the values written at the bars' ends.
    public var decimals: Int
    public var width: Double

    public init(id: String, caption: String, categories: [String], categoryLabel: String, series: [Series],
                valueLabel: String, valueRange: ClosedRange<Double>? = nil, decimals: Int = 1, width: Double = 760) {
        precondition(!categoryLabel.isEmpty && !valueLabel.isEmpty, "a chart's axes need labels")
        precondition(series.allSatisfy { $0.values.count == categories.count }, "a bar series needs one value per category")
        self.id = id
        self.caption = caption
        self.categories = categories
        self.categoryLabel = categoryLabel
        self.series = series
        self.valueLabel = valueLabel
        self.valueRange = valueRange
        self.decimals = decimals
        self.width = width
    }

    public var figureIDs: [String] { [id] }

    /// Longer category names are cut with an ellipsis (the whole name is the bar's tooltip).
    static let longestCategoryLabel = 36

    public func render(into markup: inout Markup) {
        let entries = series.enumerated().flatMap { index, s in
            [SVGChart.LegendEntry(name: s.name, color: s.color ?? SVGChart.color(index), mark: .bar)]
                + (s.negative.map { [SVGChart.LegendEntry(name: $0.name, color: $0.color, mark: .bar)] } ?? [])
        }
        let legendWidth = width - 24
        let legendHeight = SVGChart.legendHeight(entries, width: legendWidth)
        let barThickness = series.count == 1 ? 16.0 : 12.0
        let rowHeight = Double(max(1, series.count)) * barThickness + 10
        let shown = categories.map { $0.count > Self.longestCategoryLabel ? String($0.prefix(Self.longestCategoryLabel - 1)) + "…" : $0 }
        let categoryWidth = shown.map { SVGChart.textWidth($0) }.max() ?? 0
        let labelX = 10.0
        let top = 12 + legendHeight + 10
        let plot = SVGChart.Plot(left: labelX + SVGChart.fontSize + 12 + categoryWidth + 10, top: top,
                                 right: width - 56, bottom: top + Double(max(1, categories.count)) * rowHeight)
        let height = plot.bottom + SVGChart.bottomAxisHeight

        let values = series.flatMap(\.values).compactMap { $0 }.filter(\.isFinite)
        let ticks: AxisTicks, low: Double, high: Double
        let widest = SVGChart.textWidth(String(format: "%.\(decimals)f", values.map(abs).max() ?? 100), size: SVGChart.tickFontSize)
        let maxIntervals = max(2, Int(plot.width / (widest + 40)))
        if let valueRange, valueRange.lowerBound < valueRange.upperBound {
            ticks = AxisTicks.inside(valueRange.lowerBound, valueRange.upperBound, minCount: 2, maxCount: maxIntervals + 1)
            (low, high) = (valueRange.lowerBound, valueRange.upperBound)
        } else {
            ticks = AxisTicks.covering(min(0, values.min() ?? 0), max(0, values.max() ?? 1), maxIntervals: maxIntervals)
            (low, high) = (ticks.values.first!, ticks.values.last!)
        }
        let zero = SVGChart.scale(min(max(0, low), high), low, high, plot.left, plot.right)

        SVGChart.figure(id: id, caption: caption, width: width, height: height, into: &markup) { svg in
            SVGChart.legend(entries, x: 12, y: 10, width: legendWidth, into: &svg)
            SVGChart.bottomAxis(ticks, low: low, high: high, plot: plot, label: valueLabel, into: &svg)
            svg.open("g", ["class": "axis category-axis"])
            for (row, name) in shown.enumerated() {
                svg.element("text", ["class": "tick", "x": svgNumber(plot.left - 8),
                                     "y": svgNumber(plot.top + (Double(row) + 0.5) * rowHeight), "text-anchor": "end",
                                     "dominant-baseline": "central"], text: name)
            }
            let middle = (plot.top + plot.bottom) / 2
            svg.element("text", ["class": "axis-label y", "x": svgNumber(labelX), "y": svgNumber(middle), "text-anchor": "middle",
                                 "dominant-baseline": "hanging", "transform": "rotate(-90 \(svgNumber(labelX)) \(svgNumber(middle)))"],
                        text: categoryLabel)
            svg.close("g")
            svg.open("g", ["class": "bars"])
            for (row, category) in categories.enumerated() {
                for (index, s) in series.enumerated() {
                    let y = plot.top + Double(row) * rowHeight + 5 + Double(index) * barThickness
                    let middleY = svgNumber(y + barThickness / 2)
                    guard let value = s.values[row], value.isFinite else {
                        svg.element("text", ["x": svgNumber(zero + 4), "y": middleY, "dominant-baseline": "central",
                                             "font-size": "11", "fill": "#777777"], text: "n/a")
                        continue
                    }
                    let end = SVGChart.scale(min(max(value, low), high), low, high, plot.left, plot.right)
                    svg.open("rect", ["x": svgNumber(min(zero, end)), "y": svgNumber(y), "width": svgNumber(abs(end - zero)),
                                      "height": svgNumber(barThickness - 2),
                                      "fill": value < 0 ? s.negative?.color ?? s.color ?? SVGChart.color(index) : s.color ?? SVGChart.color(index)])
                    svg.element("title", text: "\(category), \(s.name): " + String(format: "%.\(decimals)f", value))
                    svg.close("rect")
                    let text = String(format: "%.\(decimals)f", value)
                    svg.element("text", ["class": "value", "x": svgNumber(value < 0 ? end - 4 : end + 4), "y": middleY,
                                         "text-anchor": value < 0 ? "end" : "start", "dominant-baseline": "central",
                                         "font-size": "11"], text: text)
                }
            }
            svg.empty("line", ["x1": svgNumber(zero), "y1": svgNumber(plot.top), "x2": svgNumber(zero), "y2": svgNumber(plot.bottom),
                               "stroke": SVGChart.axisColor])
            svg.close("g")
        }
    }
}
