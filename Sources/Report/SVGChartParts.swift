import Foundation
import Imaging

/// What the SVG charts share: the figure around them, colours, the legend, the axes and an
/// estimate of text widths (SVG cannot measure text before a browser draws it, so layouts
/// reserve room from the character count, generously).
enum SVGChart {
    static let fontSize = 13.0
    static let tickFontSize = 12.0
    static let fontFamily = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"
    static let axisColor = "#555555"
    static let gridColor = "#e4e4e4"

    /// Room a text takes: 0.62 of the font size per character covers the widest common sans
    /// fonts' digits and lower case.
    static func textWidth(_ text: String, size: Double = fontSize) -> Double {
        Double(text.count) * 0.62 * size
    }

    /// The series colours of the pixel charts (`RGBColor.series`, Okabe-Ito without yellow),
    /// so that a series looks the same in a PNG and on the page.
    static func color(_ index: Int) -> String {
        hex(RGBColor.series(index))
    }

    static func hex(_ color: RGBColor) -> String {
        String(format: "#%02x%02x%02x", color.red, color.green, color.blue)
    }

    /// `<figure id>` holding an `<svg>` of `width` x `height` user units and the caption.
    static func figure(id: String, caption: String, width: Double, height: Double, into markup: inout Markup,
                       body: (inout Markup) -> Void) {
        markup.open("figure", ["id": id, "class": "chart"])
        markup.open("svg", ["xmlns": "http://www.w3.org/2000/svg", "viewBox": "0 0 \(svgNumber(width)) \(svgNumber(height))",
                            "width": svgNumber(width), "height": svgNumber(height), "role": "img",
                            "font-family": fontFamily, "font-size": svgNumber(fontSize)])
        markup.element("title", text: caption)
        markup.empty("rect", ["x": "0", "y": "0", "width": svgNumber(width), "height": svgNumber(height), "fill": "#ffffff"])
        body(&markup)
        markup.close("svg")
        markup.element("figcaption", text: caption)
        markup.close("figure")
    }

    /// One legend line: a sample of the series' mark and its name.
    struct LegendEntry {
        enum Mark {
            case line(dashed: Bool, width: Double, marker: MarkerShape?)
            case bar
        }

        var name: String
        var color: String
        var mark: Mark
    }

    /// The legend's entries flowed into rows across `width`; returns the rows' x offsets.
    static func legendRows(_ entries: [LegendEntry], width: Double) -> [[(entry: LegendEntry, x: Double)]] {
        var rows: [[(entry: LegendEntry, x: Double)]] = []
        var x = 0.0
        for entry in entries {
            let entryWidth = 30 + textWidth(entry.name)
            if rows.isEmpty || (x > 0 && x + entryWidth > width) {
                rows.append([])
                x = 0
            }
            rows[rows.count - 1].append((entry, x))
            x += entryWidth + 20
        }
        return rows
    }

    static let legendRowHeight = 20.0

    /// Draws the legend with its top-left corner at (x, y) and returns its height.
    @discardableResult
    static func legend(_ entries: [LegendEntry], x: Double, y: Double, width: Double, into markup: inout Markup) -> Double {
        let rows = legendRows(entries, width: width)
        markup.open("g", ["class": "legend"])
        for (r, row) in rows.enumerated() {
            let middle = y + Double(r) * legendRowHeight + legendRowHeight / 2
            for (entry, offset) in row {
                markup.open("g", ["class": "legend-entry"])
                let left = x + offset
                switch entry.mark {
                case .line(let dashed, let lineWidth, let shape):
                    var attributes: MarkupAttributes = ["x1": svgNumber(left), "y1": svgNumber(middle), "x2": svgNumber(left + 24),
                                                        "y2": svgNumber(middle), "stroke": entry.color, "stroke-width": svgNumber(lineWidth)]
                    if dashed { attributes.append("stroke-dasharray", "6 4") }
                    markup.empty("line", attributes)
                    if let shape { marker(shape, x: left + 12, y: middle, size: 9, color: entry.color, into: &markup) }
                case .bar:
                    markup.empty("rect", ["x": svgNumber(left + 4), "y": svgNumber(middle - 6), "width": "16", "height": "12",
                                          "fill": entry.color])
                }
                markup.element("text", ["x": svgNumber(left + 30), "y": svgNumber(middle), "dominant-baseline": "central"],
                               text: entry.name)
                markup.close("g")
            }
        }
        markup.close("g")
        return Double(rows.count) * legendRowHeight
    }

