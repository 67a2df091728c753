@testable import Evaluation
import Foundation
import FreqMask
import Imaging
@testable import Report
import TensorCore
import XCTest

/// The pages the commands write, built from made-up runs: each holds the figures it promises,
/// and the numbers on them are the run's.
final class PageTests: XCTestCase {
    func testEvaluationPageShowsScoresClassesMaskerAndExamples() throws {
        let report = try ReportFixtures.report()
        var page = EvaluationPage(file: .single(report), reportPath: "r.json")
        page.startMasker = (try ReportFixtures.masker(), "checkpoint")
        let picture = Canvas(width: 30, height: 20).image
        page.examples = [(0, picture), (1, picture)]
        let html = try page.page(generator: "cdfss test")
        let read = try structure(html)
        XCTAssertEqual(read.problems, [])
        XCTAssertEqual(read.declaredFigures, ["class-iou", "episode-0", "episode-1", "masker-factors"])
        XCTAssertEqual(read.title, "cdfss test: deepglobe, 1-shot")
        let text = try html.rendered()
        XCTAssertTrue(text.contains(String(format: ">%.2f</td>", report.miou)), "the run's mIoU is in the table")
        for entry in report.classes { XCTAssertTrue(text.contains("<title>\(entry.classIndex): \(entry.name), foreground IoU: " + String(format: "%.1f", entry.iou))) }
        let query = report.episodes[0].query
        XCTAssertTrue(text.contains("<figcaption>Episode 0: query \(query), support \(report.episodes[0].supports[0]).</figcaption>"))
        XCTAssertFalse(text.contains("Fine-tuning"), "no adaptation, no loss section")
    }

    func testEvaluationPageOfAnAdaptedRunShowsTheLossAndTheMaskerBeforeAndAfter() throws {
        let adaptation = AdaptationConfig(mode: .domain, steps: 6, lr: 1e-3, optimizer: "adam", batch: 1, adaptCount: 2, images: ["1/img0.jpg", "2/img0.jpg"])
        var page = EvaluationPage(file: .single(try ReportFixtures.report(adaptation: adaptation)), reportPath: nil)
        page.startMasker = (try ReportFixtures.masker(), "fresh")
        page.domainAdaptations = [.init(seed: 0, losses: [0.7, 0.6, 0.65, 0.5, 0.55, 0.45], stepsPerPass: 2, pairs: 2, batch: 1,
                                        masker: try ReportFixtures.masker(shift: 0.5))]
        let read = try structure(try page.page(generator: "g"))
        XCTAssertEqual(read.problems, [])
        XCTAssertEqual(read.declaredFigures, ["class-iou", "loss", "masker-start", "masker-factors", "masker-change"])
        XCTAssertEqual(read.figure("loss")?.legendEntries.count, 2)
        XCTAssertEqual(read.figure("loss")?.axisLabels, [LossCurveFigure.lossLabel, "step"])
    }

    func testEvaluationPageOfSeveralSeedsAndOfEpisodeAdaptation() throws {
        let runs = [try ReportFixtures.report(seed: 0), try ReportFixtures.report(seed: 1)]
        var page = EvaluationPage(file: .multiSeed(try MultiSeedReport(runs: runs)), reportPath: nil)
        page.episodeLosses = [[0.7, 0.6, 0.5], [0.8, 0.5, 0.4]]
        let html = try page.page(generator: "g")
        let read = try structure(html)
        XCTAssertEqual(read.problems, [])
        XCTAssertEqual(read.declaredFigures, ["class-iou", "loss-episodes"])
        let text = try html.rendered()
        let summary = SeedSummary(runs: runs)
        XCTAssertTrue(text.contains(String(format: "%.2f ± %.2f", summary.miouMean, summary.miouStd)))
        XCTAssertTrue(text.contains("seed 1, IoU %"))
        XCTAssertEqual(read.figure("loss-episodes")?.legendEntries, ["mean over 2 episodes", "lowest", "highest"])
    }

    func testLossCurveDrawsEachStepAndTheRunningMeanOverAPass() throws {
        let losses: [Float] = [0.9, 0.3, 0.8, 0.2, 0.7, 0.1]
        let chart = LossCurveFigure.chart(id: "loss", losses: losses, window: 2, pairs: 2, batch: 1)
        XCTAssertEqual(chart.series.count, 2)
        XCTAssertEqual(chart.series[0].points.map(\.y), losses.map(Double.init))
        XCTAssertEqual(chart.series[1].points.map(\.y), RunningMean.series(losses, window: 2))
        XCTAssertEqual(chart.series[1].points.map(\.x), [1, 2, 3, 4, 5, 6])
        XCTAssertTrue(chart.series[1].name.contains("last 2 steps, one pass over the 2 pairs"), chart.series[1].name)
        var markup = Markup()
        LossCurveFigure.summary(losses: losses, window: 2).render(into: &markup)
        XCTAssertTrue(markup.text.contains("<td>the first 2 steps</td><td class=\"num\">0.6000</td>"), markup.text)
        XCTAssertTrue(markup.text.contains("<td>the last 2 steps (of 6)</td><td class=\"num\">0.4000</td>"), markup.text)
        XCTAssertTrue(markup.text.contains("<td class=\"num better\">-0.2000</td>"), "a falling loss is an improvement: \(markup.text)")
    }

