import Foundation

/// A pixel font for the labels of the toolkit's figures: every printable ASCII character
/// (32...126) as a 5 x 9 bitmap, designed for this file. Seven rows hold capitals, digits
/// and the body of lower-case letters (x-height five rows); the two rows below hold the
/// descenders of g, j, p, q, y and the tails of , and ;. A bitmap font keeps figures
/// free of font files and system libraries and draws the same bytes on every machine.
///
/// Text is one line; each character advances 6 columns (5 of glyph, 1 of space) and a
/// character outside the set is drawn as '?'. `scale` repeats every font pixel as a
/// `scale` x `scale` block.
public enum BitmapFont {
    /// Columns of one glyph, without the space that follows it.
    public static let glyphWidth = 5
    /// Rows of one glyph: 7 above the baseline, 2 of descenders.
    public static let glyphHeight = 9
    /// Columns from one character to the next at scale 1.
    public static let advance = 6

    /// The size of the box `draw` covers. The last character's trailing space is not
    /// counted, so centring and right-aligning use the ink; empty text has size 0 x 0.
    public static func textSize(_ text: String, scale: Int = 1) -> (width: Int, height: Int) {
        let scale = max(1, scale)
        let count = text.count
        guard count > 0 else { return (0, 0) }
        return ((count * advance - 1) * scale, glyphHeight * scale)
    }

    /// Draws `text` with its box's top-left corner at (x, y). Pixels outside the image are
    /// skipped, so text may run off any border.
    public static func draw(_ text: String, on image: inout RGBImage, x: Int, y: Int, color: RGBColor, scale: Int = 1) {
        let scale = max(1, scale)
        forEachInkPixel(of: text) { gx, gy in
            image.fillClipped(x: x + gx * scale, y: y + gy * scale, width: scale, height: scale, color: color)
        }
    }

    /// Draws `text` turned 90 degrees counter-clockwise, reading from bottom to top (the way a
    /// y-axis label is read). Its box, with the top-left corner at (x, y), is
    /// `textSize(text).height` wide and `textSize(text).width` tall.
    public static func drawVertical(_ text: String, on image: inout RGBImage, x: Int, y: Int, color: RGBColor, scale: Int = 1) {
        let scale = max(1, scale)
        let length = textSize(text).width
        // The horizontal pixel (gx, gy) goes to column gy, row (length - 1 - gx): the start
        // of the line ends up at the bottom.
        forEachInkPixel(of: text) { gx, gy in
            image.fillClipped(x: x + gy * scale, y: y + (length - 1 - gx) * scale, width: scale, height: scale, color: color)
        }
    }

