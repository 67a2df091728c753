import ArgumentParser
import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import FreqMask
import HSNetCore
import Imaging
import TensorCore

struct AnalyzeCorrelationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "correlation",
        abstract: "How strongly the channels of backbone taps correlate, with and without the maskers.",
        discussion: """
            Each picture is taken as a query: its backbone taps, and with the model's plug-ins \
            (the .query and .query.masked slots: APM, then ACPA on layer 4). Per picture and \
            tap, X [C, P] is centred per channel, S = X Xᵀ / (P - 1), r_ij = S_ij / \
            sqrt(S_ii S_jj); channels without variance are left out and counted. Figures: the \
            mean |r| over channel pairs, the fraction of pairs with |r| > 0.5, and the \
            participation ratio (tr S)² / tr(S²), the effective number of independent \
            channels; each is averaged over the pictures. A tap whose layer has no plug-in has \
            no "with" part.

            --out DIR writes per tap TAP.without.npy and TAP.with.npy: the mean correlation \
            matrix over the pictures, float32 [C, C] (entries of channels constant in every \
            picture are NaN), and TAP.without.png and TAP.with.png: the matrices as heatmaps \
            (r from -1 blue to 1 red), channels in the spectral order of the "without" matrix \
            (the same order for both, so that structure shows), averaged over blocks down to \
            at most 512 x 512.
            """)

    @OptionGroup var model: AnalysisModelOptions

    @Option(help: "Pictures: every PNG, JPEG and TIFF file in this folder.")
    var images: String?

    @Option(help: "Pictures: a text file with one path per line (relative to the file's folder).")
    var imageList: String?

    @Option(help: "Pictures: drawn class by class from this benchmark (with --datapath and --count).")
    var benchmark: BenchmarkKind?

    @Option(help: "The benchmark's folder (see datasets.md).")
    var datapath: String?

    @Option(parsing: .unconditional, help: "How many benchmark pictures to draw.")
    var count = 20

    @Option(parsing: .unconditional, help: "Seed of the benchmark draw.")
    var seed: UInt64 = 0

    @Option(help: "Taps to analyse: names (layer4.0), layers (layer4, where the maskers sit) or all (the 13, some 2.5 times the GEMM work).")
    var taps = "layer4"

    @Option(help: "Folder for the mean correlation matrices (.npy), created if missing.")
    var out: String?

    @Option(help: "Also write a self-contained HTML report here (the figures per tap, their bars and the heatmaps).")
    var html: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        let sources = [images != nil, imageList != nil, benchmark != nil].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give exactly one of --images, --image-list or --benchmark") }
        guard (benchmark == nil) == (datapath == nil) else { throw ValidationError("--benchmark and --datapath go together") }
        try HSNet.checkImageSize(model.imageSize)
        _ = try BackboneTaps.anyBackbone.parse(taps)
        if let html { try OutputFormat.html.check(html, option: "--html") }
    }

    func pictures() throws -> [String] {
        if let images { return try AnalysisImages.inFolder(URL(fileURLWithPath: images)) }
        if let imageList { return try AnalysisImages.listed(in: URL(fileURLWithPath: imageList)) }
        let dataset = try TargetDataset.load(benchmark!, datapath: URL(fileURLWithPath: datapath!))
        return try AnalysisImages.drawn(from: dataset, count: count, seed: seed)
    }

    func run() throws {
        var check = OutputCheck()
        check.outputFolder("--out", out)
        check.output("--html", html)
        check.model(checkpoint: model.checkpoint, backboneWeights: model.backboneWeights)
        check.input("--masker", model.masker)
        check.input("--image-list", imageList)
        check.inputFolder("--datapath", datapath)
        try check.prepare()
        // The matrices appear together at the end, or not at all.
        let outputs = StagedOutputs()
        let paths = try pictures()
        if let out { try outputs.createFolder(URL(fileURLWithPath: out), option: "--out") }
        let network = try ModelSource.load(checkpoint: model.checkpoint, backboneWeights: model.backboneWeights)
        try network.checkImageSize(model.imageSize)
        let maskers = try MaskerChoice(masker: model.masker, noMasker: model.noMasker)
            .install(into: network, checkpoint: model.checkpoint, imageSize: model.imageSize)
        let analysis = CorrelationAnalysis(model: network, taps: try BackboneTaps(of: network).parse(taps))
        let progress = ProgressLine(total: paths.count, unit: "picture")
        var done = 0
        for batch in stride(from: 0, to: paths.count, by: 2).map({ Array(paths[$0..<min($0 + 2, paths.count)]) }) {
            let inputs = try batch.map { path in (name: path, image: imageTensor(try RGBImage(contentsOf: URL(fileURLWithPath: path)), size: model.imageSize)) }
            try analysis.add(inputs)
            done += batch.count
            progress.update(position: done, figures: "")
        }
        progress.finish()

        var written: [String] = []
        if let out {
            let folder = URL(fileURLWithPath: out)
            var files: [(URL, Tensor)] = []
            for result in analysis.results {
                files.append((folder.appendingPathComponent("\(result.name).without.npy"), result.without.meanMatrix))
                if let with = result.with { files.append((folder.appendingPathComponent("\(result.name).with.npy"), with.meanMatrix)) }
            }
            for (url, matrix) in files { try outputs.stage(NumPyArray.encode(matrix), to: url) }
            written = files.map { $0.0.path }
            for result in analysis.results {
                for (part, picture) in DiagnosticPictures.correlationHeatmaps(result, pictures: paths.count) {
                    try outputs.stage(PNGWriter.encode(picture), to: folder.appendingPathComponent("\(result.name).\(part).png"))
                }
            }
        }
        let report = CorrelationReport(analysis: analysis, checkpointSHA256: try ModelSource.digest(checkpoint: model.checkpoint),
                                       maskerSHA256: maskers.sha256, imageSize: model.imageSize)
        if let html {
            let source = images.map { "every picture in \($0)" } ?? imageList.map { "listed in \($0)" }
                ?? "\(count) drawn class by class from \(benchmark!.rawValue) in \(datapath!) (seed \(seed))"
            let configuration: [(key: String, value: String)] = [
                ("checkpoint", model.checkpoint), ("maskers", maskers.description), ("image size", "\(model.imageSize) x \(model.imageSize)"),
                ("taps", taps), ("pictures from", source),
            ]
            try DiagnosticPages.correlation(analysis, report: report, configuration: configuration,
                                            generator: "cdfss \(CDFSS.version) analyze correlation")
                .stage(to: URL(fileURLWithPath: html), in: outputs)
        }
        try outputs.commit()
        if json {
            print(try report.json())
            return
        }
        print("channel correlation of \(paths.count) picture\(paths.count == 1 ? "" : "s") at \(model.imageSize) x \(model.imageSize), maskers \(maskers.description)")
        print(CorrelationTable.text(report))
        if !written.isEmpty { print("wrote \(written.count) matrices and their heatmaps to \(out!)") }
    }
}

