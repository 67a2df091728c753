import ArgumentParser
import Foundation
import HSNetCore
import TensorCore

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List a checkpoint's tensors (PyTorch .pt/.pth or .safetensors) and count parameters per part.",
        discussion: """
            Reads .pt/.pth files written by torch.save (a state_dict, possibly nested under \
            state_dict or model, possibly with DataParallel's module. prefix) without running \
            any code from them. Counts parameters of the backbone, the HPN learner and the \
            maskers (apm.*, acpa.*); a torchvision ResNet-50, ResNet-101 or VGG-16 file is recognised \
            as a backbone. The last line says whether cdfss runs the model (HSNet with ResNet-50, \
            ResNet-101 or VGG-16; not PATNet or a VGG with BatchNorm). \
            Safetensors files (what predict, finetune and test also read) are listed with the \
            dtypes their header names and their metadata. The file kind is told from its first \
            bytes, not from its name.
            """)

    @Argument(help: "Checkpoint file (.pt, .pth or .safetensors).")
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
            print("Runs in cdfss: " + SupportedModels.use(of: summary.tensors.map(\.name)))
        }
    }
}
