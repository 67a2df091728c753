import ArgumentParser
import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import TensorCore

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Merge, show and compare evaluation reports.",
        discussion: """
            A report is the JSON file `cdfss test` writes: the run's config, one record per \
            episode (query, supports, intersection and union of background and foreground) and \
            the scores computed from the records (mIoU and FB-IoU as the HSNet/PATNet \
            evaluator computes them). Runs split with --shard i/n (or --shard auto in a Slurm or \
            Kubernetes job array) write one report per shard; `report merge` puts them back \
            together, as it does a sharded filter sweep's; `report compare` sets two runs of one \
            benchmark side by side.
            """,
        subcommands: [Merge.self, Show.self, Compare.self])

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge",
            abstract: "Merge the shard reports of one run into the report of the whole run.",
            discussion: """
                The shards' configs must agree except for the shard, and their episodes must \
                cover the run exactly once. The merged report is scored again from the episode \
                records, sorted by episode, and has shard null: it is the report one process \
                running every episode would have written. Multi-seed reports merge seed by seed. \
                The reports of a sharded `analyze filter-sweep --report` merge the same way, \
                filter by filter, into the whole sweep's report (and its table is printed).
                """)

        @Argument(help: "Shard reports (JSON) of one run: of test --report, or of analyze filter-sweep --report.")
        var shards: [String]

        @Option(help: "Where to write the merged report (JSON).")
        var output: String

        func validate() throws {
            guard !shards.isEmpty else { throw ValidationError("give the shard reports to merge") }
            try OutputFormat.json.check(output, option: "--output")
        }

        func run() throws {
            var check = OutputCheck()
            check.output("--output", output)
            check.inputs("the shard report", shards)
            try check.prepare()
            let files = try shards.map { (path: $0, data: try readFile(URL(fileURLWithPath: $0), what: "report")) }
            let sweeps = files.filter { FilterSweepReport.isFilterSweep($0.data) }
            if let sweep = sweeps.first {
                if let other = files.first(where: { !FilterSweepReport.isFilterSweep($0.data) }) {
                    throw InputError("\(sweep.path) is a filter sweep report but \(other.path) is not; merge the reports of one run")
                }
                let merged = try FilterSweepMerge.merge(try files.map { (source: $0.path, report: try FilterSweepReport(decoding: $0.data, source: $0.path)) })
                try AtomicFile.write(try merged.encoded(), to: URL(fileURLWithPath: output))
                for line in FilterSweepTable.lines(merged) { print(line) }
                return
            }
            let merged = try ReportMerge.merge(try files.map { (source: $0.path, file: try ReportFile(decoding: $0.data, source: $0.path)) })
            try merged.write(to: URL(fileURLWithPath: output))
            if case .multiSeed(let report) = merged {
                for run in report.runs { print("seed \(run.config.seed!)  \(run.scoreLine)") }
            }
            print(merged.scoreLine)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Print a report's per-class IoU table and its scores (IoU in percent).")

        @Argument(help: "Report file (JSON).")
        var report: String

        @Flag(help: "Print a JSON summary of the scores instead of the table (schema in the README).")
        var json = false

        func run() throws {
            let file = try ReportFile.read(URL(fileURLWithPath: report))
            if json {
                print(try ReportSummary(file, reportPath: report).json())
                return
            }
            let runs = file.runs
            for (position, run) in runs.enumerated() {
                if position > 0 { print("") }
                print(Self.table(run))
                if runs.count > 1 { print("seed \(run.config.seed!)  \(run.scoreLine)") }
            }
            if runs.count > 1 { print("") }
            print(file.scoreLine)
        }

        /// The run's header line, then one row per class that has episodes.
        static func table(_ run: EvaluationReport) -> String {
            let config = run.config
            let expected = run.expectedEpisodeCount
            var header = "\(config.benchmark.rawValue), \(config.shots)-shot, seed \(config.seed!), "
                + "\(run.episodes.count) of \(expected) episodes"
            if let shard = config.shard { header += " (shard \(shard) of a \(config.episodes)-episode run)" }
            header += ", adaptation \(config.adaptation.mode.rawValue), masker \(config.masker)"
            let score = run.score
            let nameWidth = max(4, run.classes.map(\.name.count).max() ?? 0)
            func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
                let fill = String(repeating: " ", count: max(0, width - text.count))
                return left ? text + fill : fill + text
            }
            var lines = [header, pad("class", 5) + "  " + pad("name", nameWidth, left: true) + "  " + pad("episodes", 8) + "  " + pad("IoU %", 6)]
            for entry in run.classes {
                let episodes = score.totals[entry.classIndex]?.episodes ?? 0
                lines.append(pad("\(entry.classIndex)", 5) + "  " + pad(entry.name, nameWidth, left: true) + "  "
                    + pad("\(episodes)", 8) + "  " + pad(String(format: "%.2f", entry.iou), 6))
            }
            return lines.joined(separator: "\n")
        }
    }

    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "compare",
            abstract: "Compare two reports of one benchmark: per-class IoU, mIoU and FB-IoU side by side with the change.",
            discussion: """
                Rows: every class, then mIoU and FB-IoU, in percent, with the change from A to B \
                in percentage points; then the config keys in which the runs differ. Reports of \
                different benchmarks or over different classes are refused. A multi-seed report \
                counts with its mean over the seeds.
                """)

        @Argument(help: "The first report (A, JSON).")
        var a: String

        @Argument(help: "The second report (B, JSON).")
        var b: String

        @Option(help: "Also write a self-contained HTML page: the scores, grouped bars of every class in A and B, the changes, the config differences.")
        var html: String?

        @Flag(help: "Print the comparison as JSON instead of the table (schema in the README).")
        var json = false

        func validate() throws {
            if let html { try OutputFormat.html.check(html, option: "--html") }
        }

        func run() throws {
            var check = OutputCheck()
            check.output("--html", html)
            check.input("report A", a)
            check.input("report B", b)
            try check.prepare()
            let comparison = try ReportComparison(try ReportFile.read(URL(fileURLWithPath: a)), source: a,
                                                  try ReportFile.read(URL(fileURLWithPath: b)), source: b)
            if let html {
                try ComparisonPage.page(comparison, generator: "cdfss \(CDFSS.version) report compare")
                    .write(to: URL(fileURLWithPath: html))
            }
            print(json ? try comparison.json() : comparison.text)
        }
    }
}
