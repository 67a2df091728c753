import ArgumentParser
import Foundation
import Datasets
import Evaluation
import Finetune
import Report
import FreqMask
import HSNetCore
import TensorCore
#if canImport(Glibc)
import Glibc
#endif

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the hot paths (build with -c release for meaningful numbers).",
        discussion: """
            episode: one 1-shot HSNet episode at 400 x 400 with APM-M and ACPA in layer 4 \
            (backbone on both images, correlations, learner, decoder) on a model with \
            deterministic pseudo-random weights; reports the median and the process's peak \
            resident memory after it; then the same episode on PATNet (det-fill, no maskers) and \
            with HSNet's VGG-16 backbone (layer-4 maskers on its 512 x 12 x 12 pool5 tap).
            maskers: APM-M + ACPA forward and backward on x [6, 2048, 13, 13], the six layer-4 \
            maps one fine-tuning step sees (query and support, three taps each), and each \
            layer alone.
            finetune: one fine-tuning step (one pair, 400 x 400, APM-M + ACPA, Adam) once the \
            pair's features are cached: the layer-4 path forward and backward and the update.
            layers: the convolution kernels on ResNet-50 and learner shapes, with GFLOP/s.
            train: one training step of the learner (`cdfss train`: batch 4, 400 x 400, Adam) \
            on synthetic source pictures over the deterministic backbone, taps cached as in \
            training and the pyramids recomputed (episodes rarely recur); the process's peak \
            resident memory after it; then the same episode with HSNet's VGG-16 backbone \
            (layer-4 maskers on its 512 x 12 x 12 pool5 tap).
            correlation: `analyze correlation` of 20 pictures at 400 x 400 with APM-M and \
            ACPA, over the three layer-4 taps (the default) and over all 13, per picture, \
            beside the backbone passes alone (two side by side, as the analysis runs them).
            --compare-torch PYTHON times the published PyTorch code (HSNet, and HSNet with the \
            APM repository's APM-M + ACPA) in the same run, on the same thread count, for the \
            episode, maskers, finetune and train suites, with scripts/bench/torch_reference_bench.py \
            (PYTHON needs torch and torchvision; the published code is imported from the folders \
            given with --hsnet-code and --apm-code, never copied). Each suite's published \
            counterpart runs right after it, and each compared row gets the published median and \
            the ratio theirs / ours (> 1: cdfss is faster). The published fine-tuning step \
            recomputes everything (backbone, three correlations, learner) at every step; it is set \
            beside both the cache-warm step and the first step. The published training step also \
            runs the backbone, which cdfss's caches. Before any timing, the script is run with \
            --check: a missing interpreter, torch or published file is one line and a non-zero exit.
            """)

    enum Suite: String, ExpressibleByArgument, CaseIterable {
        case episode, maskers, finetune, train, layers, correlation
    }

    @Option(parsing: .upToNextOption, help: "Benchmarks to run: episode, maskers, finetune, train, layers, correlation (default: episode maskers finetune train).")
    var suites: [Suite] = [.episode, .maskers, .finetune, .train]

    @Option(parsing: .unconditional, help: "Timed runs of the masker and layer benchmarks (the median is reported).")
    var runs: Int = 20

    @Option(parsing: .unconditional, help: "Timed runs of the episode benchmark.")
    var episodeRuns: Int = 5

    @Option(parsing: .unconditional, help: "Timed steps of the fine-tuning benchmark.")
    var finetuneRuns: Int = 10

    @Option(parsing: .unconditional, help: "Timed steps of the training benchmark.")
    var trainRuns: Int = 5

    @Flag(help: "Print JSON.")
    var json = false

    @Option(name: .customLong("compare-torch"), help: ArgumentHelp(
        "Also time the published PyTorch code with this Python interpreter (it needs torch and torchvision) and print the ratio theirs / ours.",
        valueName: "python"))
    var compareTorch: String?

    @Option(help: ArgumentHelp("With --compare-torch: a folder holding the published HSNet repository's .py files (model/hsnet.py, ...); needed by episode, finetune and train.",
                               valueName: "dir"))
    var hsnetCode: String?

    @Option(help: ArgumentHelp("With --compare-torch: a folder holding the published APM repository's .py files (example_for_hsnet.py, freq_masker.py, phase_attn.py); needed by episode, finetune and maskers.",
                               valueName: "dir"))
    var apmCode: String?

    @Option(help: ArgumentHelp("With --compare-torch: the timing script (default: scripts/bench/torch_reference_bench.py of the checkout cdfss was built from).",
                               valueName: "file"))
    var torchScript: String?

    func validate() throws {
        guard runs > 0, episodeRuns > 0, finetuneRuns > 0, trainRuns > 0 else {
            throw ValidationError("--runs, --episode-runs, --finetune-runs and --train-runs must be positive")
        }
        if compareTorch == nil {
            for (option, value) in [("--hsnet-code", hsnetCode), ("--apm-code", apmCode), ("--torch-script", torchScript)] where value != nil {
                throw ValidationError("\(option) only has a meaning with --compare-torch PYTHON")
            }
        }
    }

    /// The published counterpart of a suite, if it has one.
    static func torchRow(of suite: Suite) -> TorchReference.Row? {
        switch suite {
        case .episode: .episode
        case .maskers: .maskers
        case .finetune: .finetune
        case .train: .train
        case .layers, .correlation: nil
        }
    }

    /// With --compare-torch: the published code, checked (imports and models built) before any timing.
    func checkedTorchReference() throws -> (reference: TorchReference, report: TorchReference.Report)? {
        guard let compareTorch else { return nil }
        let rows = TorchReference.Row.allCases.filter { row in suites.contains { Self.torchRow(of: $0) == row } }
        guard !rows.isEmpty else {
            throw InputError("--compare-torch: none of the suites \(suites.map(\.rawValue).joined(separator: " ")) has a published counterpart (episode, maskers, finetune, train have)")
        }
        let reference = try TorchReference(python: compareTorch, script: torchScript, hsnetCode: hsnetCode, apmCode: apmCode,
                                           rows: rows, threads: workerCount)
        return (reference, try reference.check(rows: rows))
    }

    /// Times the suite's published counterpart and sets its median and the ratio on our rows of the same name.
    func compare(_ ours: [BenchResult], with reference: TorchReference, row: TorchReference.Row, runs: Int) throws -> [BenchResult] {
        FileHandle.standardError.write(Data("bench: timing the published code's \(row.rawValue) (\(runs) runs) with \(reference.pythonArgument)\n".utf8))
        let theirs = try reference.time(row, runs: runs)
        return ours.map { result in
            guard let name = result.publishedName, let timing = theirs.rows.first(where: { $0.name == name }) else { return result }
            var compared = result
            compared.torchMedianMilliseconds = timing.medianMilliseconds
            compared.torchMinMilliseconds = timing.minMilliseconds
            compared.torchRuns = timing.runs
            compared.ratio = timing.medianMilliseconds / result.medianMilliseconds
            if result.peakResidentMegabytes != nil { compared.torchPeakResidentMegabytes = timing.peakResidentMegabytes }
            return compared
        }
    }

    func run() throws {
        #if DEBUG
        FileHandle.standardError.write(Data("warning: this is a debug build; timings mean little (use swift build -c release)\n".utf8))
        #endif
        // Before any timing: a missing interpreter, torch or published file is one line.
        let torch = try checkedTorchReference()
        var results: [BenchResult] = []
        /// Our suite, then, with --compare-torch, its published counterpart right after it (same load).
        func suite(_ suite: Suite, runs: Int, _ body: () throws -> [BenchResult]) throws {
            guard suites.contains(suite) else { return }
            let ours = try body()
            if let torch, let row = Self.torchRow(of: suite) {
                results += try compare(ours, with: torch.reference, row: row, runs: runs)
            } else {
                results += ours
            }
        }
        // The episode first, so that the peak memory it reports is its own.
        try suite(.episode, runs: episodeRuns) { try episodeBenchmark() }
        try suite(.maskers, runs: runs) { try maskerBenchmark() }
        try suite(.finetune, runs: finetuneRuns) { try fineTuningBenchmark() }
        try suite(.train, runs: trainRuns) { try trainingBenchmark() }
        try suite(.layers, runs: runs) { layerBenchmarks() }
        try suite(.correlation, runs: runs) { try correlationBenchmark() }
        let published = torch.map { TorchSummary(python: $0.reference.pythonArgument, version: $0.report.torch, threads: $0.report.threads,
                                                 script: $0.reference.script.path) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let report = BenchReport(threads: workerCount, runs: runs, torch: published, results: results)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("threads: \(workerCount)")
            for result in results {
                var line = String(format: "%@  %@: median %.2f ms (min %.2f ms, %d runs)", result.name, result.shape,
                                  result.medianMilliseconds, result.minMilliseconds, result.runs)
                if let gflops = result.gigaflopsPerSecond { line += String(format: ", %.0f GFLOP/s", gflops) }
                if let peak = result.peakResidentMegabytes { line += String(format: ", peak memory %.0f MiB", peak) }
                print(line)
            }
            if let published { printComparison(results, published) }
        }
    }

    /// The compared rows side by side: our median, the published code's, and theirs / ours.
    func printComparison(_ results: [BenchResult], _ published: TorchSummary) {
        print("")
        print("against the published PyTorch code (torch \(published.version), \(published.threads) threads; ratio = theirs / ours, > 1: cdfss is faster):")
        let compared = results.filter { $0.ratio != nil }
        let width = max(4, compared.map(\.name.count).max() ?? 0)
        print("row".padding(toLength: width, withPad: " ", startingAt: 0) + "    cdfss ms    torch ms    ratio")
        for result in compared {
            guard let theirs = result.torchMedianMilliseconds, let ratio = result.ratio else { continue }
            print(result.name.padding(toLength: width, withPad: " ", startingAt: 0)
                  + String(format: "  %10.2f  %10.2f  %7.2f", result.medianMilliseconds, theirs, ratio))
        }
    }

    struct BenchReport: Encodable {
        let threads: Int
        let runs: Int
        /// Only with --compare-torch (nil values are left out of the JSON).
        let torch: TorchSummary?
        let results: [BenchResult]
    }

    /// The published code's side of the run (`bench --compare-torch`).
    struct TorchSummary: Encodable {
        let python: String
        let version: String
        let threads: Int
        let script: String
    }

    struct BenchResult: Encodable {
        let name: String
        let shape: String
        let runs: Int
        let medianMilliseconds: Double
        let minMilliseconds: Double
        var gigaflopsPerSecond: Double? = nil
        var peakResidentMegabytes: Double? = nil
        /// The name of the published code's counterpart in torch_reference_bench.py, if there is one.
        var publishedName: String? = nil
        var torchMedianMilliseconds: Double? = nil
        var torchMinMilliseconds: Double? = nil
        var torchRuns: Int? = nil
        var torchPeakResidentMegabytes: Double? = nil
        /// Theirs / ours: > 1 means cdfss is faster.
        var ratio: Double? = nil

        // snake_case, as every JSON cdfss writes.
        enum CodingKeys: String, CodingKey {
            case name, shape, runs
            case medianMilliseconds = "median_ms"
            case minMilliseconds = "min_ms"
            case gigaflopsPerSecond = "gflops_per_second"
            case peakResidentMegabytes = "peak_resident_mib"
            case torchMedianMilliseconds = "torch_median_ms"
            case torchMinMilliseconds = "torch_min_ms"
            case torchRuns = "torch_runs"
            case torchPeakResidentMegabytes = "torch_peak_resident_mib"
            case ratio
        }
    }

    func result(_ name: String, shape: String, _ seconds: [Double], published: String? = nil) -> BenchResult {
        BenchResult(name: name, shape: shape, runs: seconds.count, medianMilliseconds: 1000 * Timing.median(seconds),
                    minMilliseconds: 1000 * (seconds.min() ?? .nan), publishedName: published)
    }

    /// The benchmarks' model: deterministic pseudo-random weights (HSNet with a ResNet-50
    /// unless `model` says otherwise), a fresh APM-M + ACPA in layer 4, two pseudo-random
    /// 400 x 400 pictures and a mask covering the centred quarter.
    func benchmarkEpisode(model kind: BenchModel = .hsnetResNet50) throws -> (model: HSNet, query: Tensor, support: Tensor, mask: Tensor) {
        let size = 400
        let model = try kind.deterministicModel()
        var generator = SeededGenerator(seed: 0)
        let feature = model.featureSize(layer: 4, imageHeight: size, imageWidth: size)
        let channels = model.tapChannels(layer: 4)
        try model.installFrequencyMaskers(
            amplitudePhase: AmplitudePhaseMasker(variant: .perChannel, channels: channels, height: feature.height, width: feature.width),
            channelAttention: ChannelPhaseAttention(channels: channels, generator: &generator), imageSize: size)
        let image = { Tensor(shape: [1, 3, size, size], scalars: (0..<(3 * size * size)).map { _ in generator.uniform(-2, 2) }) }
        let (query, support) = (image(), image())
        let mask = Tensor(shape: [size, size], scalars: (0..<(size * size)).map { i in
            let (row, column) = (i / size, i % size)
            return (size / 4..<(3 * size / 4)).contains(row) && (size / 4..<(3 * size / 4)).contains(column) ? 1 : 0
        })
        return (model, query, support, mask)
    }

    /// The models the episode suite times, one row each.
    enum BenchModel: CaseIterable {
        case hsnetResNet50, hsnetResNet101, hsnetVGG16, patnet

        /// The row's name: the ResNet-50 row keeps the published counterpart's name.
        var rowName: String {
            switch self {
            case .hsnetResNet50: "episode.1shot.apm-m+acpa"
            case .hsnetResNet101: "episode.1shot.apm-m+acpa.resnet101"
            case .hsnetVGG16: "episode.1shot.apm-m+acpa.vgg16"
            case .patnet: "episode.1shot.apm-m+acpa.patnet"
            }
        }

        func deterministicModel() throws -> HSNet {
            switch self {
            case .hsnetResNet50: try HSNet.withDeterministicWeights(backbone: .resnet50)
            case .hsnetResNet101: try HSNet.withDeterministicWeights(backbone: .resnet101)
            case .hsnetVGG16: try HSNet.withDeterministicWeights(backbone: .vgg16)
            case .patnet: try HSNet.withDeterministicPATNetWeights()
            }
        }
    }

    /// One 1-shot episode with APM-M + ACPA per model; the published code times the ResNet-50
    /// HSNet only. The process's peak memory is read after the ResNet-50 row, before the
    /// larger models run.
    func episodeBenchmark() throws -> [BenchResult] {
        try BenchModel.allCases.map { kind in
            let (model, query, support, mask) = try benchmarkEpisode(model: kind)
            let seconds = try Timing.measure(runs: episodeRuns, warmup: 1) {
                _ = try model.predict(query: query, supports: support, supportMasks: mask.reshaped([1] + mask.shape))
            }
            var row = result(kind.rowName, shape: query.shapeDescription, seconds,
                             published: kind == .hsnetResNet50 ? kind.rowName : nil)
            if kind == .hsnetResNet50 { row.peakResidentMegabytes = peakResidentMegabytes() }
            return row
        }
    }

    func fineTuningBenchmark() throws -> [BenchResult] {
        let (model, query, support, mask) = try benchmarkEpisode()
        // Two images, trained on the one pair support -> query.
        let images = [AdaptationImage(imagePath: "support", maskPath: "support-mask", image: support, mask: mask),
                      AdaptationImage(imagePath: "query", maskPath: "query-mask", image: query, mask: mask)]
        let run = try MaskerFineTuning(model: model, images: images, settings: FineTuneSettings(steps: finetuneRuns + 1),
                                       cacheBytes: 1 << 30, onlyPairs: [AdaptationPair(support: 0, query: 1)])
        let cold = try Timing.measure(runs: 1, warmup: 0) { try run.step() }
        let warm = try Timing.measure(runs: finetuneRuns, warmup: 0) { try run.step() }
        // The published step recomputes everything: beside the warm step (the claim) and the first one.
        let published = "finetune.step.apm-m+acpa.adam"
        return [result("finetune.step.apm-m+acpa.adam (cache warm)", shape: query.shapeDescription, warm, published: published),
                result("  first step (fills the cache)", shape: query.shapeDescription, cold, published: published)]
    }

    /// Training steps of the learner on 2 x 4 synthetic source pictures at 400 x 400, batch 4.
    /// Two steps first, which fill the tap cache (eight pictures), then the timed ones.
    func trainingBenchmark() throws -> [BenchResult] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-bench-train-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try SyntheticDomain(style: .source, classes: 2, imagesPerClass: 4, size: 400, seed: 0).write(to: folder)
        let model = try HSNet.withDeterministicWeights()
        let settings = LearnerTrainingSettings(epochs: 1, episodesPerEpoch: 4 * (trainRuns + 2), batch: 4, imageSize: 400,
                                               validationEpisodes: 0)
        let run = try LearnerTraining(model: model, training: try TrainingSet.folder(datapath: folder, classes: nil),
                                      validation: nil, settings: settings, cacheBytes: 1 << 30, keepingPyramids: false)
        let seconds = try Timing.measure(runs: trainRuns, warmup: 2) { _ = try run.step() }
        var step = result("train.step.batch4.adam (taps cached, pyramids computed)", shape: "4 x [1, 3, 400, 400]", seconds,
                          published: "train.step.batch4.adam")
        step.peakResidentMegabytes = peakResidentMegabytes()
        return [step]
    }

    /// The correlation analysis of 20 pseudo-random pictures, per picture, and the backbone
    /// passes it contains, per picture: the difference is the analysis's own cost.
    func correlationBenchmark() throws -> [BenchResult] {
        let (model, _, _, _) = try benchmarkEpisode()
        var generator = SeededGenerator(seed: 1)
        let size = 400
        let pictures = (0..<20).map { index in
            (name: "picture \(index)", image: Tensor(shape: [1, 3, size, size], scalars: (0..<(3 * size * size)).map { _ in generator.uniform(-2, 2) }))
        }
        let pairs = stride(from: 0, to: pictures.count, by: 2).map { Array(pictures[$0..<($0 + 2)]) }
        let backbone = Timing.measure(runs: 1, warmup: 0) {
            for pair in pairs { _ = model.features(of: pair.map(\.image)) }
        }
        let perPicture = { (seconds: [Double]) in seconds.map { $0 / Double(pictures.count) } }
        var results: [BenchResult] = []
        for (label, taps) in [("layer-4 taps", try BackboneTaps(of: model).parse("layer4")), ("all 13 taps", try BackboneTaps(of: model).parse("all"))] {
            let analysis = CorrelationAnalysis(model: model, taps: taps)
            let seconds = try Timing.measure(runs: 1, warmup: 0) {
                for pair in pairs { try analysis.add(pair) }
            }
            results.append(result("analyze.correlation per picture (\(label), with and without APM-M + ACPA)",
                                  shape: "[1, 3, 400, 400] x 20", perPicture(seconds)))
        }
        return results + [result("  backbone pass alone per picture", shape: "[1, 3, 400, 400] x 20", perPicture(backbone))]
    }

    func maskerBenchmark() throws -> [BenchResult] {
        let shape = [6, 2048, 13, 13]
        var generator = SeededGenerator(seed: 0)
        let x = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in generator.uniform(-2, 2) })
        let gradOutput = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in generator.uniform(-1, 1) })
        let apm = AmplitudePhaseMasker(variant: .perChannel, channels: 2048, height: 13, width: 13)
        let acpa = ChannelPhaseAttention(channels: 2048, generator: &generator)
        let forward = try Timing.measure(runs: runs, warmup: 2) {
            _ = try acpa(apm(x))
        }
        let training = try Timing.measure(runs: runs, warmup: 2) {
            let (masked, apmTape) = try apm.forwardForTraining(x)
            let (_, acpaTape) = try acpa.forwardForTraining(masked)
            var gradients: [String: Tensor] = [:]
            let gradMasked = acpa.backward(gradOutput, tape: acpaTape, parameterGradients: &gradients)
            _ = apm.backward(gradMasked, tape: apmTape, parameterGradients: &gradients)
        }
        // Each layer alone, to see where the time goes.
        let (masked, apmTape) = try apm.forwardForTraining(x)
        let (_, acpaTape) = try acpa.forwardForTraining(masked)
        var gradients: [String: Tensor] = [:]
        let gradMasked = acpa.backward(gradOutput, tape: acpaTape, parameterGradients: &gradients)
        let apmForward = try Timing.measure(runs: runs) { _ = try apm.forwardForTraining(x) }
        let acpaForward = try Timing.measure(runs: runs) { _ = try acpa.forwardForTraining(masked) }
        let acpaBackward = Timing.measure(runs: runs) { _ = acpa.backward(gradOutput, tape: acpaTape, parameterGradients: &gradients) }
        let apmBackward = Timing.measure(runs: runs) { _ = apm.backward(gradMasked, tape: apmTape, parameterGradients: &gradients) }
        let shapeText = Tensor(zeros: shape).shapeDescription
        return [result("maskers.forward", shape: shapeText, forward, published: "maskers.forward"),
                result("maskers.forward_backward", shape: shapeText, training, published: "maskers.forward_backward"),
                result("  apm-m.forward (training)", shape: shapeText, apmForward),
                result("  acpa.forward (training)", shape: shapeText, acpaForward),
                result("  acpa.backward", shape: shapeText, acpaBackward),
                result("  apm-m.backward", shape: shapeText, apmBackward)]
    }

    func layerBenchmarks() -> [BenchResult] {
        (LayerBenchmark.convolutions(runs: runs) + LayerBenchmark.centerPivotConvolutions(runs: max(1, runs / 4))).map { layer in
            var entry = result(layer.name, shape: layer.shape, layer.seconds)
            entry.gigaflopsPerSecond = layer.gigaflopsPerSecond
            return entry
        }
    }

    /// The process's peak resident memory so far (Linux reports ru_maxrss in KiB).
    func peakResidentMegabytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
