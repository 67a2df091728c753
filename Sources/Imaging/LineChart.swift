import Foundation

/// A line chart of one or more series (e.g. mIoU against a frequency filter's radius) with
/// dashed horizontal reference lines (e.g. the unfiltered baseline): title, axes with round
/// tick values (steps of 1, 2 or 5 times a power of ten), axis labels, a marker at every
/// point and a legend. The legend goes into the first corner of the plot where it covers
/// no data (top right, top left, bottom right, bottom left), below the plot when there is
/// none. Points that are not finite are skipped and break their series' line.
public struct LineChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        /// Joined in the order given.
        public var points: [(x: Double, y: Double)]
        public var color: RGBColor
        public var dashed: Bool
        /// nil: the series' index picks one, so that series differ in shape as well as colour.
        public var marker: MarkerShape?

        public init(name: String, points: [(x: Double, y: Double)], color: RGBColor, dashed: Bool = false,
                    marker: MarkerShape? = nil) {
            self.name = name
            self.points = points
            self.color = color
            self.dashed = dashed
            self.marker = marker
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Drawn dashed across the whole plot and listed in the legend.
    public var horizontalReferences: [(name: String, y: Double, color: RGBColor)]
    /// The ends of the x axis; nil: round values around the data.
    public var xRange: ClosedRange<Double>?
    /// The ends of the y axis; nil: round values around the data and the reference lines.
    public var yRange: ClosedRange<Double>?

    public init(title: String, xLabel: String = "", yLabel: String = "", series: [Series] = [],
                horizontalReferences: [(name: String, y: Double, color: RGBColor)] = [],
                xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.horizontalReferences = horizontalReferences
        self.xRange = xRange
        self.yRange = yRange
    }

    /// The chart as a `width` x `height` picture. Text is drawn at twice the size from
    /// 900 x 500 pixels up.
    public func render(width: Int, height: Int) -> RGBImage {
        renderWithPlotArea(width: width, height: height).image
    }

    /// The picture and where its plot area lies in it (for tests and for callers that
    /// annotate the plot).
    public func renderWithPlotArea(width: Int, height: Int) -> (image: RGBImage, plot: PixelRect) {
        let inside = draw(width: max(1, width), height: max(1, height), legendBelow: false)
        if inside.legendFits { return (inside.image, inside.plot) }
        let below = draw(width: max(1, width), height: max(1, height), legendBelow: true)
        return (below.image, below.plot)
    }

    /// One legend line: a sample of the line (and marker) and the name.
    private struct LegendEntry {
        var name: String
        var color: RGBColor
        var dashed: Bool
        var marker: MarkerShape?
    }

    /// The series' marker: its own, or one chosen by its index.
    private func marker(_ index: Int) -> MarkerShape {
        series[index].marker ?? MarkerShape.allCases[index % MarkerShape.allCases.count]
    }

    /// Draws the chart; `legendFits` is false when the legend had to stay inside the plot
    /// and covers data there in every corner.
    private func draw(width: Int, height: Int, legendBelow: Bool) -> (image: RGBImage, legendFits: Bool, plot: PixelRect) {
        let s = width >= 900 && height >= 500 ? 2 : 1
        let glyph = BitmapFont.glyphHeight * s
        let margin = 10 * s, tickLength = 4 * s
        let lineWidth = s + 1, markerSize = 5 + 2 * s
        let dash = (on: 6 * s, off: 4 * s)
        // Room around the plot so that markers on its edges are drawn whole.
        let pad = markerSize / 2 + lineWidth
        var canvas = Canvas(width: width, height: height)

        // A two-line large title would take too much of a short chart.
        let heading = FigureTitle(title, width: width - 2 * margin, labelScale: s, largeLines: height >= 360 * s ? 2 : 1)
        heading.draw(on: &canvas, centerX: width / 2, top: margin)
        let titleBottom = margin + heading.height

        let entries = series.enumerated().filter { !$0.element.name.isEmpty }.map {
            LegendEntry(name: $0.element.name, color: $0.element.color, dashed: $0.element.dashed, marker: marker($0.offset))
        } + horizontalReferences.filter { !$0.name.isEmpty }.map {
            LegendEntry(name: $0.name, color: $0.color, dashed: true, marker: nil)
        }
        let entryHeight = glyph + 5 * s, sampleLength = 24 * s, legendPad = 6 * s
        // Below the plot the entries run in rows across the picture.
        let entryWidths = entries.map { sampleLength + 6 * s + BitmapFont.textSize($0.name, scale: s).width }
        let belowRows = legendBelow ? flowRows(entryWidths, gap: 16 * s, width: width - 2 * margin) : []
        let belowHeight = belowRows.isEmpty ? 0 : belowRows.count * entryHeight + 8 * s

        // Vertical layout first: the y ticks depend on the plot's height only.
        let xLabelHeight = xLabel.isEmpty ? 0 : glyph + 6 * s
        let plotTop = titleBottom + max(pad, 8 * s)
        let plotBottom = height - margin - belowHeight - xLabelHeight - glyph - tickLength - 3 * s
        let plotHeight = max(2, plotBottom - plotTop)

        let (dataX, dataY) = dataBounds()
        let yTicks: AxisTicks, y0: Double, y1: Double
        let maxYIntervals = max(1, plotHeight / (40 * s))
        if let yRange, yRange.lowerBound.isFinite, yRange.upperBound.isFinite, yRange.lowerBound < yRange.upperBound {
            yTicks = AxisTicks.inside(yRange.lowerBound, yRange.upperBound, minCount: 2, maxCount: maxYIntervals + 1)
            (y0, y1) = (yRange.lowerBound, yRange.upperBound)
        } else {
            yTicks = AxisTicks.covering(dataY.0, dataY.1, maxIntervals: maxYIntervals)
            (y0, y1) = (yTicks.values.first!, yTicks.values.last!)
        }
        let yLabels = yTicks.labels
        let yLabelWidth = yLabels.map { BitmapFont.textSize($0, scale: s).width }.max() ?? 0
        let plotLeft = margin + (yLabel.isEmpty ? 0 : glyph + 8 * s) + yLabelWidth + 3 * s + tickLength

        // Horizontal: as many x ticks as fit with their labels apart; the right margin
        // leaves room for half of the last label, which is centred on the plot's edge.
        var plotWidth = max(2, width - margin - 12 * s - plotLeft)
        let xTicks: AxisTicks, x0: Double, x1: Double
        let fixedX = xRange.flatMap { r in
            r.lowerBound.isFinite && r.upperBound.isFinite && r.lowerBound < r.upperBound ? r : nil
        }
        func xTicksFor(_ n: Int) -> AxisTicks {
            if let fixedX { return AxisTicks.inside(fixedX.lowerBound, fixedX.upperBound, minCount: 2, maxCount: n + 1) }
            return AxisTicks.covering(dataX.0, dataX.1, maxIntervals: n)
        }
        var n = max(1, plotWidth / (60 * s))
        var candidate = xTicksFor(n)
        while n > 1 {
            let widest = candidate.labels.map { BitmapFont.textSize($0, scale: s).width }.max() ?? 0
            if (widest + 12 * s) * max(1, candidate.values.count - 1) <= plotWidth { break }
            n -= 1
            candidate = xTicksFor(n)
        }
        xTicks = candidate
        (x0, x1) = fixedX.map { ($0.lowerBound, $0.upperBound) } ?? (xTicks.values.first!, xTicks.values.last!)
        let xLabels = xTicks.labels
        let lastHalf = (xLabels.last.map { BitmapFont.textSize($0, scale: s).width } ?? 0) / 2
        plotWidth = max(2, width - max(margin, lastHalf + 4 * s, pad) - plotLeft)
        let plot = PixelRect(x: plotLeft, y: plotTop, width: plotWidth, height: plotHeight)

        // Data to pixels. Far-off values (outside a fixed range) are held a few plot sizes
        // away, so the conversion to Int cannot overflow; the plot's clip hides them.
        func px(_ x: Double) -> Int {
            let f = max(-4, min(5, (x - x0) / (x1 - x0)))
            return plot.x + Int((f * Double(plot.width - 1)).rounded())
        }
        func py(_ y: Double) -> Int {
            let f = max(-4, min(5, (y1 - y) / (y1 - y0)))
            return plot.y + Int((f * Double(plot.height - 1)).rounded())
        }

        // The plot is drawn on a canvas of its own, `pad` larger on every side, so that data
        // beyond a fixed range stays out of the margins, and the legend can look for room.
        let grid = RGBColor(red: 232, green: 232, blue: 232)
        var inner = Canvas(width: plot.width + 2 * pad, height: plot.height + 2 * pad)
        let shift = (x: pad - plot.x, y: pad - plot.y)
        for value in yTicks.values {
            let y = py(value) + shift.y
            inner.line(from: (pad, y), to: (pad + plot.width - 1, y), color: grid)
        }
        for value in xTicks.values {
            let x = px(value) + shift.x
            inner.line(from: (x, pad), to: (x, pad + plot.height - 1), color: grid)
        }
        for reference in horizontalReferences where reference.y.isFinite {
            let y = py(reference.y) + shift.y
            inner.line(from: (pad, y), to: (pad + plot.width - 1, y), color: reference.color, thickness: lineWidth, dash: dash)
        }
        for (index, item) in series.enumerated() {
            for run in finiteRuns(item.points) {
                inner.polyline(run.map { (px($0.x) + shift.x, py($0.y) + shift.y) }, color: item.color,
                               thickness: lineWidth, dash: item.dashed ? dash : nil)
            }
            for point in item.points where point.x.isFinite && point.y.isFinite {
                inner.marker(marker(index), x: px(point.x) + shift.x, y: py(point.y) + shift.y, size: markerSize, color: item.color)
            }
        }

        // The legend inside: the first corner where it hides nothing but grid lines.
        let legendWidth = (entryWidths.max() ?? 0) + 2 * legendPad
        let legendHeight = entries.count * entryHeight + 2 * legendPad - 5 * s
        var legendBox: PixelRect? = nil
        var legendFits = entries.isEmpty || legendBelow
        if !legendFits && legendWidth + 12 * s <= plot.width && legendHeight + 12 * s <= plot.height {
            let inset = 6 * s
            let left = pad + inset, right = pad + plot.width - inset - legendWidth
            let top = pad + inset, bottom = pad + plot.height - inset - legendHeight
            for (x, y) in [(right, top), (left, top), (right, bottom), (left, bottom)] {
                let box = PixelRect(x: x, y: y, width: legendWidth, height: legendHeight)
                if !covers(box, on: inner, except: [.white, grid]) {
                    legendBox = PixelRect(x: x - shift.x, y: y - shift.y, width: legendWidth, height: legendHeight)
                    legendFits = true
                    break
                }
            }
        }

        // Clip to the plot plus the pad, then axes, ticks and labels over it.
        canvas.place(inner.image, x: plot.x - pad, y: plot.y - pad)
        let axis = RGBColor(red: 60, green: 60, blue: 60)
        canvas.stroke(PixelRect(x: plot.x - 1, y: plot.y - 1, width: plot.width + 2, height: plot.height + 2), color: axis)
        for (value, label) in zip(yTicks.values, yLabels) {
            let y = py(value)
            canvas.fill(PixelRect(x: plot.x - 1 - tickLength, y: y - s / 2, width: tickLength, height: s), color: axis)
            canvas.text(label, x: plot.x - 1 - tickLength - 3 * s, y: y, scale: s, alignment: .end, verticalAlignment: .center)
        }
        for (value, label) in zip(xTicks.values, xLabels) {
            let x = px(value)
            canvas.fill(PixelRect(x: x - s / 2, y: plot.maxY + 1, width: s, height: tickLength), color: axis)
            canvas.text(label, x: x, y: plot.maxY + 1 + tickLength + 3 * s, scale: s, alignment: .center)
        }
        if !xLabel.isEmpty {
            canvas.text(xLabel, x: plot.x + plot.width / 2, y: plot.maxY + 1 + tickLength + 3 * s + glyph + 6 * s,
                        scale: s, alignment: .center)
        }
        if !yLabel.isEmpty {
            canvas.verticalText(yLabel, x: margin, y: plot.y + plot.height / 2, scale: s, verticalAlignment: .center)
        }

        func drawEntry(_ entry: LegendEntry, x: Int, y: Int) {
            let middle = y + glyph / 2
            canvas.line(from: (x, middle), to: (x + sampleLength - 1, middle), color: entry.color,
                        thickness: lineWidth, dash: entry.dashed ? (on: 5 * s, off: 3 * s) : nil)
            if let marker = entry.marker {
                canvas.marker(marker, x: x + sampleLength / 2, y: middle, size: markerSize, color: entry.color)
            }
            canvas.text(entry.name, x: x + sampleLength + 6 * s, y: y, scale: s)
        }
        if let box = legendBox {
            canvas.fill(box, color: .white)
            canvas.stroke(box, color: RGBColor(red: 170, green: 170, blue: 170))
            for (i, entry) in entries.enumerated() {
                drawEntry(entry, x: box.x + legendPad, y: box.y + legendPad + i * entryHeight)
            }
        }
        var top = height - margin - belowHeight + 8 * s
        for row in belowRows {
            // Each row is centred under the plot.
            let rowWidth = row.map { entryWidths[$0] }.reduce(0, +) + 16 * s * (row.count - 1)
            var x = max(margin, plot.x + plot.width / 2 - rowWidth / 2)
            for index in row {
                drawEntry(entries[index], x: x, y: top)
                x += entryWidths[index] + 16 * s
            }
            top += entryHeight
        }
        return (canvas.image, legendFits, plot)
    }

    /// The smallest and largest finite x and y of the data (the y including the reference
    /// lines), widened when they are equal (a tenth of the value, 1 around 0), 0...1 when
    /// there is no data.
    private func dataBounds() -> (x: (Double, Double), y: (Double, Double)) {
        let points = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let ys = points.map(\.y) + horizontalReferences.map(\.y).filter(\.isFinite)
        func bounds(_ values: [Double]) -> (Double, Double) {
            guard let low = values.min(), let high = values.max() else { return (0, 1) }
            if low < high { return (low, high) }
            let d = low == 0 ? 1 : abs(low) / 10
            return (low - d, high + d)
        }
        return (bounds(points.map(\.x)), bounds(ys))
    }
}

