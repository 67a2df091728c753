import Foundation
import Imaging
import XCTest

final class HeatmapFigureTests: XCTestCase {
    func testConstantFieldHasLabelsAndTheMiddleColour() {
        let figure = heatmapFigure(values: [Float](repeating: 0.5, count: 7 * 9), width: 7, height: 9, title: "constant")
        XCTAssertGreaterThanOrEqual(figure.width, 300, "a small field is enlarged")
        XCTAssertEqual(colours(figure)[viridisColor(0.5)].map { $0 >= 7 * 9 * 28 * 28 }, true)
        for label in ["0.46", "0.50", "0.54", "constant"] {
            XCTAssertTrue(containsText(figure, label, scale: label == "constant" ? 2 : 1), label)
        }
    }

    func testTinySpanShowsDistinctColoursAndEnoughDigits() {
        let values = (0..<169).map { Float(0.729) + Float($0) * (Float(0.004) / 168) }
        let figure = heatmapFigure(values: values, width: 13, height: 13, title: "APM-S mask", range: nil,
                                   colorBarLabel: "sigmoid(mask)", axisLabel: "frequency")
        for label in ["0.729", "0.730", "0.731", "0.732", "0.733"] {
            XCTAssertTrue(containsText(figure, label, scale: 1), label)
        }
        // Values a fiftieth of the span apart have colours of their own, all in the figure.
        let present = colours(figure)
        let steps = (0...50).map { viridisColor(Float($0) / 50) }
        XCTAssertEqual(Set(steps).count, 51)
        let mapped = Set(values.map { viridisColor(($0 - values[0]) / (values[168] - values[0])) })
        XCTAssertTrue(mapped.allSatisfy { present[$0] != nil })
        XCTAssertGreaterThan(mapped.count, 100)
    }

    func testDivergingCorrelationIsCentredOnWhite() {
        let n = 16
        var values = (0..<(n * n)).map { i -> Float in
            let (r, c) = (i / n, i % n)
            return r == c ? 1 : Float(r - c) / Float(n)
        }
        values[1] = 0
        let figure = heatmapFigure(values: values, width: n, height: n, title: "correlation", diverging: true)
        XCTAssertEqual(divergingColor(0.5), RGBColor(red: 247, green: 247, blue: 247))
        let present = colours(figure)
        // The range is -1...1 (symmetric), so 0 is white, and the data's -0.9375 and 1 have
        // their colours.
        XCTAssertNotNil(present[divergingColor(0.5)])
        XCTAssertNotNil(present[divergingColor((-0.9375 + 1) / 2)])
        XCTAssertNotNil(present[divergingColor(1)])
        for label in ["-1.0", "-0.5", "0.0", "0.5", "1.0"] { XCTAssertTrue(containsText(figure, label, scale: 1), label) }
    }

    func testNotANumberIsGrayWithAKey() {
        let figure = heatmapFigure(values: [0, 1, .nan, .infinity], width: 2, height: 2, title: "")
        XCTAssertGreaterThan(colours(figure)[.gray] ?? 0, 128 * 128)
        XCTAssertTrue(containsText(figure, "NaN", scale: 1))
        // Nothing finite at all still draws.
        let empty = heatmapFigure(values: [.nan], width: 1, height: 1, title: "nothing")
        XCTAssertGreaterThan(empty.width, 256)
    }

    func testLargeFieldsKeepTheirSizeAndDoubleTheText() {
        let values = (0..<(512 * 512)).map { Float($0 % 512) }
        let figure = heatmapFigure(values: values, width: 512, height: 512, title: "large")
        XCTAssertGreaterThan(figure.width, 512)
        XCTAssertLessThan(figure.width, 700)
        XCTAssertTrue(containsText(figure, "large", scale: 3))
        XCTAssertTrue(containsText(figure, "400", scale: 2))
    }

    func testSameInputSameBytes() {
        let values = (0..<100).map { Float(sin(Double($0))) }
        let a = heatmapFigure(values: values, width: 10, height: 10, title: "sin", colorBarLabel: "value", axisLabel: "index")
        let b = heatmapFigure(values: values, width: 10, height: 10, title: "sin", colorBarLabel: "value", axisLabel: "index")
        XCTAssertEqual(try PNGWriter.encode(a), try PNGWriter.encode(b))
    }
}

final class TitledTests: XCTestCase {
    func testTitleGoesAboveThePictureUnchanged() {
        let picture = heatmap(values: (0..<16).map(Float.init), width: 4, height: 4, scale: 40)
        let captioned = titled(picture, "query")
        XCTAssertEqual(captioned.width, picture.width)
        XCTAssertGreaterThan(captioned.height, picture.height)
        // The picture is the bottom of the result, byte for byte.
        XCTAssertEqual(Array(captioned.pixels.suffix(picture.pixels.count)), picture.pixels)
        XCTAssertTrue(containsText(captioned, "query", scale: 2))
        // A title wider than a small picture widens the result; no title leaves it as it is.
        XCTAssertGreaterThan(titled(RGBImage(width: 4, height: 4, pixels: [UInt8](repeating: 0, count: 48)), "wide").width, 4)
        XCTAssertEqual(titled(picture, ""), picture)
        // A long title at the small size is as tall as a short one at the large size.
        XCTAssertEqual(titled(picture, "after fifty steps of Adam").height, captioned.height)
    }
}
