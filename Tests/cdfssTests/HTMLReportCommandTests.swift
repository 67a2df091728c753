import Evaluation
import Finetune
import Foundation
import Report
import XCTest

/// The HTML reports of the real commands, on tiny synthetic data with the built-in model:
/// each page is read back as XML and must hold every figure it promises (charts with both
/// axis labels and a legend, pictures as embedded PNG), nothing from outside the page, and
/// the figures its command is meant to draw. Pictures of 64 x 64 (layer-4 maps of 2 x 2)
/// keep each test within seconds.
final class HTMLReportCommandTests: CommandLineTestCase {
    let size = "64"

    func synthesize(_ name: String = "target", classes: Int = 3, images: Int = 4) throws -> String {
        let folder = path(name)
        let made = try run(["synth", "--out", folder, "--style", "satellite", "--classes", String(classes),
                            "--images-per-class", String(images), "--size", size, "--seed", "1"])
        XCTAssertEqual(made.status, 0, made.stderr)
        return folder
    }

    func masker() throws -> String {
        let file = path("start.safetensors")
        let made = try run(["masker", "init", "--channels", "2048", "--height", "2", "--width", "2", "--seed", "5", "--output", file])
        XCTAssertEqual(made.status, 0, made.stderr)
        return file
    }

    /// The page read back; its problems must be none.
    func page(_ file: String, line: UInt = #line) throws -> ReportStructure {
        let read = try ReportStructure(parsing: Data(contentsOf: URL(fileURLWithPath: file)), source: file)
        XCTAssertEqual(read.problems, [], line: line)
        return read
    }

    func testTestReportHoldsScoresClassesMaskerAndTheFirstEpisodes() throws {
        let started = Date()
        let data = try synthesize()
        let test = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data, "--shots", "1",
                    "--episodes", "8", "--image-size", size]
        let ran = try run(test + ["--masker", try masker(), "--html", path("test.html"), "--report", path("test.json"),
                                  "--vis-dir", path("vis"), "--vis-count", "2"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let read = try page(path("test.html"))
        XCTAssertEqual(read.declaredFigures, ["class-iou"] + (0..<EvaluationPage.exampleEpisodes).map { "episode-\($0)" } + ["masker-factors"])
        XCTAssertEqual(read.figure("class-iou")?.axisLabels, ["foreground IoU (%)", "class"])
        XCTAssertEqual(read.title, "cdfss test: folder, 1-shot")
        // The JSON report and the pictures of --vis-dir are as before.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("vis")).sorted(), ["episode-00000.png", "episode-00001.png"])
        let report = try ReportFile.read(URL(fileURLWithPath: path("test.json")))
        let text = try String(contentsOfFile: path("test.html"), encoding: .utf8)
        XCTAssertTrue(text.contains(report.scoreLine), "the page's lead is the run's score line")
        XCTAssertLessThan(Date().timeIntervalSince(started), 20)
    }

    func testTestReportOfADomainAdaptationShowsTheLossAndTheMaskerBeforeAndAfter() throws {
        let data = try synthesize()
        let ran = try run(["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                           "--shots", "1", "--episodes", "3", "--image-size", size, "--adapt", "domain", "--adapt-count", "3",
                           "--steps", "4", "--html", path("domain.html")])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertTrue(ran.stderr.contains("seed 0: adapted to 3 images in 4 steps, loss "), ran.stderr)
        XCTAssertTrue(ran.stderr.contains("(mean of the first and of the last 3 steps, a pass over the 3 pairs)"), ran.stderr)
        let read = try page(path("domain.html"))
        XCTAssertEqual(read.declaredFigures, ["class-iou", "episode-0", "episode-1", "episode-2", "loss", "masker-start",
                                              "masker-factors", "masker-change"])
        XCTAssertEqual(read.figure("loss")?.legendEntries,
                       ["loss of each step (its pairs only)", "running mean over the last 3 steps, one pass over the 3 pairs"])
    }

    func testFinetuneReportShowsTheLossWithItsRunningMeanAndTheMasker() throws {
        let data = try synthesize(classes: 1, images: 2)
        let image = { (n: Int) in URL(fileURLWithPath: data).appendingPathComponent("class-1/images/00\(n).png").path }
        let mask = { (n: Int) in URL(fileURLWithPath: data).appendingPathComponent("class-1/masks/00\(n).png").path }
        let output = path("tuned.safetensors")
        let tuned = try run(["finetune", "--checkpoint", "builtin:deterministic", "--adapt-image", image(1), "--adapt-mask", mask(1),
                             "--adapt-image", image(2), "--adapt-mask", mask(2), "--masker-init", try masker(), "--steps", "9",
                             "--image-size", size, "--output", output, "--html", path("tune.html")])
        XCTAssertEqual(tuned.status, 0, tuned.stderr)
        // Two pictures give four pairs: the loss is read over the last four steps.
        XCTAssertTrue(tuned.stdout.hasPrefix("loss "), tuned.stdout)
        XCTAssertTrue(tuned.stdout.contains("(mean of the first and of the last 4 steps, a pass over the 4 pairs) over 9 steps"), tuned.stdout)
        XCTAssertTrue(tuned.stdout.contains("and \(path("tune.html"))"), tuned.stdout)
        XCTAssertTrue(tuned.stderr.contains("mean of the last 4 steps"), tuned.stderr)
        let read = try page(path("tune.html"))
        XCTAssertEqual(read.declaredFigures, ["loss", "masker-start", "masker-factors", "masker-change"])
        // The file keeps each step's own loss; the summary's figures are its running means.
        let saved = try FineTunedMaskerFile.read(URL(fileURLWithPath: output))
        XCTAssertEqual(saved.lossCurve.count, 9)
        let first = saved.lossCurve.prefix(4).map(Double.init).reduce(0, +) / 4
        let last = saved.lossCurve.suffix(4).map(Double.init).reduce(0, +) / 4
        XCTAssertTrue(tuned.stdout.hasPrefix(String(format: "loss %.4f -> %.4f ", first, last)), tuned.stdout)
    }

    func testAnalyzeReportsHoldTheirFigures() throws {
        let started = Date()
        let data = try synthesize(classes: 2, images: 2)
        let start = try masker()
        let model = ["--checkpoint", "builtin:deterministic", "--masker", start, "--image-size", size]
        let correlation = try run(["analyze", "correlation"] + model + ["--images", data + "/class-1/images", "--html", path("corr.html")])
        XCTAssertEqual(correlation.status, 0, correlation.stderr)
        let taps = ["layer4-0", "layer4-1", "layer4-2"]
        XCTAssertEqual(try page(path("corr.html")).declaredFigures,
                       ["correlation-mean-abs-r", "correlation-participation"] + taps.flatMap { ["correlation-\($0)-without", "correlation-\($0)-with"] })

        let sweep = try run(["analyze", "filter-sweep"] + model + ["--benchmark", "folder", "--datapath", data, "--episodes", "2",
                                                                    "--radii", "0.5", "--html", path("sweep.html")])
        XCTAssertEqual(sweep.status, 0, sweep.stderr)
        XCTAssertEqual(try page(path("sweep.html")).declaredFigures,
                       ["sweep-amplitude-miou", "sweep-amplitude-correlation", "sweep-phase-miou", "sweep-phase-correlation"])

        let picture = data + "/class-1/images/001.png"
        let activation = try run(["analyze", "activation"] + model + ["--image", picture, "--output", path("act.png"), "--html", path("act.html")])
        XCTAssertEqual(activation.status, 0, activation.stderr)
        XCTAssertEqual(try page(path("act.html")).declaredFigures, ["activation"])

        let features = try run(["analyze", "features"] + model + ["--image", picture, "--taps", "layer4.2", "--out", path("features"),
                                                                   "--html", path("features.html")])
        XCTAssertEqual(features.status, 0, features.stderr)
        let text = try String(contentsOfFile: path("features.html"), encoding: .utf8)
        XCTAssertTrue(text.contains("<td>query.layer4.2.npy</td><td>[1, 2048, 2, 2]</td>"), text)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20)
    }

