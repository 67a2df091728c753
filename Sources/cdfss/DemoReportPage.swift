import Datasets
import Evaluation
import Finetune
import Foundation
import Imaging
import Report
import TensorCore

/// The demo's HTML report: what was run, the table of the styles, the before/after bars of
/// mIoU and of the channel correlation, then per style its example episodes before and after,
/// the fine-tuning loss and the adapted masker.
enum DemoReportPage {
    static func write(_ results: [DomainShiftDemo.StyleResult], settings: DomainShiftDemo.Settings, meanChange: Double,
                      to url: URL) throws {
        let styles = results.map(\.style.rawValue)
        var page = HTMLReport(
            title: "cdfss demo: a source-trained model on \(results.count) synthetic target styles",
            lead: "The demo model (HSNet's learner trained by cdfss train on the synthetic source style, over a frozen seeded ResNet-50) "
                + "meets target styles whose frequency content differs from the source's. For each style: \(settings.episodes) 1-shot "
                + "episodes without frequency maskers, then APM-M + ACPA fine-tuned on \(settings.adaptationImages) labelled pictures of the "
                + "style that no episode uses, then the same episodes with the maskers. "
                + String(format: "Mean change of mIoU over the styles: %+.2f points.", meanChange),
            generator: "cdfss \(CDFSS.version) demo")
        page.add("Configuration") {
            KeyValueTable(rows: [
                ("model", "builtin:demo (learner trained on the synthetic source style, seeded ResNet-50 backbone)"),
                ("styles", styles.joined(separator: ", ")),
                ("pictures", "\(settings.classes) classes x \(settings.imagesPerClass) per style, \(settings.imageSize) x \(settings.imageSize), seed \(settings.seed)"),
                ("episodes", "\(settings.episodes) per style, 1-shot, the same before and after"),
                ("fine-tuning", "APM-M + ACPA, \(settings.steps) Adam steps, lr \(settings.learningRate), on \(settings.adaptationImages) pictures per style (every ordered pair within a class)"),
                ("correlation", "layer-4 taps of \(settings.correlationImages) pictures per style, without and with the maskers"),
            ])
        }
        page.add("Scores per style") {
            HTMLTable(columns: [.text("style"), .number("episodes"), .number("mIoU before %"), .number("mIoU after %"),
                                .number("change"), .number("FB-IoU before %"), .number("FB-IoU after %"), .number("seconds")],
                      rows: results.map { r in
                          [HTMLTable.Cell(r.style.rawValue), .number(Double(r.before.episodes.count), decimals: 0),
                           .number(r.before.miou), .number(r.after.miou), .change(r.miouChange), .number(r.before.fbiou),
                           .number(r.after.fbiou), .number(r.seconds, decimals: 1)]
                      })
            SVGBarChart(id: figureID("miou", "per", "style"), caption: "mIoU per style, without and with the fine-tuned maskers",
                        categories: styles, categoryLabel: "target style",
                        series: [.init(name: "without maskers", values: results.map { $0.before.miou }),
                                 .init(name: "with fine-tuned APM-M + ACPA", values: results.map { $0.after.miou })],
                        valueLabel: "mIoU (%)", valueRange: 0...100)
        }
        page.add("Channel correlation at layer 4") {
            Paragraph("Mean |r| is the mean absolute Pearson correlation between pairs of the 2048 channels of the three layer-4 taps "
                + "(lower: channels less redundant); the participation ratio is the effective number of independent channels (higher: more).")
            HTMLTable(columns: [.text("style"), .number("mean |r| before"), .number("after"), .number("change"),
                                .number("participation ratio before"), .number("after")],
                      rows: results.map { r in
                          [HTMLTable.Cell(r.style.rawValue), .number(r.correlationBefore.meanAbsR, decimals: 3),
                           .number(r.correlationAfter.meanAbsR, decimals: 3),
                           .change(r.correlationAfter.meanAbsR - r.correlationBefore.meanAbsR, decimals: 3, higherIsBetter: false),
                           .number(r.correlationBefore.participationRatio, decimals: 1),
                           .number(r.correlationAfter.participationRatio, decimals: 1)]
                      })
            SVGBarChart(id: figureID("mean", "abs", "r"), caption: "Mean |r| between layer-4 channels, without and with the maskers",
                        categories: styles, categoryLabel: "target style",
                        series: [.init(name: "without maskers", values: results.map { $0.correlationBefore.meanAbsR }),
                                 .init(name: "with fine-tuned maskers", values: results.map { $0.correlationAfter.meanAbsR })],
                        valueLabel: "mean |r|", valueRange: 0...1, decimals: 3)
        }
        for r in results {
            let style = r.style.rawValue
            let window = max(1, r.pairCount)
            try page.add("Style: \(style)") {
                try FigureRow {
                    for (index, example) in r.examples.enumerated() {
                        for (when, prediction, iou) in [("without maskers", example.before, example.iouBefore),
                                                        ("with maskers", example.after, example.iouAfter)] {
                            try PictureFigure(
                                id: figureID(style, "episode", String(index + 1), when == "with maskers" ? "after" : "before"),
                                caption: "\(style), example episode \(index + 1), \(when)",
                                picture: EpisodePicture.draw(
                                    supports: [(example.support, example.supportMask)], query: example.query, truth: example.truth,
                                    prediction: prediction,
                                    heading: "\(style) \(when): " + EpisodePicture.heading(episode: index + 1, className: example.className,
                                                                                            shots: 1, foregroundIoU: iou)))
                        }
                    }
                }
                LossCurveFigure.chart(id: figureID(style, "loss"), losses: r.lossCurve, window: window, pairs: r.pairCount, batch: 1,
                                      caption: "\(style): fine-tuning loss per step and its running mean over one pass of the pairs")
                try MaskerFigures.blocks(r.masker, name: "masker fine-tuned on \(style)", idPrefix: figureID(style, "masker"))
            }
        }
        try page.write(to: url)
    }
}
