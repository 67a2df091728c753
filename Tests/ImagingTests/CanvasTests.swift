import Imaging
import XCTest

final class CanvasTests: XCTestCase {
    func testSolidAndDashedLines() {
        var canvas = Canvas(width: 20, height: 3)
        canvas.line(from: (0, 1), to: (19, 1), color: .black)
        XCTAssertTrue((0..<20).allSatisfy { canvas.color(x: $0, y: 1) == .black }, "both ends included")
        XCTAssertTrue((0..<20).allSatisfy { canvas.color(x: $0, y: 0) == .white })

        var dashed = Canvas(width: 20, height: 3)
        dashed.line(from: (0, 1), to: (19, 1), color: .black, dash: (on: 3, off: 2))
        let row = (0..<20).map { dashed.color(x: $0, y: 1) == .black }
        XCTAssertEqual(row, (0..<20).map { $0 % 5 < 3 })

        // A thick line covers the pen around it; a diagonal reaches both corners.
        var thick = Canvas(width: 10, height: 10)
        thick.line(from: (0, 0), to: (9, 9), color: .black, thickness: 3)
        XCTAssertEqual(thick.color(x: 9, y: 9), .black)
        XCTAssertEqual(thick.color(x: 5, y: 4), .black)
        XCTAssertEqual(thick.color(x: 0, y: 9), .white)
    }

    func testDashesRunOnAcrossPolylineCorners() {
        var canvas = Canvas(width: 12, height: 1)
        // Four 3-pixel segments: restarting the pattern at every corner would draw them all solid.
        canvas.polyline([(0, 0), (2, 0), (5, 0), (8, 0), (11, 0)], color: .black, dash: (on: 4, off: 4))
        XCTAssertEqual((0..<12).map { canvas.color(x: $0, y: 0) == .black }, (0..<12).map { $0 % 8 < 4 })
    }

    func testDrawingOutsideTheCanvasIsClipped() {
        var canvas = Canvas(width: 10, height: 8)
        canvas.line(from: (-50, -20), to: (60, 30), color: .black, thickness: 4, dash: (on: 2, off: 1))
        canvas.line(from: (-5, 100), to: (-5, -100), color: .black)
        canvas.fill(PixelRect(x: -3, y: 6, width: 100, height: 100), color: .red)
        canvas.stroke(PixelRect(x: 8, y: -2, width: 5, height: 5), color: .blue, thickness: 2)
        XCTAssertEqual(canvas.color(x: 5, y: 7), .red)
        XCTAssertEqual(canvas.color(x: 9, y: 0), .blue)
        for shape in MarkerShape.allCases { canvas.marker(shape, x: 0, y: 9, size: 9, color: .green) }
        canvas.text("edge", x: 9, y: 2, alignment: .center, verticalAlignment: .center)
        canvas.verticalText("edge", x: 4, y: 12)
        XCTAssertEqual(canvas.image.pixels.count, 10 * 8 * 3)
        XCTAssertEqual(canvas.color(x: 0, y: 7), .green, "the marker's visible part")
    }

    func testPlaceCopiesTheVisiblePart() {
        let tile = RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 * 10) })
        var canvas = Canvas(width: 4, height: 4, background: .black)
        canvas.place(tile, x: 2, y: -1)
        // Only the tile's bottom row, first two columns, lands: at (2, 0) and (3, 0).
        XCTAssertEqual(canvas.color(x: 2, y: 0), RGBColor(red: 90, green: 100, blue: 110))
        XCTAssertEqual(canvas.color(x: 3, y: 0), RGBColor(red: 120, green: 130, blue: 140))
        XCTAssertEqual(canvas.color(x: 2, y: 1), .black)
        canvas.place(tile, x: -10, y: 0)
        canvas.place(tile, x: 0, y: 4)
        XCTAssertEqual(canvas.color(x: 0, y: 1), .black)
    }

    func testAlignedTextSitsOnItsAnchor() {
        var canvas = Canvas(width: 40, height: 20)
        canvas.text("10", x: 30, y: 10, alignment: .end, verticalAlignment: .center)
        var ink: [(Int, Int)] = []
        for y in 0..<20 { for x in 0..<40 where canvas.color(x: x, y: y) != .white { ink.append((x, y)) } }
        // "10" is 11 x 9: ending at 30 puts it in columns 19...29, centred on row 10: rows 6...14.
        XCTAssertEqual(ink.map(\.0).max(), 29)
        XCTAssertGreaterThanOrEqual(ink.map(\.0).min()!, 19)
        XCTAssertGreaterThanOrEqual(ink.map(\.1).min()!, 6)
        XCTAssertLessThanOrEqual(ink.map(\.1).max()!, 14)
    }

    func testStackedPlacesPanelsTopToBottom() {
        let a = RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 10, count: 12))
        let b = RGBImage(width: 1, height: 1, pixels: [20, 20, 20])
        let panel = stacked([a, b], gap: 1, background: .black)
        XCTAssertEqual(panel.width, 2)
        XCTAssertEqual(panel.height, 4)
        XCTAssertEqual(GrayImage(panel).pixels, [10, 10, 10, 10, 0, 0, 20, 0])
        XCTAssertEqual(stacked([]).width, 0)
    }

    func testSeriesPaletteIsDistinctAndRepeats() {
        let colors = (0..<7).map { RGBColor.series($0) }
        for i in 0..<7 { for j in (i + 1)..<7 { XCTAssertNotEqual(colors[i], colors[j]) } }
        XCTAssertEqual(RGBColor.series(7), colors[0])
        XCTAssertEqual(RGBColor.series(-1), colors[6])
        XCTAssertFalse(colors.contains(.white))
    }
}
