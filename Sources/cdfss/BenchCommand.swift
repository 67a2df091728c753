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
            resident memory after it.
            maskers: APM-M + ACPA forward and backward on x [6, 2048, 13, 13], the six layer-4 \
            maps one fine-tuning step sees (query and support, three taps each), and each \
            layer alone.
            finetune: one fine-tuning step (one pair, 400 x 400, APM-M + ACPA, Adam) once the \
            pair's features are cached: the layer-4 path forward and backward and the update.
            layers: the convolution kernels on ResNet-50 and learner shapes, with GFLOP/s.
            train: one training step of the learner (`cdfss train`: batch 4, 400 x 400, Adam) \
            on synthetic source pictures over the deterministic backbone, taps cached as in \
            training and the pyramids recomputed (episodes rarely recur); the process's peak \
            resident memory after it. The published code's step, which also runs the backbone: \
            scripts/bench/torch_train_step.py.
            correlation: `analyze correlation` of 20 pictures at 400 x 400 with APM-M and \
            ACPA, over the three layer-4 taps (the default) and over all 13, per picture, \
            beside the backbone passes alone (two side by side, as the analysis runs them).
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

    func validate() throws {
        guard runs > 0, episodeRuns > 0, finetuneRuns > 0, trainRuns > 0 else {
            throw ValidationError("--runs, --episode-runs, --finetune-runs and --train-runs must be positive")
        }
    }

    func run() throws {
        #if DEBUG
        FileHandle.standardError.write(Data("warning: this is a debug build; timings mean little (use swift build -c release)\n".utf8))
        #endif
        var results: [BenchResult] = []
        // The episode first, so that the peak memory it reports is its own.
        if suites.contains(.episode) { results += try episodeBenchmark() }
        if suites.contains(.maskers) { results += try maskerBenchmark() }
        if suites.contains(.finetune) { results += try fineTuningBenchmark() }
        if suites.contains(.train) { results += try trainingBenchmark() }
        if suites.contains(.layers) { results += layerBenchmarks() }
        if suites.contains(.correlation) { results += try correlationBenchmark() }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(BenchReport(threads: workerCount, runs: runs, results: results)), as: UTF8.self))
        } else {
            print("threads: \(workerCount)")
            for result in results {
                var line = String(format: "%@  %@: median %.2f ms (min %.2f ms, %d runs)", result.name, result.shape,
                                  result.medianMilliseconds, result.minMilliseconds, result.runs)
                if let gflops = result.gigaflopsPerSecond { line += String(format: ", %.0f GFLOP/s", gflops) }
                if let peak = result.peakResidentMegabytes { line += String(format: ", peak memory %.0f MiB", peak) }
                print(line)
            }
        }
    }

    struct BenchReport: Encodable {
        let threads: Int
        let runs: Int
        let results: [BenchResult]
    }

    struct BenchResult: Encodable {
        let name: String
        let shape: String
        let runs: Int
        let medianMilliseconds: Double
        let minMilliseconds: Double
        var gigaflopsPerSecond: Double? = nil
        var peakResidentMegabytes: Double? = nil

        // snake_case, as every JSON cdfss writes.
        enum CodingKeys: String, CodingKey {
            case name, shape, runs
            case medianMilliseconds = "median_ms"
            case minMilliseconds = "min_ms"
            case gigaflopsPerSecond = "gflops_per_second"
            case peakResidentMegabytes = "peak_resident_mib"
        }
    }

    func result(_ name: String, shape: String, _ seconds: [Double]) -> BenchResult {
        BenchResult(name: name, shape: shape, runs: seconds.count, medianMilliseconds: 1000 * Timing.median(seconds),
                    minMilliseconds: 1000 * (seconds.min() ?? .nan))
    }

    /// The benchmarks' model: deterministic pseudo-random weights, a fresh APM-M + ACPA in
    /// layer 4, two pseudo-random 400 x 400 pictures and a mask covering the centred quarter.
    func benchmarkEpisode() throws -> (model: HSNet, query: Tensor, support: Tensor, mask: Tensor) {
        let size = 400
        let model = try HSNet.withDeterministicWeights()
        var generator = SeededGenerator(seed: 0)
        let feature = HSNet.featureSize(layer: 4, imageHeight: size, imageWidth: size)
        try model.installFrequencyMaskers(
            amplitudePhase: AmplitudePhaseMasker(variant: .perChannel, channels: 2048, height: feature.height, width: feature.width),
            channelAttention: ChannelPhaseAttention(channels: 2048, generator: &generator), imageSize: size)
        let image = { Tensor(shape: [1, 3, size, size], scalars: (0..<(3 * size * size)).map { _ in generator.uniform(-2, 2) }) }
        let (query, support) = (image(), image())
        let mask = Tensor(shape: [size, size], scalars: (0..<(size * size)).map { i in
            let (row, column) = (i / size, i % size)
            return (size / 4..<(3 * size / 4)).contains(row) && (size / 4..<(3 * size / 4)).contains(column) ? 1 : 0
        })
        return (model, query, support, mask)
    }

    func episodeBenchmark() throws -> [BenchResult] {
        let (model, query, support, mask) = try benchmarkEpisode()
        let seconds = try Timing.measure(runs: episodeRuns, warmup: 1) {
            _ = try model.predict(query: query, supports: support, supportMasks: mask.reshaped([1] + mask.shape))
        }
        var episode = result("episode.1shot.apm-m+acpa", shape: query.shapeDescription, seconds)
        episode.peakResidentMegabytes = peakResidentMegabytes()
        return [episode]
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
        return [result("finetune.step.apm-m+acpa.adam (cache warm)", shape: query.shapeDescription, warm),
                result("  first step (fills the cache)", shape: query.shapeDescription, cold)]
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
        var step = result("train.step.batch4.adam (taps cached, pyramids computed)", shape: "4 x [1, 3, 400, 400]", seconds)
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
        let backbone = try Timing.measure(runs: 1, warmup: 0) {
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
        return [result("maskers.forward", shape: shapeText, forward),
                result("maskers.forward_backward", shape: shapeText, training),
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
