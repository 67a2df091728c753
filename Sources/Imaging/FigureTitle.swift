import Foundation

/// The title over a figure: at one size above the labels' when it fits in at most two lines
/// (a title is read first and from further away), otherwise wrapped at the labels' size.
struct FigureTitle {
    let lines: [String]
    let scale: Int

    /// Rows from one title line to the next.
    var lineHeight: Int { (BitmapFont.glyphHeight + 3) * scale }
    /// Rows the title takes; 0 without a title.
    var height: Int { lines.count * lineHeight }
    /// Columns of the widest line.
    var width: Int { lines.map { BitmapFont.textSize($0, scale: scale).width }.max() ?? 0 }

    init(_ text: String, width: Int, labelScale: Int) {
        let large = BitmapFont.wrap(text, width: width, scale: labelScale + 1)
        if large.count <= 2 && large.allSatisfy({ BitmapFont.textSize($0, scale: labelScale + 1).width <= width }) {
            (lines, scale) = (large, labelScale + 1)
        } else {
            (lines, scale) = (BitmapFont.wrap(text, width: width, scale: labelScale), labelScale)
        }
    }

    /// Draws the lines centred on column `centerX`, the first line's top at row `top`.
    func draw(on canvas: inout Canvas, centerX: Int, top: Int) {
        for (i, line) in lines.enumerated() {
            canvas.text(line, x: centerX, y: top + i * lineHeight, scale: scale, alignment: .center)
        }
    }
}
