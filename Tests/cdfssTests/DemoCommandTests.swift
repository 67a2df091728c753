import Foundation
import Report
import XCTest

/// `cdfss demo --quick`: the table's figures in JSON, and a report that holds every figure it
/// promises.
final class DemoCommandTests: CommandLineTestCase {
    func testQuickDemoPrintsEveryStyleAndWritesAWholeReport() throws {
        let result = try run(["demo", "--quick", "--out", path("demo"), "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let styles = try XCTUnwrap(object["styles"] as? [[String: Any]])
        XCTAssertEqual(styles.map { $0["style"] as? String }, ["satellite", "xray", "lesion", "objects"])
        let keys: Set<String> = ["style", "episodes", "adaptation_images", "miou_before", "miou_after", "fbiou_before", "fbiou_after",
                                 "mean_abs_r_before", "mean_abs_r_after", "participation_ratio_before",
                                 "participation_ratio_after", "seconds"]
        var changes: [Double] = []
        for style in styles {
            XCTAssertEqual(Set(style.keys), keys)
            let before = try XCTUnwrap(style["miou_before"] as? Double), after = try XCTUnwrap(style["miou_after"] as? Double)
            XCTAssertTrue((0...100).contains(before) && (0...100).contains(after), "\(style)")
            XCTAssertNotNil(style["mean_abs_r_after"] as? Double, "the maskers' correlation is measured")
            changes.append(after - before)
        }
        let mean = try XCTUnwrap(object["mean_miou_change"] as? Double)
        XCTAssertEqual(mean, changes.reduce(0, +) / Double(changes.count), accuracy: 1e-9)

        let report = try XCTUnwrap(object["report"] as? String)
        XCTAssertEqual(report, path("demo") + "/report.html")
        let page = try ReportStructure(parsing: Data(contentsOf: URL(fileURLWithPath: report)), source: report)
        XCTAssertEqual(page.problems, [])
        for id in ["miou-per-style", "mean-abs-r", "satellite-loss", "xray-episode-1-before", "xray-episode-1-after"] {
            XCTAssertNotNil(page.figure(id), "\(id) in \(page.declaredFigures)")
        }
        XCTAssertTrue(page.declaredFigures.contains { $0.hasPrefix("objects-masker") }, "\(page.declaredFigures)")

        // The styles are kept: a second run reuses them.
        let again = try run(["demo", "--quick", "--out", path("demo"), "--styles", "xray"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("xray "), again.stdout)
    }

    func testUnknownStyleIsOneLine() throws {
        assertFailsWithOneLine(try run(["demo", "--styles", "xray,source"]), mentioning: ["--styles", "source"])
    }
}
