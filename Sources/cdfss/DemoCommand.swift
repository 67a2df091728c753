import ArgumentParser
import Datasets
import Evaluation
import Finetune
import Foundation
import HSNetCore
import TensorCore

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Show the idea at work on synthetic target styles, with nothing to download.",
        discussion: """
            The demo model (builtin:demo: HSNet's learner trained by `cdfss train` on the \
            synthetic source style over the seeded backbone) meets target styles whose \
            frequency content differs from the source's. Per style: 1-shot episodes without \
            maskers; APM-M + ACPA fine-tuned on a few labelled pictures of the style that no \
            episode uses; the same episodes with the maskers; and the layer-4 channel \
            correlation of the style's pictures without and with them (mean |r| and the \
            participation ratio: the effective number of independent channels).

            The styles are generated once and kept under --out/data. Sizes: 200 x 200 pictures, \
            3 classes of 12 per style, 30 episodes, 4 adaptation pictures, 100 Adam steps at \
            lr 0.1: a few minutes on 2 cores. --quick (128 x 128, 8 episodes, 10 steps) takes \
            about a minute and shows only that everything runs.
            """)

    @Option(help: "Folder for the synthetic styles (data/) and the report.")
    var out = ".demo"

    @Option(help: "Styles, comma-separated: \(Self.defaultStyles.map(\.rawValue).joined(separator: ","))")
    var styles = Self.defaultStyles.map(\.rawValue).joined(separator: ",")

    @Flag(help: "About a minute: smaller pictures, fewer episodes and steps.")
    var quick = false

    @Option(help: "The HTML report (default: --out/report.html).")
    var html: String?

    @Flag(help: "Print the figures as JSON on stdout instead of the table.")
    var json = false

    static let defaultStyles: [SyntheticStyle] = [.satellite, .xray, .lesion, .objects]

    var chosenStyles: [SyntheticStyle] {
        get throws {
            try styles.split(separator: ",").map { name in
                guard let style = SyntheticStyle(rawValue: String(name)), style != .source else {
                    throw ValidationError("--styles \(name): expected some of \(Self.defaultStyles.map(\.rawValue).joined(separator: ", "))")
                }
                return style
            }
        }
    }

    var htmlPath: String { html ?? URL(fileURLWithPath: out).appendingPathComponent("report.html").path }

    func validate() throws {
        guard try !chosenStyles.isEmpty else { throw ValidationError("--styles: give at least one style") }
    }

    func run() throws {
        var folderCheck = OutputCheck()
        folderCheck.outputFolder("--out", out)
        try folderCheck.prepare()
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var check = OutputCheck()
        check.output("--html", htmlPath)
        try check.prepare()
        let settings = quick ? DomainShiftDemo.Settings.quick : DomainShiftDemo.Settings()
        let demo = DomainShiftDemo(settings: settings, dataFolder: URL(fileURLWithPath: out).appendingPathComponent("data"))
        let model = try BuiltinModel.demo.load()
        let progress = ProgressLine(total: try chosenStyles.count, unit: "style")
        var results: [DomainShiftDemo.StyleResult] = []
        for style in try chosenStyles {
            results.append(try demo.run(style, model: model) { progress.note($0) })
            progress.update(position: results.count, figures: String(format: "%@: mIoU %.1f -> %.1f", style.rawValue,
                                                                     results.last!.before.miou, results.last!.after.miou))
        }
        progress.finish()
        let meanChange = results.reduce(0) { $0 + $1.miouChange } / Double(results.count)
        try DemoReportPage.write(results, settings: settings, meanChange: meanChange, to: URL(fileURLWithPath: htmlPath))
        if json {
            print(try Self.json(results, meanChange: meanChange, report: htmlPath))
        } else {
            print(Self.table(results, meanChange: meanChange))
            print("report: \(htmlPath)")
        }
    }

    static func table(_ results: [DomainShiftDemo.StyleResult], meanChange: Double) -> String {
        var lines = ["style      episodes  mIoU before  after  change  FB-IoU before  after  mean|r| before  after  PR before  after  seconds"]
        for r in results {
            lines.append(r.style.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: " %8d  %11.2f  %5.2f  %+6.2f  %13.2f  %5.2f  %14.3f  %5.3f  %9.1f  %5.1f  %7.1f",
                                r.before.episodes.count, r.before.miou, r.after.miou, r.miouChange,
                                r.before.fbiou, r.after.fbiou, r.correlationBefore.meanAbsR, r.correlationAfter.meanAbsR,
                                r.correlationBefore.participationRatio, r.correlationAfter.participationRatio, r.seconds))
        }
        lines.append(String(format: "mean mIoU change over %d styles: %+.2f points", results.count, meanChange))
        return lines.joined(separator: "\n")
    }

    static func json(_ results: [DomainShiftDemo.StyleResult], meanChange: Double, report: String) throws -> String {
        func finite(_ value: Double) -> Any { value.isFinite ? value : NSNull() }
        let styles: [[String: Any]] = results.map { r in
            ["style": r.style.rawValue, "episodes": r.before.episodes.count, "adaptation_images": r.adaptationImages.count,
             "miou_before": r.before.miou, "miou_after": r.after.miou, "fbiou_before": r.before.fbiou, "fbiou_after": r.after.fbiou,
             "mean_abs_r_before": finite(r.correlationBefore.meanAbsR), "mean_abs_r_after": finite(r.correlationAfter.meanAbsR),
             "participation_ratio_before": finite(r.correlationBefore.participationRatio),
             "participation_ratio_after": finite(r.correlationAfter.participationRatio), "seconds": r.seconds]
        }
        let object: [String: Any] = ["styles": styles, "mean_miou_change": meanChange, "report": report]
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self)
    }
}
