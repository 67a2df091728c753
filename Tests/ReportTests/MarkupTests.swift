import Foundation
@testable import Report
import XCTest

/// Text a user named can never open a tag: everything is escaped, and what XML forbids is replaced.
final class MarkupTests: XCTestCase {
    func testTextAndAttributesAreEscaped() {
        var markup = Markup()
        markup.element("p", ["title": "a\"b'c<d>&e"], text: "<script>alert('x') & co</script>")
        XCTAssertEqual(markup.text,
                       "<p title=\"a&quot;b&#39;c&lt;d&gt;&amp;e\">&lt;script&gt;alert(&#39;x&#39;) &amp; co&lt;/script&gt;</p>")
    }

    func testCharactersXMLForbidsBecomeReplacementCharacters() {
        XCTAssertEqual(Markup.escaped("a\u{0}b\u{1B}c\td\ne\u{85}f é ü 日本"), "a\u{FFFD}b\u{FFFD}c\td\ne\u{FFFD}f é ü 日本")
    }

    func testElementsNestAndVoidElementsCloseThemselves() {
        var markup = Markup()
        markup.open("div", ["class": "figures"])
        XCTAssertFalse(markup.isBalanced)
        markup.empty("img", ["src": "data:image/png;base64,AA=="])
        markup.text("x")
        markup.close("div")
        XCTAssertTrue(markup.isBalanced)
        XCTAssertEqual(markup.text, "<div class=\"figures\"><img src=\"data:image/png;base64,AA==\"/>x</div>")
    }

    func testSVGNumbersAreShortAndTheSameEverywhere() {
        XCTAssertEqual(svgNumber(12), "12")
        XCTAssertEqual(svgNumber(12.5), "12.5")
        XCTAssertEqual(svgNumber(12.3456), "12.35")
        XCTAssertEqual(svgNumber(-0.001), "0")
        XCTAssertEqual(svgNumber(-3.10), "-3.1")
        XCTAssertEqual(svgNumber(.nan), "0")
    }

    func testFigureIDsAreLettersDigitsAndHyphens() {
        XCTAssertEqual(figureID("episode", "12"), "episode-12")
        XCTAssertEqual(figureID("correlation", "layer4.0", "with"), "correlation-layer4-0-with")
        XCTAssertEqual(figureID("12 classes"), "f-12-classes")
        XCTAssertEqual(figureID("Café <b>"), "caf-b")
        XCTAssertEqual(figureID("***"), "f")
        for id in ["episode-12", "f-12-classes", "f"] { XCTAssertEqual(figureID(id), id, "ids are their own slugs") }
    }
}
