@testable import Imaging
import XCTest

final class BitmapFontTests: XCTestCase {
    func testTextSizeArithmetic() {
        XCTAssertTrue(BitmapFont.textSize("", scale: 1) == (0, 0))
        XCTAssertTrue(BitmapFont.textSize("A", scale: 1) == (5, 9))
        // Three characters advance 6 columns each, less the last one's trailing space.
        XCTAssertTrue(BitmapFont.textSize("abc", scale: 1) == (17, 9))
        XCTAssertTrue(BitmapFont.textSize("abc", scale: 2) == (34, 18))
        XCTAssertTrue(BitmapFont.textSize("0.729", scale: 3) == ((5 * 6 - 1) * 3, 27))
        // A character outside ASCII is one '?'.
        XCTAssertTrue(BitmapFont.textSize("é", scale: 1) == (5, 9))
    }

    func testEveryGlyphInksOnlyItsOwnBox() {
        for code in 32...126 {
            let character = String(UnicodeScalar(UInt8(code)))
            var canvas = Canvas(width: 24, height: 30, background: .white)
            BitmapFont.draw(character, on: &canvas.image, x: 3, y: 4, color: .black, scale: 2)
            var inked = 0
            for y in 0..<canvas.height {
                for x in 0..<canvas.width where canvas.color(x: x, y: y) != .white {
                    inked += 1
                    XCTAssertTrue(x >= 3 && x < 3 + 10 && y >= 4 && y < 4 + 18, "'\(character)' inks (\(x), \(y))")
                }
            }
            XCTAssertEqual(inked > 0, code != 32, "'\(character)' has ink unless it is the space")
        }
    }

    func testGlyphsArePairwiseDifferent() {
        let digits = (0...9).map { BitmapFont.glyphRows(Character(String($0))) }
        for i in 0..<10 {
            for j in (i + 1)..<10 { XCTAssertNotEqual(digits[i], digits[j], "digits \(i) and \(j) look alike") }
        }
        // Every printable character is its own picture (O and 0, l and 1 and I included).
        XCTAssertEqual(Set(BitmapFont.glyphs.map { $0.map(String.init).joined(separator: ",") }).count, 95)
    }

    func testUnknownCharactersAreQuestionMarks() {
        var question = Canvas(width: 20, height: 12)
        var unknown = Canvas(width: 20, height: 12)
        BitmapFont.draw("a?", on: &question.image, x: 1, y: 1, color: .black)
        BitmapFont.draw("aé", on: &unknown.image, x: 1, y: 1, color: .black)
        XCTAssertEqual(question.image, unknown.image)
    }

    func testTextIsClippedAtEveryBorder() {
        var canvas = Canvas(width: 16, height: 10)
        for (x, y) in [(-7, -5), (10, 6), (-100, 3), (3, 200), (Int.min / 4, Int.max / 4)] {
            BitmapFont.draw("Wg%|", on: &canvas.image, x: x, y: y, color: .black, scale: 3)
            BitmapFont.drawVertical("Wg%|", on: &canvas.image, x: x, y: y, color: .black, scale: 3)
        }
        XCTAssertEqual(canvas.image.pixels.count, 16 * 10 * 3)
        XCTAssertTrue(canvas.image.pixels.contains(0), "the parts inside are drawn")
        // Text wholly outside leaves the picture alone.
        var untouched = Canvas(width: 8, height: 8)
        BitmapFont.draw("x", on: &untouched.image, x: 8, y: 0, color: .black)
        BitmapFont.draw("x", on: &untouched.image, x: 0, y: -9, color: .black)
        XCTAssertEqual(untouched.image, Canvas(width: 8, height: 8).image)
    }

    func testVerticalTextIsHorizontalTextTurnedCounterClockwise() {
        let text = "mIoU (%)"
        let size = BitmapFont.textSize(text, scale: 2)
        var horizontal = Canvas(width: size.width, height: size.height)
        var vertical = Canvas(width: size.height, height: size.width)
        BitmapFont.draw(text, on: &horizontal.image, x: 0, y: 0, color: .black, scale: 2)
        BitmapFont.drawVertical(text, on: &vertical.image, x: 0, y: 0, color: .black, scale: 2)
        for y in 0..<size.height {
            for x in 0..<size.width {
                XCTAssertEqual(horizontal.color(x: x, y: y), vertical.color(x: y, y: size.width - 1 - x))
            }
        }
    }

    func testWrapBreaksAtSpacesWithinTheWidth() {
        let lines = BitmapFont.wrap("channel correlation of layer 4", width: 6 * 12, scale: 1)
        XCTAssertEqual(lines, ["channel", "correlation", "of layer 4"])
        XCTAssertTrue(lines.allSatisfy { BitmapFont.textSize($0).width <= 6 * 12 })
        XCTAssertEqual(BitmapFont.wrap("a-very-long-word", width: 10), ["a-very-long-word"])
        XCTAssertEqual(BitmapFont.wrap("", width: 10), [])
    }
}
