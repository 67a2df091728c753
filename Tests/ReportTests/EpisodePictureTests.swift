import Foundation
import Imaging
@testable import Report
import XCTest

/// The episode picture reads on its own: titles, legend, class and IoU, a rule, one scale,
/// an empty prediction said in words.
final class EpisodePictureTests: XCTestCase {
    /// A 40 x 30 picture of a gradient and a mask of its left third.
    func picture(_ shade: UInt8) -> RGBImage {
        RGBImage(width: 40, height: 30, pixels: (0..<(40 * 30)).flatMap { i -> [UInt8] in [shade, UInt8(i % 40 * 6), 90] })
    }

    func mask(foreground: Bool = true, width: Int = 40, height: Int = 30) -> GrayImage {
        GrayImage(width: width, height: height, pixels: (0..<(width * height)).map { foreground && $0 % width < width / 3 ? 1 : 0 })
    }

    func draw(shots: Int = 2, prediction: GrayImage? = nil) -> RGBImage {
        EpisodePicture.draw(supports: (0..<shots).map { (picture(UInt8(40 * $0)), mask()) }, query: picture(200),
                            truth: mask(), prediction: prediction ?? mask(width: 17, height: 11),
                            heading: EpisodePicture.heading(episode: 7, className: "class-2", shots: shots, foregroundIoU: 41.2))
    }

    func testEveryPanelIsTitledAndTheLegendAndHeadingAreWritten() {
        let drawn = draw()
        for text in ["support 1", "support 2", "query: ground truth", "query: prediction",
                     "episode 7, class \"class-2\", 2-shot: foreground IoU 41.20%",
                     "support mask, ground truth: foreground", "prediction: foreground", "untinted: background",
                     "no pixel is ignored (masks are binarised at 128)"] {
            XCTAssertTrue(pictureContainsText(drawn, text, scale: 2), "\"\(text)\" is written")
        }
        XCTAssertFalse(pictureContainsText(drawn, "(empty prediction)", scale: 2))
    }

    func testPanelsShareOneSizeAndARuleSeparatesSupportsFromTheQuery() {
        let side = EpisodePicture.panelSide
        let drawn = draw(shots: 2)
        // Width: margins, four panels, two gaps between panels of a side, the rule with its space.
        XCTAssertEqual(drawn.width, 2 * EpisodePicture.margin + 4 * side + 2 * EpisodePicture.panelGap
                       + 2 * EpisodePicture.ruleGap + EpisodePicture.ruleWidth)
        let canvas = Canvas(image: drawn)
        let ruleX = EpisodePicture.margin + 2 * side + EpisodePicture.panelGap + EpisodePicture.ruleGap
        let middle = drawn.height / 2
        for x in ruleX..<(ruleX + EpisodePicture.ruleWidth) { XCTAssertEqual(canvas.color(x: x, y: middle), EpisodePicture.ruleColor) }
        XCTAssertEqual(canvas.color(x: ruleX - 1, y: middle), .white)
        XCTAssertEqual(canvas.color(x: ruleX + EpisodePicture.ruleWidth, y: middle), .white)
        // Panels of pictures and masks of other sizes all come out at the panel's square.
        let panel = EpisodePicture.panel(picture(10), mask: mask(width: 7, height: 5), color: EpisodePicture.truthColor, emptyNote: "x")
        XCTAssertEqual([panel.width, panel.height], [side, side])
    }

    func testAnEmptyPredictionIsSaidInWords() {
        let drawn = draw(prediction: mask(foreground: false))
        XCTAssertTrue(pictureContainsText(drawn, "(empty prediction)", scale: 2))
        XCTAssertFalse(pictureContainsText(drawn, "(empty mask)", scale: 2))
    }

    func testMasksAreTintedAndOutlinedInTheirColours() {
        let side = EpisodePicture.panelSide
        let plain = RGBImage(width: side, height: side, pixels: [UInt8](repeating: 200, count: side * side * 3))
        let left = GrayImage(width: side, height: side, pixels: (0..<(side * side)).map { $0 % side < side / 2 ? 255 : 0 })
        let panel = Canvas(image: EpisodePicture.panel(plain, mask: left, color: EpisodePicture.predictionColor, emptyNote: "x"))
        // Outline in full colour at the edge of the region, tint inside, the background untouched.
        XCTAssertEqual(panel.color(x: side / 2 - 1, y: side / 2), EpisodePicture.predictionColor)
        XCTAssertNotEqual(panel.color(x: side / 4, y: side / 2), EpisodePicture.predictionColor)
        XCTAssertNotEqual(panel.color(x: side / 4, y: side / 2), RGBColor(red: 200, green: 200, blue: 200))
        XCTAssertEqual(panel.color(x: 3 * side / 4, y: side / 2), RGBColor(red: 200, green: 200, blue: 200))
    }

    func testWritesExamplesForThoseWhoLook() throws {
        guard let folder = ProcessInfo.processInfo.environment["CDFSS_EXAMPLE_FIGURES"] else {
            throw XCTSkip("set CDFSS_EXAMPLE_FIGURES to a folder to write example episode pictures")
        }
        let url = URL(fileURLWithPath: folder)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try draw(shots: 1, prediction: mask(foreground: false)).writePNG(to: url.appendingPathComponent("episode-empty-prediction.png"))
        try draw(shots: 3).writePNG(to: url.appendingPathComponent("episode-3-shot.png"))
    }
}
