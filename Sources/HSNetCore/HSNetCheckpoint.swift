import Foundation
import TensorCore

/// Building HSNet from files people already have: a PyTorch `.pt`/`.pth` checkpoint (read by
/// the restricted unpickler, `module.` prefixes and `state_dict`/`model` nesting handled) or a
/// safetensors file, optionally with a separate ResNet-50 backbone file (torchvision's
/// ImageNet weights).
extension HSNet {
    /// Reads the state dict of a `.pt`/`.pth` (zip) or `.safetensors` file; errors name the file.
    public static func readStateDict(_ url: URL) throws -> [(name: String, tensor: Tensor)] {
        if url.pathExtension.lowercased() == "safetensors" {
            let file = try SafetensorsFile.read(url)
            return file.tensors.keys.sorted().map { (name: $0, tensor: file.tensors[$0]!) }
        }
        do {
            return try TorchCheckpoint.loadStateDict(from: url)
        } catch let error as InputError where !error.message.hasPrefix(url.path) {
            throw InputError("\(url.path): \(error.message)")
        }
    }

    /// The model of `checkpoint` (with `backbone.*` entries, or without them when `backbone`
    /// names a ResNet-50 state dict file). Plug-in entries (`apm.*`, `acpa.*`) are kept in
    /// `pluginTensors`; nothing is installed in the slots.
    public convenience init(checkpoint: URL, backbone: URL? = nil) throws {
        let stateDict = try Self.readStateDict(checkpoint)
        let backboneStateDict = try backbone.map { try Self.readStateDict($0) }
        try self.init(stateDict: stateDict, backboneStateDict: backboneStateDict,
                      source: checkpoint.path, backboneSource: backbone?.path ?? "backbone checkpoint")
    }
}
