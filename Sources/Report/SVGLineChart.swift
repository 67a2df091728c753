import Foundation
import Imaging

/// A line chart as inline SVG: one or more series against a common x axis, dashed horizontal
/// reference lines (a baseline), labelled axes with round ticks (`AxisTicks`), and a legend
/// above the plot, where it never covers data. For a fine-tuning loss per step with its
/// running mean, or mIoU against a filter's radius per filter kind.
///
/// Points that are not finite are skipped and break their line. A series of more points than
/// the plot has room for is thinned to the first, lowest, highest and last point of each of
/// about a thousand runs, which keeps the drawn shape (spikes included) and the page small
/// whatever the number of steps.
public struct SVGLineChart: ReportBlock {
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var dashed: Bool
        /// Line width in user units.
        public var width: Double
        /// 0 to 1: a faint series (the raw losses under their running mean).
        public var opacity: Double
        /// Dots at the points; nil: when there are at most 40 of them.
        public var markers: Bool?
        /// nil: the series' position picks a colour of the palette.
        public var color: String?
        /// The shape of the dots; nil: the series' position picks one, so that series differ
        /// in shape as well as colour (print, colour-blind readers).
        public var shape: MarkerShape?

        public init(name: String, points: [(x: Double, y: Double)], dashed: Bool = false, width: Double = 2,
                    opacity: Double = 1, markers: Bool? = nil, color: String? = nil, shape: MarkerShape? = nil) {
            self.name = name
            self.points = points
            self.dashed = dashed
            self.width = width
            self.opacity = opacity
            self.markers = markers
            self.color = color
            self.shape = shape
        }

