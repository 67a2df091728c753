import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import HSNetCore
import TensorCore

/// The HSNet a command runs: a checkpoint file, or a built-in model (`BuiltinModel`), which
/// needs no download and no training. Its weights are pseudo-random: it shows that every step
/// runs and how fast, never what HSNet can segment.
enum ModelSource {
    static let help = "HSNet checkpoint (.pt, .pth or .safetensors), or a built-in model: builtin:deterministic (pseudo-random weights, for timing and tests; builtin:deterministic-vgg16 the same with a VGG-16 backbone) or builtin:demo (the demo model trained on the synthetic source style)."

    static func load(checkpoint: String, backboneWeights: String?) throws -> HSNet {
        if let builtin = try BuiltinModel.named(checkpoint) {
            guard backboneWeights == nil else {
                throw InputError("--backbone-weights: the built-in model \(checkpoint) has its own backbone")
            }
            return try builtin.load()
        }
        return try HSNet(checkpoint: URL(fileURLWithPath: checkpoint), backbone: backboneWeights.map { URL(fileURLWithPath: $0) })
    }

    /// The checkpoint's SHA-256 for reports (a built-in model is named instead).
    static func digest(checkpoint: String) throws -> String {
        try BuiltinModel.named(checkpoint) != nil ? checkpoint : try SHA256Digest.hex(ofFile: URL(fileURLWithPath: checkpoint))
    }
}

extension OutputCheck {
    /// The model's files as inputs (the built-in model has none).
    mutating func model(checkpoint: String, backboneWeights: String?) {
        if BuiltinModel(rawValue: checkpoint) == nil { input("--checkpoint", checkpoint) }
        input("--backbone-weights", backboneWeights)
    }
}