/// The runs of consecutive finite points: a line is not drawn across a missing value.
private func finiteRuns(_ points: [(x: Double, y: Double)]) -> [[(x: Double, y: Double)]] {
    var runs: [[(x: Double, y: Double)]] = [[]]
    for point in points {
        if point.x.isFinite && point.y.isFinite {
            runs[runs.count - 1].append(point)
        } else if !runs[runs.count - 1].isEmpty {
            runs.append([])
        }
    }
    return runs.filter { !$0.isEmpty }
}

/// Indices of items of the given widths, in order, gathered into rows no wider than
/// `width` (`gap` between items); an item wider than that gets a row of its own.
private func flowRows(_ widths: [Int], gap: Int, width: Int) -> [[Int]] {
    var rows: [[Int]] = []
    var used = 0
    for (index, w) in widths.enumerated() {
        if let last = rows.last, !last.isEmpty, used + gap + w <= width {
            rows[rows.count - 1].append(index)
            used += gap + w
        } else {
            rows.append([index])
            used = w
        }
    }
    return rows
}

/// Whether any pixel of `box` on `canvas` has a colour other than `except`.
private func covers(_ box: PixelRect, on canvas: Canvas, except: [RGBColor]) -> Bool {
    for y in box.y..<box.maxY {
        for x in box.x..<box.maxX {
            if let color = canvas.color(x: x, y: y), !except.contains(color) { return true }
        }
    }
    return false
}
