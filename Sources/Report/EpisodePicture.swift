import Datasets
import Evaluation
import Foundation
import Imaging

/// A picture of one test episode that reads on its own: a heading with the episode, its class
/// and its foreground IoU; the supports with their masks, a rule, then the query with its
/// ground truth and with the prediction; a title over every panel; a legend of the colours.
///
/// Every panel is drawn at `panelSide` x `panelSide` pixels, the square the network sees
/// (pictures resized as the evaluator resizes them, masks with the nearest rule), so that
/// supports, truth and prediction share one scale whatever the pictures' own sizes. Masks are
/// tinted and outlined, so a region reads on dark and light pictures alike; a mask without
/// foreground says so on its panel ("(empty prediction)"), since an untinted panel would
/// otherwise look like a drawing that failed. The colours are from the Okabe-Ito set (bluish
/// green and vermillion), which colour-blind readers tell apart. The masks are binary (the
/// benchmarks' masks are binarised at 128), so no pixel is ignored, and the legend says so.
public enum EpisodePicture {
    public static let panelSide = 256
    /// Support masks and the query's ground truth.
    public static let truthColor = RGBColor(red: 0, green: 158, blue: 115)
    public static let predictionColor = RGBColor(red: 213, green: 94, blue: 0)
    static let textScale = 2
    static let margin = 12
    static let panelGap = 8
    /// The space on each side of the rule between the supports and the query.
    static let ruleGap = 14
    static let ruleWidth = 3
    static let ruleColor = RGBColor(red: 70, green: 70, blue: 70)

    /// `episode 12, class "class-2", 1-shot: foreground IoU 41.20%`.
    public static func heading(episode: Int, className: String, shots: Int, foregroundIoU: Double) -> String {
        "episode \(episode), class \"\(className)\", \(shots)-shot: foreground IoU " + String(format: "%.2f%%", foregroundIoU)
    }

    /// The episode's picture. Pictures and masks may have any size (masks 0/1 or 0/255, any
    /// non-zero value is foreground); each is brought to the panel's square.
    public static func draw(supports: [(picture: RGBImage, mask: GrayImage)], query: RGBImage, truth: GrayImage,
                            prediction: GrayImage, heading: String) -> RGBImage {
        let side = panelSide, s = textScale
        let line = (BitmapFont.glyphHeight + 4) * s
        var panels: [(title: String, picture: RGBImage)] = []
        for (index, support) in supports.enumerated() {
            panels.append(("support \(index + 1)", panel(support.picture, mask: support.mask, color: truthColor, emptyNote: "(empty mask)")))
        }
        panels.append(("query: ground truth", panel(query, mask: truth, color: truthColor, emptyNote: "(empty mask)")))
        panels.append(("query: prediction", panel(query, mask: prediction, color: predictionColor, emptyNote: "(empty prediction)")))

        // Panels, left to right: supports, the rule, the two query panels.
        var lefts: [Int] = []
        var x = margin
        for index in panels.indices {
            if index == supports.count { x += ruleGap - panelGap + ruleWidth + ruleGap }
            lefts.append(x)
            x += side + panelGap
        }
        let width = x - panelGap + margin
        let headingLines = BitmapFont.wrap(heading, width: width - 2 * margin, scale: s)
        let legend = legendRows(width: width - 2 * margin)
        let titlesTop = margin + headingLines.count * line + 6 * s
        let panelsTop = titlesTop + line
        let legendTop = panelsTop + side + 8 * s
        let height = legendTop + legend.count * line + margin

        var canvas = Canvas(width: width, height: height)
        for (i, text) in headingLines.enumerated() { canvas.text(text, x: margin, y: margin + i * line, scale: s) }
        for (left, item) in zip(lefts, panels) {
            canvas.text(item.title, x: left + side / 2, y: titlesTop, scale: s, alignment: .center)
            canvas.place(item.picture, x: left, y: panelsTop)
            canvas.stroke(PixelRect(x: left - 1, y: panelsTop - 1, width: side + 2, height: side + 2), color: .gray)
        }
        if !supports.isEmpty {
            let ruleX = lefts[supports.count] - ruleGap - ruleWidth
            canvas.fill(PixelRect(x: ruleX, y: titlesTop, width: ruleWidth, height: panelsTop + side - titlesTop), color: ruleColor)
        }
        for (row, entries) in legend.enumerated() {
            let top = legendTop + row * line
            for entry in entries {
                let box = BitmapFont.glyphHeight * s
                if let color = entry.color {
                    canvas.fill(PixelRect(x: margin + entry.x, y: top, width: box, height: box), color: color)
                    canvas.stroke(PixelRect(x: margin + entry.x, y: top, width: box, height: box), color: .gray)
                }
                canvas.text(entry.text, x: margin + entry.x + (entry.color == nil ? 0 : box + 6), y: top, scale: s)
            }
        }
        return canvas.image
    }

