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

extension FilterSweep.Target: ExpressibleByArgument {}

struct AnalyzeFilterSweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter-sweep",
        abstract: "mIoU and channel correlation under fixed frequency filters, with no training.",
        discussion: """
            Fixed filters keep frequencies by their radius on the centred spectrum of each \
            plane (frequency-index units, from the zero frequency): low-pass keeps radius <= r, \
            high-pass radius > r, band-pass the band of --band-width centred on r. A filter \
            acts on the amplitude (removing a frequency), the phase (its phase set to 0, the \
            amplitude kept) or both (the same as amplitude). With --target features the filter \
            sits on the layer-4 taps of query and support (after the model's own maskers, if \
            any); with --target image on the normalised input picture. Every filter runs the \
            same episodes as the unfiltered model; the layer-4 correlation figures are those \
            of the episodes' query pictures after the filter, averaged over the three layer-4 \
            taps. Scores are percentages. --out DIR writes a chart per part \
            (sweep-amplitude.png, ...): mIoU against radius, one line per kind, the unfiltered \
            model dashed, and below it the mean |r| the same way.

            --shard i/n|auto runs every n-th episode, as test does (auto: from a Slurm job \
            array or a Kubernetes Indexed Job, see test --help); --report writes the sweep with \
            its episode records, and `cdfss report merge` puts the shards' reports together \
            into the whole sweep's, as one process would have written it.
            """)

    @OptionGroup var model: AnalysisModelOptions

    @Option(help: "The target benchmark.")
    var benchmark: BenchmarkKind

    @Option(help: "The benchmark's folder (see datasets.md).")
    var datapath: String

    @Option(parsing: .unconditional, help: "Support pictures per episode.")
    var shots = 1

    @Option(parsing: .unconditional, help: "Episodes per filter (at most \(EpisodeSampler.maximumEpisodeCount)).")
    var episodes = 100

    @Option(parsing: .unconditional, help: "Seed of the episodes.")
    var seed: UInt64 = 0

    @Option(help: "Filter kinds, comma-separated: low, high, band.")
    var kinds = "low,high,band"

    @Option(parsing: .unconditional, help: "Radii, comma-separated (default 1,2,3,4,5,6 on features, 5,10,20,40,80,160 on images).")
    var radii: String?

    @Option(help: "Parts of the spectrum, comma-separated: amplitude, phase, both.")
    var parts = "amplitude,phase"

    @Option(parsing: .unconditional, help: "Width of the band-pass bands.")
    var bandWidth = 2.0

    @Option(help: "Where the filters act: features (layer 4) or image.")
    var target: FilterSweep.Target = .features

    @Option(parsing: .unconditional, help: "Memory for cached backbone taps, in MiB (at most \(CacheBudget.maximumMebibytes)).")
    var cacheMb = 4096

    @OptionGroup var sharding: ShardOptions

    @Option(help: "Write the sweep as JSON with its episode records here: the --json figures, and per filter the pixel counts of each episode and the correlation figures of each query picture (what report merge joins).")
    var report: String?

    @Option(help: "Folder for the charts (.png).")
    var out: String?

    @Option(help: "Also write a self-contained HTML report here (the table of filters and the charts of mIoU and mean |r| against the radius).")
    var html: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        try HSNet.checkImageSize(model.imageSize)
        guard shots >= 1 else { throw ValidationError("--shots \(shots): expected at least 1") }
        try EpisodeSampler.checkEpisodeCount(episodes)
        guard bandWidth > 0, bandWidth.isFinite else { throw ValidationError("--band-width \(bandWidth): expected a positive width") }
        _ = try CacheBudget.bytes(mebibytes: cacheMb)
        if let html { try OutputFormat.html.check(html, option: "--html") }
        if let report { try OutputFormat.json.check(report, option: "--report") }
        _ = try sharding.spec()
    }

    func parsedRadii() throws -> [Double] {
        let text = radii ?? (target == .features ? "1,2,3,4,5,6" : "5,10,20,40,80,160")
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else { throw InputError("--radii \"\(text)\": expected numbers separated by commas") }
        return values.map { $0! }
    }

    func parsedParts() throws -> [SpectrumPart] {
        try parts.split(separator: ",").map { item in
            guard let part = SpectrumPart(rawValue: item.trimmingCharacters(in: .whitespaces)) else {
                throw InputError("--parts: no spectrum part \"\(item)\" (amplitude, phase, both)")
            }
            return part
        }
    }

    func run() throws {
        var check = OutputCheck()
        check.outputFolder("--out", out)
        check.output("--html", html)
        check.output("--report", report)
        check.model(checkpoint: model.checkpoint, backboneWeights: model.backboneWeights)
        check.input("--masker", model.masker)
        check.inputFolder("--datapath", datapath)
        try check.prepare()
        let outputs = StagedOutputs()
        if let out { try outputs.createFolder(URL(fileURLWithPath: out), option: "--out") }
        let dataset = try TargetDataset.load(benchmark, datapath: URL(fileURLWithPath: datapath))
        let shard = try sharding.spec()
        let sampler = try EpisodeSampler(dataset: dataset, shots: shots, seed: seed, excluding: [])
        let plans = try sampler.plan(episodes: episodes, shard: shard)
        // Which shard a task runs goes to its log, once it is known to have episodes.
        if let scheduled = try sharding.resolved() { FileHandle.standardError.write(Data((scheduled.description + "\n").utf8)) }
        let network = try ModelSource.load(checkpoint: model.checkpoint, backboneWeights: model.backboneWeights)
        try network.checkImageSize(model.imageSize)
        let plane = target == .image ? (height: model.imageSize, width: model.imageSize)
            : network.featureSize(layer: 4, imageHeight: model.imageSize, imageWidth: model.imageSize)
        let filters = try FilterSweep.filters(kinds: kinds.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
                                              radii: try parsedRadii(), parts: try parsedParts(), bandWidth: bandWidth,
                                              height: plane.height, width: plane.width)
        let maskers = try MaskerChoice(masker: model.masker, noMasker: model.noMasker)
            .install(into: network, checkpoint: model.checkpoint, imageSize: model.imageSize)
        let runner = FilterSweep(model: network, dataset: dataset, plans: plans, imageSize: model.imageSize, target: target,
                                cacheBytes: try CacheBudget.bytes(mebibytes: cacheMb))
        let progress = ProgressLine(total: filters.count + 1, unit: "filter")
        let outcomes = try runner.run(filters) { done, _, outcome in
            progress.update(position: done, figures: String(format: "%@ mIoU %.2f", outcome.filter.map { "\($0.band) \($0.part.rawValue)" } ?? "unfiltered", outcome.miou))
        }
        progress.finish()
        var charts: [String] = []
        if let out {
            for (part, picture) in DiagnosticPictures.sweepCharts(outcomes, target: target) {
                let url = URL(fileURLWithPath: out).appendingPathComponent("sweep-\(part).png")
                try outputs.stage(PNGWriter.encode(picture), to: url)
                charts.append(url.path)
            }
        }
        let sweep = FilterSweepReport(
            config: .init(checkpointSHA256: try ModelSource.digest(checkpoint: model.checkpoint), maskers: maskers.description,
                          benchmark: benchmark.rawValue, shots: shots, episodes: try sampler.episodeCount(requested: episodes), seed: seed,
                          imageSize: model.imageSize, target: target.rawValue, shard: shard),
            outcomes: outcomes)
        if let report { try outputs.stage(sweep.encoded(), to: URL(fileURLWithPath: report)) }
        if let html {
            let configuration: [(key: String, value: String)] = [
                ("checkpoint", model.checkpoint), ("maskers", maskers.description),
                ("benchmark", "\(benchmark.rawValue) in \(datapath)"),
                ("episodes", "\(plans.count)\(shard.map { " (shard \($0) of \(sweep.config.episodes))" } ?? ""), \(shots)-shot, seed \(seed), the same for every filter"),
                ("image size", "\(model.imageSize) x \(model.imageSize)"),
                ("filters on", target == .features ? "the layer-4 features of query and support (\(plane.height) x \(plane.width) planes)"
                    : "the normalised input picture (\(plane.height) x \(plane.width))"),
                ("largest radius", String(format: "%.2f", FrequencyBand.largestRadius(height: plane.height, width: plane.width))),
                ("band-pass width", "\(bandWidth)"),
            ]
            try DiagnosticPages.filterSweep(sweep, configuration: configuration, generator: "cdfss \(CDFSS.version) analyze filter-sweep")
                .stage(to: URL(fileURLWithPath: html), in: outputs)
        }
        try outputs.commit()
        if json {
            print(try sweep.json())
            return
        }
        for line in FilterSweepTable.lines(sweep) { print(line) }
        if !charts.isEmpty { print("charts: " + charts.joined(separator: ", ")) }
    }
}