    func testReportCompareSetsTwoRunsSideBySideAndRefusesOthers() throws {
        let data = try synthesize()
        let test = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data, "--shots", "1",
                    "--image-size", size]
        XCTAssertEqual(try run(test + ["--episodes", "6", "--report", path("a.json")]).status, 0)
        XCTAssertEqual(try run(test + ["--episodes", "6", "--seed", "3", "--masker", try masker(), "--report", path("b.json")]).status, 0)
        let compared = try run(["report", "compare", path("a.json"), path("b.json"), "--html", path("compare.html")])
        XCTAssertEqual(compared.status, 0, compared.stderr)
        let lines = compared.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("A: \(path("a.json")) (folder, 1-shot, 6 episodes, seed 0, adaptation none, masker none)"), lines[0])
        XCTAssertTrue(lines[2].hasPrefix("class  name"), lines[2])
        XCTAssertEqual(lines.filter { $0.contains("class-") }.count, 3)
        XCTAssertTrue(lines.contains { $0.contains("mIoU") } && lines.contains { $0.contains("FB-IoU") })
        XCTAssertEqual(try page(path("compare.html")).declaredFigures, ["class-iou-a-b", "class-iou-change"])

        let json = try run(["report", "compare", path("a.json"), path("b.json"), "--json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((object["classes"] as? [Any])?.count, 3)

        // A run that met two of the three classes does not compare.
        XCTAssertEqual(try run(test + ["--episodes", "2", "--report", path("short.json")]).status, 0)
        assertFailsWithOneLine(try run(["report", "compare", path("a.json"), path("short.json"), "--html", path("no.html")]),
                               mentioning: ["short.json", "classes 0, 1", "same classes"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("no.html")))
    }

    func testHTMLOutputsAreCheckedBeforeAnyWork() throws {
        let data = try synthesize(classes: 2, images: 2)
        let test = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data, "--shots", "1",
                    "--episodes", "2", "--image-size", size]
        assertFailsWithOneLine(try run(test + ["--html", path("r.htm")]), mentioning: ["--html", "r.htm", "ending in .html"])
        assertFailsWithOneLine(try run(test + ["--html", path("missing/r.html")]), mentioning: ["--html", "does not exist"])
        assertFailsWithOneLine(try run(test + ["--report", path("same.json"), "--html", path("same.json")]),
                               mentioning: ["--html", "ending in .html"])
        // A page may not replace an input, even through a link.
        try "{}".write(toFile: path("a.json"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: path("page.html"), withDestinationPath: path("a.json"))
        assertFailsWithOneLine(try run(["report", "compare", path("a.json"), path("a.json"), "--html", path("page.html")]),
                               mentioning: ["--html", "same file as report A"])
        XCTAssertEqual(try String(contentsOfFile: path("a.json"), encoding: .utf8), "{}")
        // A run that fails leaves no page.
        let failed = try run(test + ["--shots", "5", "--html", path("fresh.html")])
        XCTAssertNotEqual(failed.status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("fresh.html")))
    }
}