    /// A filled marker of about `size` units across centred on (x, y), the shapes of the pixel
    /// charts (`MarkerShape`).
    static func marker(_ shape: MarkerShape, x: Double, y: Double, size: Double, color: String, into markup: inout Markup) {
        let r = size / 2
        func polygon(_ points: [(Double, Double)]) {
            markup.empty("polygon", ["points": points.map { svgNumber(x + $0.0) + "," + svgNumber(y + $0.1) }.joined(separator: " "),
                                     "fill": color, "stroke": "none"])
        }
        switch shape {
        case .circle:
            markup.empty("circle", ["cx": svgNumber(x), "cy": svgNumber(y), "r": svgNumber(r), "fill": color, "stroke": "none"])
        case .square:
            markup.empty("rect", ["x": svgNumber(x - r * 0.9), "y": svgNumber(y - r * 0.9), "width": svgNumber(1.8 * r),
                                  "height": svgNumber(1.8 * r), "fill": color, "stroke": "none"])
        case .triangle: polygon([(0, -r * 1.1), (r * 1.1, r * 0.9), (-r * 1.1, r * 0.9)])
        case .triangleDown: polygon([(0, r * 1.1), (r * 1.1, -r * 0.9), (-r * 1.1, -r * 0.9)])
        case .diamond: polygon([(0, -r * 1.2), (r * 1.2, 0), (0, r * 1.2), (-r * 1.2, 0)])
        case .cross:
            let t = r * 0.35
            polygon([(-t, -r), (t, -r), (t, -t), (r, -t), (r, t), (t, t), (t, r), (-t, r), (-t, t), (-r, t), (-r, -t), (-t, -t)])
        }
    }

    /// The height `legend` will take.
    static func legendHeight(_ entries: [LegendEntry], width: Double) -> Double {
        Double(legendRows(entries, width: width).count) * legendRowHeight
    }

    /// Where a value falls on an axis running from `low` to `high` over the pixels `start` to
    /// `end` (end may be smaller: the y axis grows upwards).
    static func scale(_ value: Double, _ low: Double, _ high: Double, _ start: Double, _ end: Double) -> Double {
        high > low ? start + (value - low) / (high - low) * (end - start) : (start + end) / 2
    }

    /// A value axis along the bottom of the plot: grid lines up through it, ticks and their
    /// labels below, the axis label under them.
    static func bottomAxis(_ ticks: AxisTicks, low: Double, high: Double, plot: Plot, label: String, into markup: inout Markup) {
        markup.open("g", ["class": "axis x-axis"])
        for (value, text) in zip(ticks.values, ticks.labels) {
            let x = scale(value, low, high, plot.left, plot.right)
            markup.empty("line", ["x1": svgNumber(x), "y1": svgNumber(plot.top), "x2": svgNumber(x), "y2": svgNumber(plot.bottom),
                                  "stroke": gridColor])
            markup.empty("line", ["x1": svgNumber(x), "y1": svgNumber(plot.bottom), "x2": svgNumber(x),
                                  "y2": svgNumber(plot.bottom + 5), "stroke": axisColor])
            markup.element("text", ["class": "tick", "x": svgNumber(x), "y": svgNumber(plot.bottom + 9),
                                    "text-anchor": "middle", "dominant-baseline": "hanging",
                                    "font-size": svgNumber(tickFontSize)], text: text)
        }
        markup.empty("line", ["x1": svgNumber(plot.left), "y1": svgNumber(plot.bottom), "x2": svgNumber(plot.right),
                              "y2": svgNumber(plot.bottom), "stroke": axisColor])
        markup.element("text", ["class": "axis-label x", "x": svgNumber((plot.left + plot.right) / 2),
                                "y": svgNumber(plot.bottom + 9 + tickFontSize + 10), "text-anchor": "middle",
                                "dominant-baseline": "hanging"], text: label)
        markup.close("g")
    }

    /// Rows below the plot that `bottomAxis` takes.
    static let bottomAxisHeight = 9 + tickFontSize + 10 + fontSize + 8

    /// A value axis along the left of the plot: grid lines across, ticks and labels left of
    /// it, the axis label turned to read upwards at `labelX`.
    static func leftAxis(_ ticks: AxisTicks, low: Double, high: Double, plot: Plot, label: String, labelX: Double,
                         into markup: inout Markup) {
        markup.open("g", ["class": "axis y-axis"])
        for (value, text) in zip(ticks.values, ticks.labels) {
            let y = scale(value, low, high, plot.bottom, plot.top)
            markup.empty("line", ["x1": svgNumber(plot.left), "y1": svgNumber(y), "x2": svgNumber(plot.right), "y2": svgNumber(y),
                                  "stroke": gridColor])
            markup.empty("line", ["x1": svgNumber(plot.left - 5), "y1": svgNumber(y), "x2": svgNumber(plot.left), "y2": svgNumber(y),
                                  "stroke": axisColor])
            markup.element("text", ["class": "tick", "x": svgNumber(plot.left - 8), "y": svgNumber(y), "text-anchor": "end",
                                    "dominant-baseline": "central", "font-size": svgNumber(tickFontSize)], text: text)
        }
        markup.empty("line", ["x1": svgNumber(plot.left), "y1": svgNumber(plot.top), "x2": svgNumber(plot.left),
                              "y2": svgNumber(plot.bottom), "stroke": axisColor])
        let middle = (plot.top + plot.bottom) / 2
        markup.element("text", ["class": "axis-label y", "x": svgNumber(labelX), "y": svgNumber(middle), "text-anchor": "middle",
                                "dominant-baseline": "hanging",
                                "transform": "rotate(-90 \(svgNumber(labelX)) \(svgNumber(middle)))"], text: label)
        markup.close("g")
    }

    /// The plot area in the SVG's user units.
    struct Plot {
        var left: Double
        var top: Double
        var right: Double
        var bottom: Double
        var width: Double { right - left }
        var height: Double { bottom - top }
    }
}
