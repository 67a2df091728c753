import Foundation
import Imaging
@testable import Report
import TensorCore
import XCTest

/// The document: self-contained, well formed, every promised figure present, ids unique.
final class HTMLReportTests: XCTestCase {
    func page() throws -> HTMLReport {
        var page = HTMLReport(title: "A </title><script>alert(1)</script> page", lead: "Lead & summary.", generator: "cdfss test")
        page.add("Configuration") { KeyValueTable(rows: [("checkpoint", "<weights>.pt"), ("seed", "0")]) }
        try page.add("Figures") {
            SVGLineChart(id: "loss", caption: "Loss.", xLabel: "step", yLabel: "loss (nats)",
                         series: [.init(name: "loss", points: [(1, 0.7), (2, 0.6), (3, 0.65)])])
            SVGBarChart(id: "class-iou", caption: "IoU.", categories: ["a", "b"], categoryLabel: "class",
                        series: [.init(name: "IoU", values: [10, 20])], valueLabel: "IoU (%)", valueRange: 0...100)
            try PictureFigure(id: "picture", caption: "A picture.", picture: Canvas(width: 8, height: 6).image)
        }
        page.add("Empty") { [any ReportBlock]() }
        return page
    }

    func testThePageIsWellFormedAndHoldsEveryFigureItPromises() throws {
        let page = try page()
        XCTAssertEqual(page.figureIDs, ["loss", "class-iou", "picture"])
        let read = try structure(page)
        XCTAssertEqual(read.declaredFigures, ["loss", "class-iou", "picture"])
        XCTAssertEqual(read.figures.map(\.id), ["loss", "class-iou", "picture"])
        XCTAssertEqual(read.problems, [])
        XCTAssertEqual(read.title, "A </title><script>alert(1)</script> page")
        XCTAssertEqual(read.scripts, 0, "a title with a script tag stays text")
        XCTAssertEqual(read.figure("loss")?.axisLabels, ["loss (nats)", "step"])
        XCTAssertEqual(read.figure("class-iou")?.legendEntries, ["IoU"])
        XCTAssertTrue(read.figure("picture")?.embedsPNG ?? false)
    }

    func testThePageIsSelfContained() throws {
        let text = try page().rendered()
        XCTAssertTrue(text.hasPrefix("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\""), String(text.prefix(80)))
        XCTAssertTrue(text.contains("<meta charset=\"utf-8\"/>"))
        XCTAssertTrue(text.contains("<style>"))
        for outside in ["https:", "<link", "<script", "@import", "url("] {
            XCTAssertFalse(text.contains(outside), "the page refers to \(outside)")
        }
        // The only http text is the namespaces' names, which nothing fetches.
        let namespaces = occurrences(of: "http://www.w3.org/", in: text)
        XCTAssertEqual(occurrences(of: "http", in: text), namespaces)
    }

    func testContentsListEveryShownSectionAndEmptySectionsAreLeftOut() throws {
        let page = try page()
        let text = try page.rendered()
        XCTAssertTrue(text.contains("<a href=\"#section-configuration\">Configuration</a>"))
        XCTAssertTrue(text.contains("<a href=\"#section-figures\">Figures</a>"))
        XCTAssertFalse(text.contains("Empty"))
        XCTAssertTrue(text.contains("<section id=\"section-figures\"><h2>Figures</h2>"))
    }

    func testIDsUsedTwiceOrMalformedAreRefused() throws {
        var page = HTMLReport(title: "t", generator: "g")
        page.add("One") {
            SVGLineChart(id: "loss", caption: "c", xLabel: "x", yLabel: "y", series: [])
            SVGLineChart(id: "loss", caption: "c", xLabel: "x", yLabel: "y", series: [])
        }
        XCTAssertThrowsError(try page.rendered()) { XCTAssertEqual(($0 as? InputError)?.message, "report id \"loss\" is used twice") }
        var other = HTMLReport(title: "t", generator: "g")
        other.add("One") { SVGLineChart(id: "Loss Curve", caption: "c", xLabel: "x", yLabel: "y", series: []) }
        XCTAssertThrowsError(try other.rendered()) { XCTAssertTrue("\($0)".contains("Loss Curve"), "\($0)") }
    }

    func testStagedPageAppearsOnlyAtCommit() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-html-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("report.html")
        let outputs = StagedOutputs()
        try page().stage(to: url, in: outputs)
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        try outputs.commit()
        XCTAssertEqual(try Data(contentsOf: url), try page().encoded())
        // A command that fails before committing leaves nothing.
        let failing = StagedOutputs()
        let other = folder.appendingPathComponent("other.html")
        try page().stage(to: other, in: failing)
        failing.discard()
        XCTAssertFalse(FileManager.default.fileExists(atPath: other.path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["report.html"])
    }
}