/// The correlation figures as a text table: one row per tap, without, with, and the change.
enum CorrelationTable {
    static func text(_ report: CorrelationReport) -> String {
        func number(_ value: Double?, _ format: String) -> String { value.map { String(format: format, $0) } ?? "-" }
        func change(_ a: Double?, _ b: Double?, _ format: String) -> String {
            guard let a, let b else { return "-" }
            return String(format: format, b - a)
        }
        var lines = ["tap        C     P     mean |r|                 |r|>0.5                  participation ratio      constant",
                     "                        without  with   change  without  with   change  without  with    change  channels"]
        for tap in report.taps {
            let w = tap.without, p = tap.with
            lines.append(tap.tap.padding(toLength: 9, withPad: " ", startingAt: 0)
                + String(format: "%5d %5d  ", tap.channels, tap.positions)
                + number(w.meanAbsR, "%7.4f") + "  " + number(p?.meanAbsR, "%6.4f").padding(toLength: 6, withPad: " ", startingAt: 0)
                + " " + change(w.meanAbsR, p?.meanAbsR, "%+7.4f").padding(toLength: 7, withPad: " ", startingAt: 0) + "  "
                + number(w.fractionAbsROverHalf, "%7.4f") + "  " + number(p?.fractionAbsROverHalf, "%6.4f").padding(toLength: 6, withPad: " ", startingAt: 0)
                + " " + change(w.fractionAbsROverHalf, p?.fractionAbsROverHalf, "%+7.4f").padding(toLength: 7, withPad: " ", startingAt: 0) + "  "
                + number(w.participationRatio, "%7.1f") + "  " + number(p?.participationRatio, "%7.1f").padding(toLength: 7, withPad: " ", startingAt: 0)
                + " " + change(w.participationRatio, p?.participationRatio, "%+7.1f").padding(toLength: 7, withPad: " ", startingAt: 0) + "  "
                + number(w.constantChannels, "%.1f"))
        }
        return lines.joined(separator: "\n")
    }
}
