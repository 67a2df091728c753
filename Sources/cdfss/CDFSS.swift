import ArgumentParser
import Foundation
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
        subcommands: [DemoCommand.self, PredictCommand.self, FinetuneCommand.self, TestCommand.self, InspectCommand.self, MaskerCommand.self, TrainCommand.self, BenchCommand.self, ReportCommand.self, DatasetsCommand.self, SynthCommand.self, AnalyzeCommand.self])

    static func main() {
        MemoryTuning.keepLargeBlocksInHeap()
        do {
            var command = try parseAsRoot(nil)
            try command.run()
        } catch {
            guard exitCode(for: error) != .success else { exit(withError: error) }  // --help, --version
            FileHandle.standardError.write(Data((oneLineMessage(for: error) + "\n").utf8))
            Foundation.exit(exitCode(for: error).rawValue)
        }
    }

    /// Bad input gets one line: ArgumentParser follows a usage error with the option's help,
    /// the usage and a pointer to --help on lines of their own; the first line names what is
    /// wrong, and the pointer is kept on it.
    static func oneLineMessage(for error: Error) -> String {
        let lines = fullMessage(for: error).split(separator: "\n").map(String.init)
        var message = lines.first ?? "Error: \(error)"
        if !message.hasPrefix("Error:") { message = "Error: " + message }
        if let pointer = lines.first(where: { $0.contains("See '") }),
           let start = pointer.range(of: "'"), let end = pointer.range(of: "'", options: .backwards), start.upperBound < end.lowerBound {
            message += " (see \(pointer[start.upperBound..<end.lowerBound]))"
        }
        return message
    }
}
