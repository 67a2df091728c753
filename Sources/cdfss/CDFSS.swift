import ArgumentParser
import TensorCore

@main
struct CDFSS: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "cdfss",
        abstract: "Cross-domain few-shot segmentation with frequency-domain maskers.",
        discussion: """
            Amplitude-phase maskers (APM-S, APM-M) and adaptive channel phase attention (ACPA) \
            for segmentation features, on the CPU.
            """,
        version: version,
        subcommands: [PredictCommand.self, FinetuneCommand.self, TestCommand.self, InspectCommand.self, MaskerCommand.self, BenchCommand.self, ReportCommand.self, DatasetsCommand.self, SynthCommand.self, AnalyzeCommand.self])

    static func main() {
        MemoryTuning.keepLargeBlocksInHeap()
        main(nil)
    }
}
