import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import FreqMask
import HSNetCore
import TensorCore

/// Which frequency maskers a command plugs into the model: a masker file (`--masker`), else
/// the checkpoint's own `apm.*`/`acpa.*` (and `layer3.*`/`layer2.*`) unless `--no-masker`;
/// each layer's part goes to that layer's slots.
struct MaskerChoice {
    var masker: String?
    var noMasker: Bool

    /// Installs the chosen maskers into `model` for `imageSize` inputs; returns what was
    /// installed ("apm-m+acpa", "apm-m+acpa@layer3,layer4", or "none") and the masker file's SHA-256 when one was given.
    func install(into model: HSNet, checkpoint: String, imageSize: Int) throws -> (description: String, sha256: String?) {
        if let masker {
            let url = URL(fileURLWithPath: masker)
            let state = try MaskerState.read(url)
            do {
                try model.installFrequencyMaskers(state, imageSize: imageSize)
            } catch let error as InputError {
                throw InputError("\(url.path): \(error.message)")
            }
            return (MaskerSlots.kinds(state), try SHA256Digest.hex(ofFile: url))
        }
        guard !noMasker else { return ("none", nil) }
        do {
            guard let state = try model.installCheckpointMaskers(imageSize: imageSize) else { return ("none", nil) }
            return (MaskerSlots.kinds(state), nil)
        } catch let error as InputError {
            throw InputError("\(checkpoint): \(error.message)")
        }
    }
}