        var drawsMarkers: Bool { markers ?? (points.count <= 40) }
    }

    public var id: String
    public var caption: String
    /// Axis labels with their units, e.g. "step" and "loss (cross-entropy, nats)".
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var references: [(name: String, y: Double)]
    /// Fixed axis ends; nil: round values around the data.
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    public var width: Double
    public var height: Double

    public init(id: String, caption: String, xLabel: String, yLabel: String, series: [Series],
                references: [(name: String, y: Double)] = [], xRange: ClosedRange<Double>? = nil,
                yRange: ClosedRange<Double>? = nil, width: Double = 760, height: Double = 380) {
        precondition(!xLabel.isEmpty && !yLabel.isEmpty, "a chart's axes need labels")
        self.id = id
        self.caption = caption
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.references = references
        self.xRange = xRange
        self.yRange = yRange
        self.width = width
        self.height = height
    }

    public var figureIDs: [String] { [id] }

    static let thinningRuns = 1000

    public func render(into markup: inout Markup) {
        let entries = series.enumerated().map { index, s in
            SVGChart.LegendEntry(name: s.name, color: s.color ?? SVGChart.color(index),
                                 mark: .line(dashed: s.dashed, width: max(2, s.width), marker: s.drawsMarkers ? shape(index) : nil))
        } + references.map { SVGChart.LegendEntry(name: $0.name, color: SVGChart.hex(.gray), mark: .line(dashed: true, width: 2, marker: nil)) }
        let drawn = series.map { Self.thinned($0.points, runs: Self.thinningRuns) }
        let finite = drawn.flatMap { $0 }.filter { $0.x.isFinite && $0.y.isFinite }
        let ys = finite.map(\.y) + references.map(\.y).filter(\.isFinite)

        let legendWidth = width - 24
        let legendHeight = SVGChart.legendHeight(entries, width: legendWidth)
        var plot = SVGChart.Plot(left: 0, top: 12 + legendHeight + 10, right: width - 20,
                                 bottom: height - SVGChart.bottomAxisHeight)
        let yTicks: AxisTicks, y0: Double, y1: Double
        let maxYIntervals = max(2, Int(plot.height / 44))
        if let yRange, yRange.lowerBound < yRange.upperBound {
            yTicks = AxisTicks.inside(yRange.lowerBound, yRange.upperBound, minCount: 2, maxCount: maxYIntervals + 1)
            (y0, y1) = (yRange.lowerBound, yRange.upperBound)
        } else {
            yTicks = AxisTicks.covering(ys.min() ?? 0, ys.max() ?? 1, maxIntervals: maxYIntervals)
            (y0, y1) = (yTicks.values.first!, yTicks.values.last!)
        }
        let tickWidth = yTicks.labels.map { SVGChart.textWidth($0, size: SVGChart.tickFontSize) }.max() ?? 0
        let labelX = 10.0
        plot.left = labelX + SVGChart.fontSize + 10 + tickWidth + 8

        let xs = finite.map(\.x)
        let xTicks: AxisTicks, x0: Double, x1: Double
        if let xRange, xRange.lowerBound < xRange.upperBound {
            let widest = SVGChart.textWidth(AxisTicks.inside(xRange.lowerBound, xRange.upperBound).labels.last ?? "0", size: SVGChart.tickFontSize)
            xTicks = AxisTicks.inside(xRange.lowerBound, xRange.upperBound, minCount: 2, maxCount: max(2, Int(plot.width / (widest + 30))))
            (x0, x1) = (xRange.lowerBound, xRange.upperBound)
        } else {
            let (low, high) = (xs.min() ?? 0, xs.max() ?? 1)
            // The labels' width depends on the step, which depends on how many fit: measure
            // a fine draft's labels, then fit.
            let draft = AxisTicks.covering(low, high, maxIntervals: 12)
            let widest = max(draft.labels.map { SVGChart.textWidth($0, size: SVGChart.tickFontSize) }.max() ?? 0, 24)
            var intervals = max(1, Int(plot.width / (widest + 36)))
            // Whole-number x (steps, radii 1, 2, 3) gets no ticks between them: "step 2.5" does not exist.
            if xs.allSatisfy({ $0 == $0.rounded() }), high > low { intervals = min(intervals, max(1, Int(high - low))) }
            xTicks = AxisTicks.covering(low, high, maxIntervals: intervals)
            (x0, x1) = (xTicks.values.first!, xTicks.values.last!)
        }

        SVGChart.figure(id: id, caption: caption, width: width, height: height, into: &markup) { svg in
            SVGChart.legend(entries, x: 12, y: 10, width: legendWidth, into: &svg)
            SVGChart.leftAxis(yTicks, low: y0, high: y1, plot: plot, label: yLabel, labelX: labelX, into: &svg)
            SVGChart.bottomAxis(xTicks, low: x0, high: x1, plot: plot, label: xLabel, into: &svg)
            func position(_ p: (x: Double, y: Double)) -> (Double, Double) {
                (SVGChart.scale(p.x, x0, x1, plot.left, plot.right), SVGChart.scale(p.y, y0, y1, plot.bottom, plot.top))
            }
            svg.open("g", ["class": "references"])
            for reference in references where reference.y.isFinite {
                let y = SVGChart.scale(reference.y, y0, y1, plot.bottom, plot.top)
                svg.empty("line", ["x1": svgNumber(plot.left), "y1": svgNumber(y), "x2": svgNumber(plot.right), "y2": svgNumber(y),
                                   "stroke": SVGChart.hex(.gray), "stroke-width": "2", "stroke-dasharray": "6 4"])
            }
            svg.close("g")
            for (index, (s, points)) in zip(series, drawn).enumerated() {
                let color = s.color ?? SVGChart.color(index)
                var attributes: MarkupAttributes = ["class": "series", "fill": "none", "stroke": color,
                                                    "stroke-width": svgNumber(s.width), "stroke-linejoin": "round"]
                if s.dashed { attributes.append("stroke-dasharray", "6 4") }
                if s.opacity < 1 { attributes.append("opacity", svgNumber(s.opacity)) }
                svg.open("g", attributes)
                svg.element("title", text: s.name)
                for run in Self.finiteRuns(points) {
                    let text = run.map { p in let (x, y) = position(p); return svgNumber(x) + "," + svgNumber(y) }.joined(separator: " ")
                    if run.count == 1 {
                        let (x, y) = position(run[0])
                        svg.empty("circle", ["cx": svgNumber(x), "cy": svgNumber(y), "r": svgNumber(max(2, s.width)), "fill": color])
                    } else {
                        svg.empty("polyline", ["points": text])
                    }
                }
                if s.drawsMarkers {
                    for p in points where p.x.isFinite && p.y.isFinite {
                        let (x, y) = position(p)
                        SVGChart.marker(shape(index), x: x, y: y, size: 2 * s.width + 5, color: color, into: &svg)
                    }
                }
                svg.close("g")
            }
        }
    }

    /// The series' marker shape: its own, or one picked by its position.
    func shape(_ index: Int) -> MarkerShape {
        series[index].shape ?? [MarkerShape.circle, .square, .triangle, .diamond, .triangleDown, .cross][index % 6]
    }

    /// Runs of consecutive finite points.
    static func finiteRuns(_ points: [(x: Double, y: Double)]) -> [[(x: Double, y: Double)]] {
        var runs: [[(x: Double, y: Double)]] = [[]]
        for p in points {
            if p.x.isFinite && p.y.isFinite {
                runs[runs.count - 1].append(p)
            } else if !runs[runs.count - 1].isEmpty {
                runs.append([])
            }
        }
        return runs.filter { !$0.isEmpty }
    }

    /// At most about 4 x `runs` points: of each of `runs` consecutive stretches its first,
    /// lowest, highest and last point, in their order. Non-finite points are kept, so lines
    /// still break where the data does.
    static func thinned(_ points: [(x: Double, y: Double)], runs: Int) -> [(x: Double, y: Double)] {
        guard points.count > 4 * runs else { return points }
        var kept: [(x: Double, y: Double)] = []
        let length = (points.count + runs - 1) / runs
        for start in stride(from: 0, to: points.count, by: length) {
            let stretch = start..<min(start + length, points.count)
            var chosen: Set<Int> = [stretch.lowerBound, stretch.upperBound - 1]
            if let low = stretch.filter({ points[$0].y.isFinite }).min(by: { points[$0].y < points[$1].y }) { chosen.insert(low) }
            if let high = stretch.filter({ points[$0].y.isFinite }).max(by: { points[$0].y < points[$1].y }) { chosen.insert(high) }
            chosen.formUnion(stretch.filter { !points[$0].y.isFinite || !points[$0].x.isFinite })
            kept += chosen.sorted().map { points[$0] }
        }
        return kept
    }
}
