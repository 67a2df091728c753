import Datasets
import Evaluation
import Foundation

/// The parts of a page about an evaluation run (`cdfss test --html`), each built from the
/// report file the run writes, so a page and its JSON report always agree.
public enum EvaluationSections {
    /// What the run was given: model, masker, benchmark, protocol, adaptation.
    public static func configuration(_ config: EvaluationConfig, reportPath: String?) -> KeyValueTable {
        var rows: [(key: String, value: String)] = [
            ("checkpoint", config.checkpoint + (config.checkpointSHA256 == config.checkpoint ? "" : " (SHA-256 \(config.checkpointSHA256))")),
        ]
        if let weights = config.backboneWeights {
            rows.append(("backbone weights", weights + (config.backboneWeightsSHA256.map { " (SHA-256 \($0))" } ?? "")))
        }
        rows.append(("masker", config.masker + (config.maskerSHA256.map { " (SHA-256 \($0))" } ?? "")))
        rows += [
            ("benchmark", "\(config.benchmark.rawValue) in \(config.datapath)"),
            ("shots", "\(config.shots) support picture\(config.shots == 1 ? "" : "s") per episode"),
            ("episodes", "\(config.episodes) per seed" + (config.shard.map { ", this report holds shard \($0) (episodes i, i + n, ...)" } ?? "")),
            ("seed", config.seeds.map { $0.map(String.init).joined(separator: ", ") } ?? config.seed.map(String.init) ?? "-"),
            ("image size", "\(config.imageSize) x \(config.imageSize) network input; scored at "
                + (config.originalSize ? "each query picture's own size" : "the network size")),
        ]
        let adaptation = config.adaptation
        switch adaptation.mode {
        case .none:
            rows.append(("adaptation", "none: the masker is used as loaded"))
        case .episode, .domain:
            var text = adaptation.mode == .episode
                ? "episode: a fresh copy of the masker fine-tuned on each episode's supports"
                : "domain: fine-tuned once on \(adaptation.adaptCount.map(String.init) ?? "?") target pictures kept out of every episode"
            text += "; \(adaptation.steps.map(String.init) ?? "?") steps, \(adaptation.optimizer ?? "?") at lr \(adaptation.lr.map { "\($0)" } ?? "?"), \(adaptation.batch.map { "\($0) pair\($0 == 1 ? "" : "s")" } ?? "? pairs") per step"
            rows.append(("adaptation", text))
            if let images = adaptation.images, !images.isEmpty { rows.append(("adaptation pictures", images.joined(separator: ", "))) }
        }
        if let reportPath { rows.append(("JSON report", reportPath)) }
        rows.append(("written by", "cdfss \(config.cdfssVersion)"))
        return KeyValueTable(rows: rows)
    }

    /// mIoU and FB-IoU: one row per seed, and with several seeds their mean and population
    /// standard deviation.
    public static func scores(_ file: ReportFile) -> HTMLTable {
        let runs = file.runs
        var rows: [[HTMLTable.Cell]] = runs.map { run in
            [HTMLTable.Cell("seed \(run.config.seed ?? 0)"), HTMLTable.Cell("\(run.episodes.count) of \(run.expectedEpisodeCount)"),
             .number(run.miou), .number(run.fbiou)]
        }
        if runs.count > 1 {
            let summary = SeedSummary(runs: runs)
            rows.append([HTMLTable.Cell("mean ± std over \(runs.count) seeds"), "",
                         HTMLTable.Cell(String(format: "%.2f ± %.2f", summary.miouMean, summary.miouStd)),
                         HTMLTable.Cell(String(format: "%.2f ± %.2f", summary.fbiouMean, summary.fbiouStd))])
        }
        return HTMLTable(columns: [.text("run"), .number("episodes scored"), .number("mIoU %"), .number("FB-IoU %")], rows: rows)
    }

    /// The foreground IoU of every class met: a table (per seed, and their mean with several)
    /// and a bar chart of the IoU (the mean over the seeds).
    public static func classes(_ file: ReportFile, chartID: String = "class-iou") -> [any ReportBlock] {
        let runs = file.runs
        var names: [Int: String] = [:]
        var ious: [Int: [Double?]] = [:]
        var episodes: [Int: Int] = [:]
        for (position, run) in runs.enumerated() {
            let score = run.score
            for entry in run.classes {
                names[entry.classIndex] = entry.name
                ious[entry.classIndex, default: [Double?](repeating: nil, count: runs.count)][position] = entry.iou
                episodes[entry.classIndex, default: 0] += score.totals[entry.classIndex]?.episodes ?? 0
            }
        }
        let indices = names.keys.sorted()
        func mean(_ values: [Double?]) -> Double? {
            let present = values.compactMap { $0 }
            return present.isEmpty ? nil : present.reduce(0, +) / Double(present.count)
        }
        var columns: [HTMLTable.Column] = [.number("class"), .text("name"), .number(runs.count == 1 ? "episodes" : "episodes, all seeds")]
        if runs.count == 1 {
            columns.append(.number("IoU %"))
        } else {
            columns += runs.map { .number("seed \($0.config.seed ?? 0), IoU %") } + [.number("mean IoU %")]
        }
        let rows: [[HTMLTable.Cell]] = indices.map { index in
            var row: [HTMLTable.Cell] = [HTMLTable.Cell("\(index)"), HTMLTable.Cell(names[index]!), HTMLTable.Cell("\(episodes[index]!)")]
            row += ious[index]!.map { HTMLTable.Cell.number($0) }
            if runs.count > 1 { row.append(.number(mean(ious[index]!))) }
            return row
        }
        let seriesName = runs.count == 1 ? "foreground IoU" : "foreground IoU, mean over \(runs.count) seeds"
        let chart = SVGBarChart(
            id: chartID, caption: "Foreground IoU of each class (intersection over union of the foreground pixels summed over the class's episodes, as the HSNet evaluator scores it); mIoU is their mean.",
            categories: indices.map { "\($0): \(names[$0]!)" }, categoryLabel: "class",
            series: [.init(name: seriesName, values: indices.map { mean(ious[$0]!) })],
            valueLabel: "foreground IoU (%)", valueRange: 0...100)
        return [HTMLTable(columns: columns, rows: rows), chart]
    }
}
