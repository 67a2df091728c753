import FreqMask
import HSNetCore
import TensorCore

/// `--slots layer3,layer4`: the tap groups of fresh maskers (one APM and one ACPA per layer,
/// shared by its taps and by query and support). A masker read from a file or a checkpoint
/// sits where its keys say; `--slots`, when given, must then name the same layers.
enum MaskerSlots {
    static let help = "Tap groups of a fresh masker, comma-separated: layer2, layer3, layer4 (each gets its own APM and ACPA). (default: layer4, as the paper)"

    /// The layers `text` names (nil: layer 4).
    static func layers(_ text: String?) throws -> [Int] {
        try text.map { try HSNet.maskerLayers($0) } ?? [4]
    }

    /// Refuses `--slots` that disagree with the layers of a masker given otherwise.
    static func check(_ text: String?, against state: MaskerState, source: String) throws {
        guard let text else { return }
        let given = try HSNet.maskerLayers(text)
        guard given == state.layerNumbers else {
            throw InputError("--slots \(text) asks for maskers on \(names(given)), but \(source) has them on \(names(state.layerNumbers)); drop --slots or give a masker for those layers")
        }
    }

    static func names(_ layers: [Int]) -> String {
        layers.map { "layer\($0)" }.joined(separator: ",")
    }

    /// What a masker holds, for summaries and reports: "apm-m+acpa" on layer 4 alone, else
    /// with its layers ("apm-m+acpa@layer3,layer4", or per layer when they differ).
    static func kinds(_ state: MaskerState) -> String {
        let names = state.layerNumbers.map { state[layer: $0].plugins.map(\.kind).joined(separator: "+") }
        guard let first = names.first else { return "none" }
        if state.layerNumbers == [4] { return first }
        if Set(names).count == 1 { return first + "@" + Self.names(state.layerNumbers) }
        return zip(state.layerNumbers, names).map { "layer\($0):\($1)" }.joined(separator: ";")
    }
}
