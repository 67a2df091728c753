import Foundation
@testable import Report
import TensorCore
import XCTest

/// The reader the structure tests rely on finds what is missing or wrong.
final class ReportStructureTests: XCTestCase {
    func read(_ body: String, figures: String) throws -> ReportStructure {
        let page = """
            <!DOCTYPE html>
            <html xmlns="http://www.w3.org/1999/xhtml"><head><meta name="cdfss-figures" content="\(figures)"/><title>T</title></head>
            <body>\(body)</body></html>
            """
        return try ReportStructure(parsing: Data(page.utf8))
    }

    let chart = """
        <figure id="c"><svg xmlns="http://www.w3.org/2000/svg"><title>tip</title><text class="axis-label y">loss</text>\
        <text class="axis-label x">step</text><g class="legend"><g class="legend-entry"><line/><text>mean</text></g></g></svg>\
        <figcaption>Loss.</figcaption></figure>
        """

    func testASoundPageHasNoProblems() throws {
        let read = try read(chart, figures: "c")
        XCTAssertEqual(read.title, "T")
        XCTAssertEqual(read.figure("c"), ReportStructure.Figure(id: "c", kind: "svg", axisLabels: ["loss", "step"],
                                                               legendEntries: ["mean"], caption: "Loss.", embedsPNG: false))
        XCTAssertEqual(read.problems, [])
    }

    func testMissingFiguresLabelsAndLegendsAreProblems() throws {
        XCTAssertEqual(try read(chart, figures: "c gone").problems, ["figure gone is promised but absent"])
        let bare = "<figure id=\"c\"><svg><text class=\"axis-label x\">step</text></svg><figcaption>x</figcaption></figure>"
        XCTAssertEqual(try read(bare, figures: "c").problems, ["chart c lacks axis labels (has [\"step\"])", "chart c has no legend"])
        XCTAssertEqual(try read(chart, figures: "").problems, ["figure c is not in the page's figure list"])
    }

    func testAnythingFromOutsideThePageIsAProblem() throws {
        let body = "<script src=\"https://cdn.example/x.js\"></script><figure id=\"p\"><img src=\"p.png\"/><figcaption>P</figcaption></figure>"
        XCTAssertEqual(try read(body, figures: "p").problems,
                       ["picture p is not embedded PNG data", "refers outside the page: https://cdn.example/x.js",
                        "refers outside the page: p.png", "holds 1 script element(s)"])
        let notPNG = "<figure id=\"p\"><img src=\"data:image/png;base64,\(Data("GIF89a".utf8).base64EncodedString())\"/><figcaption>P</figcaption></figure>"
        XCTAssertEqual(try read(notPNG, figures: "p").problems, ["picture p is not embedded PNG data"])
    }

    func testIDsUsedTwiceAreAProblem() throws {
        XCTAssertEqual(try read("<p id=\"x\"></p><p id=\"x\"></p>", figures: "").problems, ["id x is used twice"])
    }

    func testAPageThatIsNotWellFormedIsRefusedWithItsLine() {
        for (body, reason) in [("<p>unclosed<br></p>", "an element is closed by another's end tag"),
                               ("<p>&nbsp;</p>", "an entity XML does not define"), ("<p>", "an element is closed")] {
            XCTAssertThrowsError(try read(body, figures: ""), body) { error in
                let message = (error as? InputError)?.message ?? ""
                XCTAssertTrue(message.hasPrefix("report: not well-formed at line 3"), message)
                XCTAssertTrue(message.contains(reason), message)
            }
        }
        XCTAssertThrowsError(try ReportStructure(parsing: Data("<html></html><p/>".utf8), source: "r.html")) { error in
            XCTAssertEqual((error as? InputError)?.message,
                           "r.html: not well-formed at line 1, column 14 (the document ends early or goes on after its root element)")
        }
    }
}