    /// The legend's entries flowed into rows no wider than `width`: a colour box and its
    /// meaning, then what the untinted pixels are.
    static func legendRows(width: Int) -> [[(x: Int, color: RGBColor?, text: String)]] {
        let s = textScale, box = BitmapFont.glyphHeight * textScale
        let entries: [(RGBColor?, String)] = [
            (truthColor, "support mask, ground truth: foreground"),
            (predictionColor, "prediction: foreground"),
            (nil, "untinted: background"),
            (nil, "no pixel is ignored (masks are binarised at 128)"),
        ]
        var rows: [[(x: Int, color: RGBColor?, text: String)]] = [[]]
        var x = 0
        for (color, text) in entries {
            let boxWidth = color == nil ? 0 : box + 6
            // An entry too long for one row continues on the next, its box on the first piece.
            for (index, piece) in BitmapFont.wrap(text, width: width - boxWidth, scale: s).enumerated() {
                let pieceColor = index == 0 ? color : nil
                let entryWidth = (pieceColor == nil ? 0 : boxWidth) + BitmapFont.textSize(piece, scale: s).width
                if x > 0 && x + entryWidth > width {
                    rows.append([])
                    x = 0
                }
                rows[rows.count - 1].append((x, pieceColor, piece))
                x += entryWidth + 18 * s
            }
        }
        return rows
    }

    /// One panel: the picture at the panel's square with the mask tinted over it and outlined,
    /// or the note on it when the mask has no foreground.
    static func panel(_ picture: RGBImage, mask: GrayImage, color: RGBColor, emptyNote: String) -> RGBImage {
        let side = panelSide
        let base = picture.width == side && picture.height == side ? picture : resizeBilinearAntialiased(picture, width: side, height: side)
        let fitted = mask.width == side && mask.height == side ? mask : resizeNearestTorch(mask, width: side, height: side)
        let binary = GrayImage(width: side, height: side, pixels: fitted.pixels.map { $0 != 0 ? 1 : 0 })
        var canvas = Canvas(image: overlay(image: base, mask: binary, color: color, alpha: 0.45))
        guard binary.pixels.contains(1) else {
            let s = textScale
            let size = BitmapFont.textSize(emptyNote, scale: s)
            let box = PixelRect(x: (side - size.width) / 2 - 6, y: (side - size.height) / 2 - 5, width: size.width + 12, height: size.height + 10)
            canvas.fill(box, color: .white)
            canvas.stroke(box, color: color, thickness: 2)
            canvas.text(emptyNote, x: side / 2, y: side / 2, scale: s, alignment: .center, verticalAlignment: .center)
            return canvas.image
        }
        // The outline: foreground pixels within two pixels of the background, in full colour.
        for y in 0..<side {
            for x in 0..<side where binary.pixels[y * side + x] == 1 {
                var edge = false
                for (dx, dy) in [(-2, 0), (-1, 0), (1, 0), (2, 0), (0, -2), (0, -1), (0, 1), (0, 2)] {
                    let (nx, ny) = (x + dx, y + dy)
                    if nx >= 0, ny >= 0, nx < side, ny < side, binary.pixels[ny * side + nx] == 0 { edge = true; break }
                }
                if edge { canvas.fill(PixelRect(x: x, y: y, width: 1, height: 1), color: color) }
            }
        }
        return canvas.image
    }
}

extension EpisodePicture {
    /// The picture of an episode the evaluator has just run: the pictures from the benchmark,
    /// the prediction and truth of `outcome`, the class name from the dataset.
    public static func draw(_ plan: EpisodePlan, outcome: BenchmarkEvaluator.Outcome, foregroundIoU: Double,
                            evaluator: BenchmarkEvaluator) throws -> RGBImage {
        let side = panelSide
        let supports = try plan.supports.map { support in
            (picture: try evaluator.displayPicture(support, height: side, width: side),
             mask: try evaluator.displayMask(support, height: side, width: side))
        }
        let query = try evaluator.displayPicture(plan.query, height: side, width: side)
        let name = evaluator.dataset.classes[plan.classIndex].name
        return draw(supports: supports, query: query, truth: outcome.truth, prediction: outcome.prediction,
                    heading: heading(episode: plan.index, className: name, shots: plan.supports.count, foregroundIoU: foregroundIoU))
    }
}
