import ArgumentParser
import Foundation
import FreqMask
import TensorCore

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the hot paths (build with -c release for meaningful numbers).",
        discussion: """
            maskers: APM-M + ACPA forward and backward on x [6, 2048, 13, 13], the six layer-4 \
            maps one fine-tuning step sees (query and support, three taps each).
            """)

    @Option(help: "Timed runs per benchmark (the median is reported).")
    var runs: Int = 20

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard runs > 0 else { throw ValidationError("--runs must be positive") }
    }

    func run() throws {
        #if DEBUG
        FileHandle.standardError.write(Data("warning: this is a debug build; timings mean little (use swift build -c release)\n".utf8))
        #endif
        let results = try maskerBenchmark()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(BenchReport(threads: workerCount, runs: runs, results: results)), as: UTF8.self))
        } else {
            print("threads: \(workerCount)  runs: \(runs)")
            for result in results {
                print(String(format: "%@  %@: median %.2f ms (min %.2f ms)", result.name, result.shape,
                             result.medianMilliseconds, result.minMilliseconds))
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
        let medianMilliseconds: Double
        let minMilliseconds: Double
    }

    func result(_ name: String, shape: String, _ seconds: [Double]) -> BenchResult {
        BenchResult(name: name, shape: shape, medianMilliseconds: 1000 * Timing.median(seconds),
                    minMilliseconds: 1000 * (seconds.min() ?? .nan))
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
}
