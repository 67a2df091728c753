import Foundation
import Imaging
@testable import Report
import TensorCore
import XCTest

/// Tables and pictures.
final class BlockTests: XCTestCase {
    func html(_ block: any ReportBlock) -> String {
        var markup = Markup()
        block.render(into: &markup)
        return markup.text
    }

    func testTableRightAlignsNumbersAndTintsChangesByWhatIsBetter() {
        let table = HTMLTable(caption: "Scores", columns: [.text("score"), .number("A, %"), .number("change")],
                              rows: [["mIoU", .number(41.234), .change(2.5)],
                                     ["loss", .number(nil), .change(-0.25, higherIsBetter: false)],
                                     ["FB-IoU", .number(.nan), .change(-0.001)],
                                     ["share", .number(0.123456, decimals: 4), .change(-3, higherIsBetter: nil)]])
        let text = html(table)
        XCTAssertTrue(text.hasPrefix("<table><caption>Scores</caption><thead><tr><th>score</th><th class=\"num\">A, %</th>"), text)
        XCTAssertTrue(text.contains("<td>mIoU</td><td class=\"num\">41.23</td><td class=\"num better\">+2.50</td>"), text)
        XCTAssertTrue(text.contains("<td>loss</td><td class=\"num\">-</td><td class=\"num better\">-0.25</td>"), text)
        XCTAssertTrue(text.contains("<td>FB-IoU</td><td class=\"num\">-</td><td class=\"num\">0.00</td>"), "a change rounding to zero: \(text)")
        XCTAssertTrue(text.contains("<td class=\"num\">0.1235</td><td class=\"num\">-3.00</td>"), text)
    }

    func testKeyValueTableEscapesValues() {
        let text = html(KeyValueTable(rows: [("datapath", "/data/<deepglobe> & more")]))
        XCTAssertEqual(text, "<table class=\"settings\"><tbody><tr><td class=\"key\">datapath</td><td class=\"value\">/data/&lt;deepglobe&gt; &amp; more</td></tr></tbody></table>")
    }

    func testPictureIsEmbeddedAsTheProjectsPNGBytes() throws {
        var canvas = Canvas(width: 20, height: 10)
        canvas.fill(PixelRect(x: 2, y: 2, width: 5, height: 5), color: .red)
        let figure = try PictureFigure(id: "p", caption: "A red square.", picture: canvas.image)
        XCTAssertEqual(figure.png, try PNGWriter.encode(canvas.image))
        let text = html(figure)
        XCTAssertTrue(text.contains("src=\"data:image/png;base64,\(figure.png.base64EncodedString())\""))
        XCTAssertTrue(text.contains("width=\"20\" height=\"10\" alt=\"A red square.\"/>"))
        XCTAssertTrue(text.hasPrefix("<figure id=\"p\" class=\"picture\"><img "))
        XCTAssertTrue(text.hasSuffix("<figcaption>A red square.</figcaption></figure>"))
    }

    func testAnEmptyPictureFailsWhenTheFigureIsMadeNotWhenThePageIsWritten() {
        XCTAssertThrowsError(try PictureFigure(id: "p", caption: "c", picture: RGBImage(width: 0, height: 0, pixels: []))) {
            XCTAssertTrue(($0 as? InputError)?.message.contains("empty") ?? false, "\($0)")
        }
    }

    func testFigureRowHoldsItsFiguresIDs() throws {
        let picture = Canvas(width: 4, height: 4).image
        let row = try FigureRow {
            try PictureFigure(id: "before", caption: "b", picture: picture)
            try PictureFigure(id: "after", caption: "a", picture: picture)
        }
        XCTAssertEqual(row.figureIDs, ["before", "after"])
        XCTAssertTrue(html(row).hasPrefix("<div class=\"figures\"><figure id=\"before\""))
    }
}