    /// Splits `text` at spaces into lines no wider than `width` at `scale`; a single word
    /// wider than that keeps a line of its own. For titles longer than their figure is wide.
    public static func wrap(_ text: String, width: Int, scale: Int = 1) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            let candidate = current.isEmpty ? String(word) : current + " " + word
            if current.isEmpty || textSize(candidate, scale: scale).width <= width {
                current = candidate
            } else {
                lines.append(current)
                current = String(word)
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    /// Calls `body` with the font-pixel coordinates (scale 1, relative to the text box) of
    /// every ink pixel of `text`.
    static func forEachInkPixel(of text: String, _ body: (Int, Int) -> Void) {
        for (index, character) in text.enumerated() {
            let rows = glyphRows(character)
            for (gy, bits) in rows.enumerated() where bits != 0 {
                for gx in 0..<glyphWidth where bits & (1 << (glyphWidth - 1 - gx)) != 0 {
                    body(index * advance + gx, gy)
                }
            }
        }
    }

    /// The nine row bit patterns of `character` (leftmost column in bit 4), '?' for any
    /// character outside printable ASCII.
    static func glyphRows(_ character: Character) -> [UInt8] {
        if let ascii = character.asciiValue, ascii >= 32, ascii <= 126 {
            return glyphs[Int(ascii) - 32]
        }
        return glyphs[Int(Character("?").asciiValue!) - 32]
    }

    /// The glyph table parsed once: for code 32 + i, nine rows of five bits.
    static let glyphs: [[UInt8]] = {
        precondition(glyphDrawings.count == 95, "the font needs 95 glyphs (ASCII 32...126), has \(glyphDrawings.count)")
        return glyphDrawings.enumerated().map { index, drawing in
            let rows = drawing.split(separator: " ")
            precondition(rows.count == 7 || rows.count == 9, "glyph \(index + 32) needs 7 or 9 rows, has \(rows.count)")
            var bits: [UInt8] = rows.map { row in
                precondition(row.count == glyphWidth, "glyph \(index + 32) has a row of \(row.count) columns")
                return row.reduce(0) { ($0 << 1) | ($1 == "#" ? 1 : 0) }
            }
            while bits.count < glyphHeight { bits.append(0) }
            return bits
        }
    }()

    /// The glyphs of ASCII 32...126 in order, one string each: rows from top to bottom
    /// separated by spaces, '#' for ink. Seven rows when nothing descends below the baseline.
    /// The zero is slashed so that it differs from O; capitals and digits are seven rows tall.
    static let glyphDrawings: [String] = [
        "..... ..... ..... ..... ..... ..... .....",  // space
        "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",  // !
        ".#.#. .#.#. .#.#. ..... ..... ..... .....",  // "
        ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",  // #
        "..#.. .#### #.#.. .###. ..#.# ####. ..#..",  // $
        "##... ##..# ...#. ..#.. .#... #..## ...##",  // %
        ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#",  // &
        "..#.. ..#.. ..#.. ..... ..... ..... .....",  // '
        "...#. ..#.. .#... .#... .#... ..#.. ...#.",  // (
        ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",  // )
        "..... ..#.. #.#.# .###. #.#.# ..#.. .....",  // *
        "..... ..#.. ..#.. ##### ..#.. ..#.. .....",  // +
        "..... ..... ..... ..... ..... .##.. .##.. ..#.. .#...",  // ,
        "..... ..... ..... ##### ..... ..... .....",  // -
        "..... ..... ..... ..... ..... .##.. .##..",  // .
        "....# ....# ...#. ..#.. .#... #.... #....",  // /
        ".###. #...# #..## #.#.# ##..# #...# .###.",  // 0
        "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",  // 1
        ".###. #...# ....# ...#. ..#.. .#... #####",  // 2
        "##### ...#. ..#.. ...#. ....# #...# .###.",  // 3
        "...#. ..##. .#.#. #..#. ##### ...#. ...#.",  // 4
        "##### #.... ####. ....# ....# #...# .###.",  // 5
        "..##. .#... #.... ####. #...# #...# .###.",  // 6
        "##### ....# ...#. ..#.. .#... .#... .#...",  // 7
        ".###. #...# #...# .###. #...# #...# .###.",  // 8
        ".###. #...# #...# .#### ....# ...#. .##..",  // 9
        "..... .##.. .##.. ..... .##.. .##.. .....",  // :
        "..... .##.. .##.. ..... .##.. .##.. ..#.. .#... .....",  // ;
        "...#. ..#.. .#... #.... .#... ..#.. ...#.",  // <
        "..... ..... ##### ..... ##### ..... .....",  // =
        ".#... ..#.. ...#. ....# ...#. ..#.. .#...",  // >
        ".###. #...# ....# ...#. ..#.. ..... ..#..",  // ?
        ".###. #...# #.### #.#.# #.### #.... .####",  // @
        ".###. #...# #...# ##### #...# #...# #...#",  // A
        "####. #...# #...# ####. #...# #...# ####.",  // B
        ".###. #...# #.... #.... #.... #...# .###.",  // C
        "###.. #..#. #...# #...# #...# #..#. ###..",  // D
        "##### #.... #.... ####. #.... #.... #####",  // E
        "##### #.... #.... ####. #.... #.... #....",  // F
        ".###. #...# #.... #.### #...# #...# .####",  // G
        "#...# #...# #...# ##### #...# #...# #...#",  // H
        ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",  // I
        "..### ...#. ...#. ...#. ...#. #..#. .##..",  // J
        "#...# #..#. #.#.. ##... #.#.. #..#. #...#",  // K
        "#.... #.... #.... #.... #.... #.... #####",  // L
        "#...# ##.## #.#.# #.#.# #...# #...# #...#",  // M
        "#...# #...# ##..# #.#.# #..## #...# #...#",  // N
        ".###. #...# #...# #...# #...# #...# .###.",  // O
        "####. #...# #...# ####. #.... #.... #....",  // P
        ".###. #...# #...# #...# #.#.# #..#. .##.#",  // Q
        "####. #...# #...# ####. #.#.. #..#. #...#",  // R
        ".#### #.... #.... .###. ....# ....# ####.",  // S
        "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",  // T
        "#...# #...# #...# #...# #...# #...# .###.",  // U
        "#...# #...# #...# #...# #...# .#.#. ..#..",  // V
        "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",  // W
        "#...# #...# .#.#. ..#.. .#.#. #...# #...#",  // X
        "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",  // Y
        "##### ....# ...#. ..#.. .#... #.... #####",  // Z
        ".###. .#... .#... .#... .#... .#... .###.",  // [
        "#.... #.... .#... ..#.. ...#. ....# ....#",  // backslash
        ".###. ...#. ...#. ...#. ...#. ...#. .###.",  // ]
        "..#.. .#.#. #...# ..... ..... ..... .....",  // ^
        "..... ..... ..... ..... ..... ..... ..... ##### .....",  // _
        ".#... ..#.. ..... ..... ..... ..... .....",  // `
        "..... ..... .###. ....# .#### #...# .####",  // a
        "#.... #.... #.##. ##..# #...# #...# ####.",  // b
        "..... ..... .###. #.... #.... #...# .###.",  // c
        "....# ....# .##.# #..## #...# #...# .####",  // d
        "..... ..... .###. #...# ##### #.... .###.",  // e
        "..##. .#..# .#... ###.. .#... .#... .#...",  // f
        "..... ..... .#### #...# #...# #...# .#### ....# .###.",  // g
        "#.... #.... #.##. ##..# #...# #...# #...#",  // h
        "..#.. ..... .##.. ..#.. ..#.. ..#.. .###.",  // i
        "...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..",  // j
        "#.... #.... #..#. #.#.. ##... #.#.. #..#.",  // k
        ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",  // l
        "..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#",  // m
        "..... ..... #.##. ##..# #...# #...# #...#",  // n
        "..... ..... .###. #...# #...# #...# .###.",  // o
        "..... ..... ####. #...# #...# #...# ####. #.... #....",  // p
        "..... ..... .#### #...# #...# #...# .#### ....# ....#",  // q
        "..... ..... #.##. ##..# #.... #.... #....",  // r
        "..... ..... .#### #.... .###. ....# ####.",  // s
        ".#... .#... ###.. .#... .#... .#..# ..##.",  // t
        "..... ..... #...# #...# #...# #..## .##.#",  // u
        "..... ..... #...# #...# #...# .#.#. ..#..",  // v
        "..... ..... #...# #...# #.#.# #.#.# .#.#.",  // w
        "..... ..... #...# .#.#. ..#.. .#.#. #...#",  // x
        "..... ..... #...# #...# #...# #...# .#### ....# .###.",  // y
        "..... ..... ##### ...#. ..#.. .#... #####",  // z
        "...## ..#.. ..#.. ##... ..#.. ..#.. ...##",  // {
        "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. .....",  // |
        "##... ..#.. ..#.. ...## ..#.. ..#.. ##...",  // }
        "..... ..... .#... #.#.# ...#. ..... .....",  // ~
    ]
}
