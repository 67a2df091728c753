import ArgumentParser
import Foundation
import TensorCore

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List a PyTorch checkpoint's tensors and count parameters per part.",
        discussion: """
            Reads .pt/.pth files written by torch.save (a state_dict, possibly nested under \
            state_dict or model, possibly with DataParallel's module. prefix) without running \
            any code from them. Counts parameters of the backbone, the HPN learner and the \
            maskers (apm.*, acpa.*); a torchvision ResNet-50 file is recognised as a backbone.
            """)

    @Argument(help: "Checkpoint file (.pt or .pth).")
    var checkpoint: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let summary = try CheckpointSummary.read(URL(fileURLWithPath: checkpoint))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print(summary.textReport(), terminator: "")
        }
    }
}
