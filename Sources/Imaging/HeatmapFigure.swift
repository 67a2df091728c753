import Foundation

/// A heatmap made readable on its own: a title above, a colour bar at the right with
/// numbered ticks, optional axis and colour-bar labels, and a gray "NaN" key when some
/// values are not finite. For channel-correlation matrices, frequency masks and any other
/// `height` x `width` field of floats (row-major).
///
/// - `range`: the values at the two ends of the colour scale; nil takes the finite minimum
///   and maximum (with `diverging`, the largest magnitude on both sides of 0, so that white
///   is 0). However small the span, the colours and the tick labels (with the decimals it
///   needs) spread over it. A constant field gets a range a tenth of its value wide (1 around
///   0) and is drawn in the middle colour.
/// - `scale`: pixels per value at least; small fields are enlarged further so that the
///   longer side of the map is at least 256 pixels and its width 224 where that keeps it
///   within 512 (a 7 x 9 field becomes 224 x 288, a 64 x 64 one 256 x 256).
/// - `axisLabel`: names both axes of the field (e.g. "channel"), below and left of it.
/// - `diverging`: blue-white-red instead of viridis, for signed values such as correlations.
/// - `underlay`: a picture of the field's size shown under the colours (half each), for maps
///   over an image such as a channel's mean activation.
/// - `markedCell`: a cell framed in black and white, such as the zero frequency of a mask.
public func heatmapFigure(values: [Float], width: Int, height: Int, title: String, range: ClosedRange<Float>? = nil,
                          colorBarLabel: String? = nil, scale: Int = 1, axisLabel: String? = nil,
                          diverging: Bool = false, underlay: RGBImage? = nil,
                          markedCell: (column: Int, row: Int)? = nil) -> RGBImage {
    precondition(width >= 0 && height >= 0 && values.count == width * height,
                 "heatmap of \(width)x\(height) needs \(width * height) values, got \(values.count)")
    precondition(underlay.map { $0.width == width && $0.height == height } ?? true,
                 "the underlay must have the heatmap's \(width)x\(height) size")
    let colors: ColorScale = diverging ? .diverging : .viridis
    let (low, high) = colourRange(values, range: range, diverging: diverging)

    // Sizes: the map's longer side reaches 256 pixels and, unless that would take its
    // longer side past 512, its width 224 (so that a narrow field makes a figure some 300
    // pixels wide). Text doubles on large maps so it keeps its proportion to the picture.
    let longer = max(width, height)
    let mapScale = longer == 0 ? max(1, scale)
        : max(1, scale, (256 + longer - 1) / longer, min((224 + width - 1) / max(width, 1), 512 / longer))
    let mapWidth = width * mapScale, mapHeight = height * mapScale
    let s = max(mapWidth, mapHeight) >= 480 ? 2 : 1
    let margin = 10 * s
    let glyph = BitmapFont.glyphHeight * s

    let mapX = margin + (axisLabel == nil ? 0 : glyph + 8 * s)
    let barWidth = 16 * s, tickLength = 4 * s
    let barHeight = max(mapHeight, 160 * s)
    let barX = mapX + mapWidth + 14 * s
    let ticks = AxisTicks.inside(Double(low), Double(high))
    let tickLabels = ticks.labels
    let labelX = barX + barWidth + tickLength + 3 * s
    let labelWidth = tickLabels.map { BitmapFont.textSize($0, scale: s).width }.max() ?? 0
    let barLabelX = labelX + labelWidth + 8 * s
    let contentRight = (colorBarLabel == nil ? labelX + labelWidth : barLabelX + glyph) + margin

    // The figure is as wide as the map and its colour bar, or as the title's longest word.
    let heading = FigureTitle(title, width: max(contentRight - 2 * margin, 1), labelScale: s)
    let figureWidth = max(contentRight, heading.width + 2 * margin)
    let mapY = margin + heading.height + (heading.lines.isEmpty ? 0 : 6 * s)

    let hasNaN = values.contains { !$0.isFinite }
    let keyY = mapY + barHeight + 8 * s
    let bottom = max(mapY + mapHeight + (axisLabel == nil ? 0 : 6 * s + glyph),
                     hasNaN ? keyY + 10 * s : mapY + barHeight)
    var canvas = Canvas(width: figureWidth, height: bottom + margin)

    heading.draw(on: &canvas, centerX: figureWidth / 2, top: margin)

    let frame = RGBColor(red: 90, green: 90, blue: 90)
    var map = heatmap(values: values, width: width, height: height, range: low...high, scale: mapScale, colors: colors)
    if let underlay {
        // Half the picture under half the colours: where a value sits stays readable.
        for y in 0..<mapHeight {
            for x in 0..<mapWidth {
                let source = 3 * ((y / mapScale) * width + x / mapScale), target = 3 * (y * mapWidth + x)
                for channel in 0..<3 {
                    map.pixels[target + channel] = UInt8((Int(map.pixels[target + channel]) + Int(underlay.pixels[source + channel]) + 1) / 2)
                }
            }
        }
    }
    canvas.place(map, x: mapX, y: mapY)
    if let cell = markedCell, (0..<width).contains(cell.column), (0..<height).contains(cell.row) {
        // A black frame inside a white one: visible on every colour of both scales.
        let box = PixelRect(x: mapX + cell.column * mapScale, y: mapY + cell.row * mapScale, width: mapScale, height: mapScale)
        canvas.stroke(PixelRect(x: box.x - 2, y: box.y - 2, width: box.width + 4, height: box.height + 4), color: .white, thickness: 2)
        canvas.stroke(box, color: .black, thickness: max(1, mapScale / 8))
    }
    canvas.stroke(PixelRect(x: mapX - 1, y: mapY - 1, width: mapWidth + 2, height: mapHeight + 2), color: frame)
    if let axisLabel {
        canvas.text(axisLabel, x: mapX + mapWidth / 2, y: mapY + mapHeight + 6 * s, scale: s, alignment: .center)
        canvas.verticalText(axisLabel, x: margin, y: mapY + mapHeight / 2, scale: s, verticalAlignment: .center)
    }

    // The colour bar is a heatmap of its own values, top row the highest, so it shows
    // exactly the colours the map uses.
    let barValues = (0..<barHeight).flatMap { row -> [Float] in
        let t = barHeight > 1 ? Float(row) / Float(barHeight - 1) : 0
        return [Float](repeating: high - t * (high - low), count: barWidth)
    }
    canvas.place(heatmap(values: barValues, width: barWidth, height: barHeight, range: low...high, colors: colors),
                 x: barX, y: mapY)
    canvas.stroke(PixelRect(x: barX - 1, y: mapY - 1, width: barWidth + 2, height: barHeight + 2), color: frame)
    for (value, label) in zip(ticks.values, tickLabels) {
        // Ticks may lie a rounding error beyond the ends (see AxisTicks.slack): keep them on the bar.
        let fraction = max(0, min(1, (Double(high) - value) / Double(high - low)))
        let y = mapY + Int((fraction * Double(barHeight - 1)).rounded())
        canvas.fill(PixelRect(x: barX + barWidth, y: y - s / 2, width: tickLength, height: s), color: frame)
        canvas.text(label, x: labelX, y: y, scale: s, verticalAlignment: .center)
    }
    if let colorBarLabel {
        canvas.verticalText(colorBarLabel, x: barLabelX, y: mapY + barHeight / 2, scale: s, verticalAlignment: .center)
    }
    if hasNaN {
        canvas.fill(PixelRect(x: barX, y: keyY, width: barWidth, height: 10 * s), color: .gray)
        canvas.text("NaN", x: labelX, y: keyY + 5 * s, scale: s, verticalAlignment: .center)
    }
    return canvas.image
}

/// The values at the ends of the colour scale, never equal (see `heatmapFigure`). A range
/// with an infinite end cannot place colours and is replaced by the data's.
private func colourRange(_ values: [Float], range: ClosedRange<Float>?, diverging: Bool) -> (Float, Float) {
    var low: Float, high: Float
    if let range, range.lowerBound.isFinite, range.upperBound.isFinite {
        (low, high) = (range.lowerBound, range.upperBound)
    } else {
        let finite = values.filter { $0.isFinite }
        low = finite.min() ?? (diverging ? -1 : 0)
        high = finite.max() ?? 1
        if diverging {
            let magnitude = max(abs(low), abs(high))
            (low, high) = (-magnitude, magnitude)
        }
    }
    if low == high {
        let d = low == 0 ? 1 : abs(low) / 10
        (low, high) = (low - d, high + d)
    }
    return (low, high)
}
