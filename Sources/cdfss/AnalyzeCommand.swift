import ArgumentParser
import HSNetCore

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Diagnostics: channel correlations of the backbone's features, fixed frequency filters, feature export, activation pictures.",
        subcommands: [AnalyzeCorrelationCommand.self, AnalyzeFilterSweepCommand.self, AnalyzeFeaturesCommand.self, AnalyzeActivationCommand.self])
}

/// The model options every diagnostic takes.
struct AnalysisModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp(ModelSource.help))
    var checkpoint: String

    @Option(help: "ResNet-50 state dict for the backbone (torchvision's resnet50 .pth), when the checkpoint has none.")
    var backboneWeights: String?

    @Option(help: "Masker file (.safetensors) to plug into layer 4; wins over the checkpoint's.")
    var masker: String?

    @Flag(help: "Ignore the maskers stored in the checkpoint.")
    var noMasker = false

    @Option(parsing: .unconditional, help: "Side of the square network input (16 to \(HSNet.maximumImageSize)).")
    var imageSize = 400

    func validate() throws {
        guard !(noMasker && masker != nil) else { throw ValidationError("--no-masker and --masker exclude each other") }
        _ = try BuiltinModel.named(checkpoint)
    }
}
