import Foundation

/// The title over a figure: at one size above the labels' when it fits in at most
/// `largeLines` lines (a title is read first and from further away), otherwise wrapped at
/// the labels' size. Figures with little height to spare allow one large line only.
struct FigureTitle {
    let lines: [String]
    let scale: Int

    /// Rows from one title line to the next.
    var lineHeight: Int { (BitmapFont.glyphHeight + 3) * scale }
    /// Rows the title takes; 0 without a title.
    var height: Int { lines.count * lineHeight }
    /// Columns of the widest line.
    var width: Int { lines.map { BitmapFont.textSize($0, scale: scale).width }.max() ?? 0 }

    init(_ text: String, width: Int, labelScale: Int, largeLines: Int = 2) {
        let large = BitmapFont.wrap(text, width: width, scale: labelScale + 1)
        if large.count <= largeLines && large.allSatisfy({ BitmapFont.textSize($0, scale: labelScale + 1).width <= width }) {
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

/// `picture` with `title` above it, centred (wrapped when wider than the picture): a
/// caption for panels that are pictures already, such as an activation overlay or one
/// step of a masker. Text doubles from 480 pixels of width up, as in the figures. The large
/// title size is kept to one line, and a one-line title at either size takes the same
/// height, so that panels of one width captioned side by side stay level.
public func titled(_ picture: RGBImage, _ title: String, background: RGBColor = .white) -> RGBImage {
    let s = picture.width >= 480 ? 2 : 1
    let margin = 6 * s
    let heading = FigureTitle(title, width: max(picture.width - 2 * margin, 1), labelScale: s, largeLines: 1)
    guard !heading.lines.isEmpty else { return picture }
    // A one-line title takes the large line's height at either size, so panels of one width
    // stay level whatever their titles' lengths.
    let strip = max(heading.height, (BitmapFont.glyphHeight + 3) * (s + 1))
    let width = max(picture.width, heading.width + 2 * margin)
    var canvas = Canvas(width: width, height: picture.height + strip + 2 * margin, background: background)
    heading.draw(on: &canvas, centerX: width / 2, top: margin + (strip - heading.height) / 2)
    canvas.place(picture, x: (width - picture.width) / 2, y: strip + 2 * margin)
    return canvas.image
}
