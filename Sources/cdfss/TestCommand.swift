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

struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Evaluate HSNet (with its maskers) on a cross-domain few-shot benchmark: mIoU and FB-IoU.",
        discussion: """
            Episodes: 600 by default (class = episode index mod the number of classes, a query \
            and K distinct supports drawn from the class by a seeded generator of our own, each \
            episode from its own seed); for fss every test image is the query of one episode. \
            Metrics as the HSNet/PATNet evaluator: per-class sums of intersection and union; mIoU \
            is the mean foreground IoU over the classes, FB-IoU the mean of background and \
            foreground IoU; in percent.

            Test-time adaptation: --adapt episode fine-tunes a fresh copy of the masker on each \
            episode's supports before predicting its query; --adapt domain fine-tunes once on \
            --adapt-count images drawn from the target set (listed in the report) and keeps them \
            out of every episode. The starting masker is --masker, else the checkpoint's, else a \
            fresh APM-M + ACPA.

            --shard i/n (0 <= i < n) runs episodes i, i+n, i+2n, ...; `cdfss report merge` joins \
            the shards' reports into the whole run's. --shard auto takes i and n from the task's \
            scheduler: a Slurm job array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT or \
            SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_MAX; ids from MIN on, no step) or a \
            Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with --shard-count the Job's \
            completions); the report records the shard as i/n (docs/cluster.md).
            """)

    @Option(help: ArgumentHelp(ModelSource.help))
    var checkpoint: String

    @Option(help: "ResNet-50 state dict for the backbone, when the checkpoint has none.")
    var backboneWeights: String?

    @Option(help: "deepglobe, isic, lung, fss or folder (see datasets.md).")
    var benchmark: BenchmarkKind

    @Option(help: "Folder holding the benchmark.")
    var datapath: String

    @Option(parsing: .unconditional, help: "Support images per episode (K).")
    var shots = 1

    @Option(parsing: .unconditional, help: "Episodes per run (default 600; fss: every test image; at most \(EpisodeSampler.maximumEpisodeCount)).")
    var episodes: Int?

    @Option(parsing: .unconditional, help: "Seed of the episode draws (and of adaptation).")
    var seed: UInt64?

    @Option(parsing: .unconditional, help: "Run the protocol once per seed and report mean and standard deviation, e.g. 0,1,2,3,4.",
            transform: { text in
                try text.split(separator: ",", omittingEmptySubsequences: false).map { part in
                    guard let value = UInt64(part.trimmingCharacters(in: .whitespaces)) else {
                        throw ValidationError("--seeds \(text): expected comma-separated non-negative integers")
                    }
                    return value
                }
            })
    var seeds: [UInt64]?

    @Option(help: "Masker file to use (wins over the checkpoint's maskers).")
    var masker: String?

    @Flag(help: "Ignore the checkpoint's maskers (plain HSNet).")
    var noMasker = false

    @Option(help: "Test-time adaptation: none, episode or domain.")
    var adapt: AdaptMode = .none

    @Option(help: "With --adapt and no masker from --masker or the checkpoint: the tap groups of the fresh APM-M + ACPA, comma-separated (layer2, layer3, layer4), each its own. A given masker is adapted on the layers it holds. (default: layer4)")
    var slots: String?

    // The adaptation's settings are optional so that giving one without --adapt can be
    // refused: it would otherwise be ignored without a word.
    @Option(parsing: .unconditional, help: "With --adapt: fine-tuning steps (per episode, or in all for domain). (default: \(FineTuneSettings.defaultSteps), as finetune)")
    var steps: Int?

    @Option(parsing: .unconditional, help: "With --adapt: learning rate (> 0) (default: 0.001)")
    var lr: Double?

    @Option(help: "With --adapt: optimizer, adam or sgd (default: adam)")
    var optimizer: FineTuneSettings.Algorithm?

    @Option(parsing: .unconditional, help: "With --adapt: pairs per step (default: 1)")
    var batch: Int?

    @Option(parsing: .unconditional, help: "With --adapt domain: how many labelled target images to fine-tune on (default: \(DomainAdaptationSet.defaultCount))")
    var adaptCount: Int?

    @Option(help: "With --adapt domain: write the adapted masker here (.safetensors, the run in its metadata).")
    var saveMasker: String?

    @Option(parsing: .unconditional, help: "Side of the square network input (16 to \(HSNet.maximumImageSize)).")
    var imageSize = 400

    @Flag(help: "Score at each query picture's own resolution instead of the network size.")
    var originalSize = false

    @Option(help: "Write the JSON report here.")
    var report: String?

    @Option(help: "Write pictures of episodes here: supports with their masks, query with truth and prediction.")
    var visDir: String?

    @Option(help: "Write a self-contained HTML report here: configuration, scores, per-class IoU, the fine-tuning loss when adapting, the masker, the first \(EvaluationPage.exampleEpisodes) episodes.")
    var html: String?

    @Option(parsing: .unconditional, help: "How many episodes to draw with --vis-dir (the first of the run).")
    var visCount = 20

    @OptionGroup var sharding: ShardOptions

    @Option(parsing: .unconditional, help: "Memory for cached features, in MiB (less only recomputes more; at most \(CacheBudget.maximumMebibytes)).")
    var cacheMb = 4096

    @Flag(help: "Print a JSON summary of the scores on stdout instead of the score line.")
    var json = false

    enum AdaptMode: String, ExpressibleByArgument, CaseIterable {
        case none, episode, domain
    }

    func validate() throws {
        guard !(seed != nil && seeds != nil) else { throw ValidationError("--seed and --seeds exclude each other") }
        if let seeds {
            guard !seeds.isEmpty, Set(seeds).count == seeds.count else { throw ValidationError("--seeds must list distinct seeds") }
        }
        guard !(noMasker && masker != nil) else { throw ValidationError("--no-masker and --masker exclude each other") }
        guard !(noMasker && adapt != .none) else { throw ValidationError("--no-masker leaves nothing to adapt; drop it or use --adapt none") }
        guard shots >= 1 else { throw ValidationError("--shots \(shots): expected at least 1") }
        guard visCount >= 0 else { throw ValidationError("--vis-count \(visCount): expected 0 or more") }
        _ = try CacheBudget.bytes(mebibytes: cacheMb)
        try HSNet.checkImageSize(imageSize)
        _ = try BuiltinModel.named(checkpoint)
        if let episodes { try EpisodeSampler.checkEpisodeCount(episodes) }
        try checkAdaptationOptions()
        if let report { try OutputFormat.json.check(report, option: "--report") }
        if let html { try OutputFormat.html.check(html, option: "--html") }
        if let saveMasker { try OutputFormat.safetensors.check(saveMasker, option: "--save-masker") }
        _ = try testTimeAdaptation()
        // --shard auto is read here, so a task without its scheduler's variables stops at once.
        _ = try sharding.spec()
    }

    /// The adaptation options given without the adaptation they belong to.
    func checkAdaptationOptions() throws {
        if let slots { _ = try HSNet.maskerLayers(slots) }
        let tuning = [("--steps", steps != nil), ("--lr", lr != nil), ("--optimizer", optimizer != nil), ("--batch", batch != nil),
                      ("--slots", slots != nil)]
            .filter(\.1).map(\.0)
        if adapt == .none, !tuning.isEmpty {
            throw InputError("\(tuning.joined(separator: ", ")) set\(tuning.count == 1 ? "s" : "") test-time adaptation, which is off: add --adapt episode or --adapt domain, or drop \(tuning.count == 1 ? "it" : "them")")
        }
        if adapt != .domain, adaptCount != nil {
            throw InputError("--adapt-count applies to --adapt domain only")
        }
        if let saveMasker {
            guard adapt == .domain else {
                throw InputError("--save-masker \(saveMasker) keeps the masker of --adapt domain; with --adapt \(adapt.rawValue) there is no single adapted masker")
            }
            guard (seeds?.count ?? 1) == 1 else {
                throw InputError("--save-masker \(saveMasker) keeps one adapted masker, but --seeds adapts once per seed: run one seed at a time")
            }
        }
    }

    func run() throws {
        var check = OutputCheck()
        check.output("--report", report)
        check.output("--html", html)
        check.output("--save-masker", saveMasker)
        check.outputFolder("--vis-dir", visDir)
        check.model(checkpoint: checkpoint, backboneWeights: backboneWeights)
        check.input("--masker", masker)
        check.inputFolder("--datapath", datapath)
        try check.prepare()
        // The report and the pictures appear together at the end, or not at all.
        let outputs = StagedOutputs()

        let runSeeds = seeds ?? [seed ?? 0]
        let adaptation = try testTimeAdaptation()
        let shard = try sharding.spec()
        let dataset = try TargetDataset.load(benchmark, datapath: URL(fileURLWithPath: datapath))
        // The episode plans are checked before the model loads, so a benchmark too small for
        // the shots fails at once.
        for runSeed in runSeeds { _ = try plans(dataset: dataset, seed: runSeed, adaptation: adaptation, shard: shard) }
        // Which shard a task runs goes to its log, once it is known to have episodes.
        if let scheduled = try sharding.resolved() { log(scheduled.description) }
        let model = try ModelSource.load(checkpoint: checkpoint, backboneWeights: backboneWeights)
        let (start, maskerName) = try startingMasker(model: model, adaptation: adaptation)
        let evaluator = try BenchmarkEvaluator(model: model, dataset: dataset, imageSize: imageSize, originalSize: originalSize,
                                               cacheBytes: try CacheBudget.bytes(mebibytes: cacheMb))
        let visFolder = visDir.map { URL(fileURLWithPath: $0) }
        if let visFolder { try outputs.createFolder(visFolder, option: "--vis-dir") }
        let baseConfig = EvaluationConfig(
            cdfssVersion: CDFSS.version, checkpoint: checkpoint,
            checkpointSHA256: try ModelSource.digest(checkpoint: checkpoint),
            backboneWeights: backboneWeights, backboneWeightsSHA256: try backboneWeights.map { try SHA256Digest.hex(ofFile: URL(fileURLWithPath: $0)) },
            masker: maskerName, maskerSHA256: try masker.map { try SHA256Digest.hex(ofFile: URL(fileURLWithPath: $0)) },
            benchmark: benchmark, datapath: datapath, shots: shots, seed: nil, episodes: 0, imageSize: imageSize,
            originalSize: originalSize, adaptation: .none, shard: shard)

        var reports: [EvaluationReport] = []
        var adaptedRun: MaskerFineTuning?
        var domainAdaptations: [EvaluationPage.DomainAdaptation] = []
        // Pictures and adaptation losses of the first seed's episodes, for the HTML report.
        var examples: [(index: Int, picture: RGBImage)] = []
        var episodeLosses: [[Float]] = []
        for runSeed in runSeeds {
            if let start { try install(start, on: model) }
            var config = baseConfig
            config.seed = runSeed
            config.adaptation = adaptationConfig(adaptation)
            if case .domain(var settings, let count) = adaptation {
                settings.seed = runSeed
                let set = try DomainAdaptationSet.draw(from: dataset, count: count, seed: runSeed)
                config.adaptation.images = set.samples.map(\.image)
                let progress = ProgressLine(total: settings.steps, unit: "step")
                let run = try evaluator.adaptToDomain(set, settings: settings, pairCacheBytes: 1 << 30) { run in
                    progress.update(step: run.completedSteps, meanLoss: run.runningMeanLoss, window: run.stepsPerPass)
                }
                progress.finish()
                log("seed \(runSeed): adapted to \(set.samples.count) images in \(settings.steps) steps, " + LossSummary.text(run))
                adaptedRun = run
                if html != nil {
                    domainAdaptations.append(EvaluationPage.DomainAdaptation(
                        seed: runSeed, losses: run.lossCurve, stepsPerPass: run.stepsPerPass, pairs: run.pairs.count,
                        batch: settings.batch, masker: try MaskerState(stateDict: run.model.maskerParameters())))
                }
            }
            let (selected, total) = try plans(dataset: dataset, seed: runSeed, adaptation: adaptation, shard: shard)
            config.episodes = total
            let firstSeed = runSeed == runSeeds[0]
            let records = try evaluate(selected, seed: runSeed, evaluator: evaluator, start: start, adaptation: adaptation,
                                       visFolder: visFolder, visPrefix: runSeeds.count > 1 ? "seed\(runSeed)-" : "", outputs: outputs,
                                       examples: html != nil && firstSeed ? EvaluationPage.exampleEpisodes : 0) { index, picture, losses in
                if let picture { examples.append((index, picture)) }
                if let losses, html != nil, firstSeed { episodeLosses.append(losses) }
            }
            let report = try EvaluationReport(config: config, episodes: records, classNames: dataset.classes.map(\.name))
            if runSeeds.count > 1, !json { print("seed \(runSeed)  \(report.scoreLine)") }
            reports.append(report)
        }
        let file: ReportFile = reports.count == 1 ? .single(reports[0]) : .multiSeed(try MultiSeedReport(runs: reports))
        if let saveMasker, let adaptedRun {
            try outputs.stage(AdaptedMaskerFile.encoded(adaptedRun, metadata: [
                "created_by": "cdfss \(CDFSS.version) test --adapt domain", "training.checkpoint": checkpoint,
                "training.start": maskerName, "evaluation.benchmark": benchmark.rawValue, "evaluation.datapath": datapath,
                "evaluation.shots": String(shots),
            ]), to: URL(fileURLWithPath: saveMasker))
        }
        if let report { try outputs.stage(file.encoded(), to: URL(fileURLWithPath: report)) }
        if let html {
            var page = EvaluationPage(file: file, reportPath: report)
            page.examples = examples
            page.startMasker = start.map { ($0, maskerName) }
            page.domainAdaptations = domainAdaptations
            page.episodeLosses = episodeLosses
            try page.page(generator: "cdfss \(CDFSS.version) test").stage(to: URL(fileURLWithPath: html), in: outputs)
        }
        try outputs.commit()
        print(json ? try ReportSummary(file, reportPath: report).json() : file.scoreLine)
    }

    /// This run's episodes (its shard's only, when sharded) and the whole run's episode count.
    func plans(dataset: TargetDataset, seed: UInt64, adaptation: TestTimeAdaptation, shard: ShardSpec?) throws -> ([EpisodePlan], Int) {
        var excluded: Set<LabelledImage> = []
        if case .domain(_, let count) = adaptation {
            excluded = Set(try DomainAdaptationSet.draw(from: dataset, count: count, seed: seed).samples)
        }
        let sampler = try EpisodeSampler(dataset: dataset, shots: shots, seed: seed, excluding: excluded)
        return (try sampler.plan(episodes: episodes, shard: shard), try sampler.episodeCount(requested: episodes))
    }

    /// Runs the episodes in order. `--vis-dir` gets pictures of the first `--vis-count`;
    /// `collect` sees each episode's index, its picture when it is among the first `examples`
    /// (for the HTML report), and its adaptation losses when it adapted.
    func evaluate(_ plans: [EpisodePlan], seed: UInt64, evaluator: BenchmarkEvaluator, start: MaskerState?,
                  adaptation: TestTimeAdaptation, visFolder: URL?, visPrefix: String, outputs: StagedOutputs, examples: Int,
                  collect: (Int, RGBImage?, [Float]?) -> Void) throws -> [EpisodeRecord] {
        var records: [EpisodeRecord] = []
        var score = SegmentationScore()
        let progress = ProgressLine(total: plans.count, unit: "episode")
        for (position, plan) in plans.enumerated() {
            let started = Date()
            var losses: [Float]?
            if case .episode(let settings) = adaptation, let start {
                let adapted = try evaluator.adaptToEpisode(plan, start: start, settings: settings, runSeed: seed,
                                                           pairCacheBytes: 1 << 29)
                if adapted == nil { progress.note("episode \(plan.index): every support mask is empty; not adapted") }
                losses = adapted?.lossCurve
            }
            let outcome = try evaluator.evaluate(plan)
            let record = EpisodeRecord(plan: plan, seed: seed, counts: outcome.counts, seconds: Date().timeIntervalSince(started))
            records.append(record)
            score.add(outcome.counts, classIndex: plan.classIndex)
            progress.update(position: position + 1, figures: String(format: "mIoU %.2f%%  FB-IoU %.2f%%", score.miou, score.fbiou))
            let drawn = visFolder != nil && position < visCount || position < examples
            let picture = drawn ? try EpisodePicture.draw(plan, outcome: outcome, foregroundIoU: record.foregroundIoU, evaluator: evaluator) : nil
            if let visFolder, let picture, position < visCount {
                try outputs.stage(PNGWriter.encode(picture),
                                  to: visFolder.appendingPathComponent(String(format: "%@episode-%05d.png", visPrefix, plan.index)))
            }
            collect(plan.index, position < examples ? picture : nil, losses)
        }
        progress.finish()
        return records
    }

    func testTimeAdaptation() throws -> TestTimeAdaptation {
        let defaults = FineTuneSettings()
        let settings = FineTuneSettings(steps: steps ?? defaults.steps, learningRate: lr ?? defaults.learningRate,
                                        algorithm: optimizer ?? defaults.algorithm, batch: batch ?? defaults.batch,
                                        imageSize: imageSize)
        switch adapt {
        case .none: return .none
        case .episode:
            _ = try settings.learningRateSchedule()
            return .episode(settings)
        case .domain:
            _ = try settings.learningRateSchedule()
            return .domain(settings, count: adaptCount ?? DomainAdaptationSet.defaultCount)
        }
    }

    func adaptationConfig(_ adaptation: TestTimeAdaptation) -> AdaptationConfig {
        switch adaptation {
        case .none: return .none
        case .episode(let s): return AdaptationConfig(mode: .episode, steps: s.steps, lr: s.learningRate, optimizer: s.algorithm.rawValue, batch: s.batch)
        case .domain(let s, let count):
            return AdaptationConfig(mode: .domain, steps: s.steps, lr: s.learningRate, optimizer: s.algorithm.rawValue, batch: s.batch,
                                    adaptCount: count)
        }
    }

    /// Installs the maskers the run starts from and names them for the report: the --masker
    /// file, the checkpoint's, none, or (when adapting without either) a fresh APM-M + ACPA on
    /// each layer of --slots. Each part sits at its layer, where adaptation trains it.
    func startingMasker(model: HSNet, adaptation: TestTimeAdaptation) throws -> (MaskerState?, String) {
        if let masker {
            let state = try MaskerState.read(URL(fileURLWithPath: masker))
            try MaskerSlots.check(slots, against: state, source: masker)
            do { try install(state, on: model) } catch let error as InputError { throw InputError("\(masker): \(error.message)") }
            return (state, masker)
        }
        if noMasker { return (nil, "none") }
        let fromCheckpoint: MaskerState?
        do {
            fromCheckpoint = try model.installCheckpointMaskers(imageSize: imageSize)
        } catch let error as InputError {
            throw InputError("\(checkpoint): \(error.message)")
        }
        // A snapshot: the installed objects themselves change when they are fine-tuned.
        if let fromCheckpoint {
            try MaskerSlots.check(slots, against: fromCheckpoint, source: checkpoint)
            return (try MaskerState(stateDict: fromCheckpoint.stateDict), "checkpoint")
        }
        guard adaptation != .none else { return (nil, "none") }
        let layers = try MaskerSlots.layers(slots)
        let fresh = try model.freshFrequencyMaskers(layers: layers, amplitudePhase: .perChannel, channelAttention: true,
                                                    imageSize: imageSize, seed: 0)
        try install(fresh, on: model)
        return (fresh, "fresh apm-m+acpa" + (layers == [4] ? "" : " at " + MaskerSlots.names(layers)) + " (seed 0)")
    }

    func install(_ state: MaskerState, on model: HSNet) throws {
        try model.installFrequencyMaskers(try MaskerState(stateDict: state.stateDict), imageSize: imageSize)
    }

    func log(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