    func testFineTuningPage() throws {
        let page = FineTuningPage(configuration: [("checkpoint", "builtin:deterministic")], losses: [0.7, 0.6, 0.5, 0.45],
                                  stepsPerPass: 1, pairs: 1, skippedPairs: 3, batch: 1, masker: try ReportFixtures.masker(shift: 1),
                                  start: (try ReportFixtures.masker(), "start (masker-init m.safetensors)"))
        let html = try page.page(generator: "cdfss finetune")
        let read = try structure(html)
        XCTAssertEqual(read.problems, [])
        XCTAssertEqual(read.declaredFigures, ["loss", "masker-start", "masker-factors", "masker-change"])
        let text = try html.rendered()
        XCTAssertTrue(text.contains("3 of 4 pairs were skipped"))
        XCTAssertTrue(text.contains("went from 0.7000 (first step) to 0.4500 (last step)"), text)
    }

    func testAMaskerWithoutAmplitudePhasePartSaysSo() throws {
        let blocks = try MaskerFigures.blocks(try ReportFixtures.masker(apm: false), name: "masker", idPrefix: "m")
        XCTAssertEqual(blocks.flatMap(\.figureIDs), [])
        var markup = Markup()
        for block in blocks { block.render(into: &markup) }
        XCTAssertTrue(markup.text.contains("no amplitude-phase part"))
        XCTAssertTrue(markup.text.contains("Channel phase attention (ACPA): weight norms"))
    }

    func testComparisonPage() throws {
        let comparison = try ReportComparison(.single(try ReportFixtures.report(seed: 0)), source: "a.json",
                                              .single(try ReportFixtures.report(seed: 4, masker: "m.safetensors")), source: "b.json")
        let html = ComparisonPage.page(comparison, generator: "cdfss report compare")
        let read = try structure(html)
        XCTAssertEqual(read.problems, [])
        XCTAssertEqual(read.declaredFigures, ["class-iou-a-b", "class-iou-change"])
        XCTAssertEqual(read.figure("class-iou-a-b")?.legendEntries, ["A: a.json", "B: b.json"])
        let text = try html.rendered()
        XCTAssertTrue(text.contains("<td>masker</td><td>&quot;checkpoint&quot;</td><td>&quot;m.safetensors&quot;</td>"))
    }

    func testFilterSweepAndFeaturePages() throws {
        let outcomes = [
            FilterSweep.Outcome(filter: nil, miou: 40, fbiou: 60, meanAbsR: 0.3, participationRatio: 10),
            FilterSweep.Outcome(filter: .init(band: .lowPass(radius: 1), part: .amplitude), miou: 35, fbiou: 55, meanAbsR: 0.4, participationRatio: 8),
            FilterSweep.Outcome(filter: .init(band: .lowPass(radius: 2), part: .amplitude), miou: 38, fbiou: 58, meanAbsR: 0.35, participationRatio: 9),
            FilterSweep.Outcome(filter: .init(band: .highPass(radius: 1), part: .phase), miou: 20, fbiou: 50, meanAbsR: 0.2, participationRatio: 12),
        ]
        let report = FilterSweepReport(config: .init(checkpointSHA256: "x", maskers: "none", benchmark: "folder", shots: 1, episodes: 4,
                                                     seed: 0, imageSize: 64, target: "features"), outcomes: outcomes)
        let sweep = try structure(DiagnosticPages.filterSweep(report, configuration: [], generator: "g"))
        XCTAssertEqual(sweep.problems, [])
        XCTAssertEqual(sweep.declaredFigures, ["sweep-amplitude-miou", "sweep-amplitude-correlation", "sweep-phase-miou", "sweep-phase-correlation"])
        XCTAssertEqual(sweep.figure("sweep-amplitude-miou")?.legendEntries ?? [], ["low-pass", "no filter"])
        XCTAssertEqual(FilterSweepSections.radiusText(report.filters[2]), "r > 1")

        let features = DiagnosticPages.features([("query.layer4.0", Tensor(shape: [1, 2, 1, 2], scalars: [1, 2, 3, 6]))],
                                                configuration: [], generator: "g")
        let text = try features.rendered()
        XCTAssertTrue(text.contains("<td>query.layer4.0.npy</td><td>[1, 2, 1, 2]</td><td class=\"num\">3.0000</td><td class=\"num\">1.8708</td>"), text)
    }
}
