import Foundation
import TensorCore

/// A masker state file: safetensors whose keys are the reference model's own
/// (`apm.mask_amplitude`, `apm.mask_phase`, `acpa.phase_attn.0.weight`,
/// `acpa.phase_attn.2.weight`), so a PyTorch user can `load_state_dict(..., strict=False)` it.
///
/// Those names are the maskers of HSNet's layer 4 (the paper's placement). A file may hold
/// maskers for layers 3 and 2 too, each layer its own amplitude-phase masker and channel phase
/// attention, under the same names behind `layer3.` or `layer2.` (`layer3.apm.mask_amplitude`,
/// `layer2.acpa.phase_attn.0.weight`). Any part of any layer may be absent, but not all.
/// The metadata says what is inside (`slots`: the plug-in slots the maskers fill); callers add
/// their own (training settings, loss curves) under other keys.
public struct MaskerState {
    public static let format = "cdfss-masker"
    public static let formatVersion = "1"
    /// The key prefixes of the layer-4 parts (the published names); other layers put
    /// `layerPrefix(layer)` before them.
    public static let amplitudePrefix = "apm."
    public static let attentionPrefix = "acpa."
    /// The layers a masker can serve (HSNet's correlated layers).
    public static let layerRange = 2...4

    /// The maskers of one layer: the amplitude-phase masker acts on the raw query and support
    /// features, the channel phase attention after the support masking.
    public struct LayerMaskers {
        public var amplitudePhase: AmplitudePhaseMasker?
        public var channelAttention: ChannelPhaseAttention?

        public init(amplitudePhase: AmplitudePhaseMasker?, channelAttention: ChannelPhaseAttention?) {
            self.amplitudePhase = amplitudePhase
            self.channelAttention = channelAttention
        }

        public var isEmpty: Bool { amplitudePhase == nil && channelAttention == nil }

        /// The plug-ins in the order the model applies them.
        public var plugins: [FeaturePlugin] {
            [amplitudePhase as FeaturePlugin?, channelAttention].compactMap { $0 }
        }
    }

    /// The maskers by layer (2, 3, 4); layers without any are absent.
    public private(set) var layers: [Int: LayerMaskers]
    /// Metadata beyond what describes the maskers (kept on read, written back on write).
    public var metadata: [String: String]

    /// The key prefix of a layer's parts: empty for layer 4 (the published names), `layer3.`
    /// and `layer2.` for the others.
    public static func layerPrefix(_ layer: Int) -> String {
        layer == 4 ? "" : "layer\(layer)."
    }

    /// Maskers for layer 4 (the paper's placement).
    public init(amplitudePhase: AmplitudePhaseMasker?, channelAttention: ChannelPhaseAttention?,
                metadata: [String: String] = [:]) {
        self.init(layers: [4: LayerMaskers(amplitudePhase: amplitudePhase, channelAttention: channelAttention)], metadata: metadata)
    }

    /// Maskers for several layers; `layers` keys must be 2, 3 or 4.
    public init(layers: [Int: LayerMaskers], metadata: [String: String] = [:]) {
        precondition(layers.keys.allSatisfy(Self.layerRange.contains), "masker layers \(layers.keys.sorted()): HSNet correlates layers 2, 3 and 4")
        self.layers = layers.filter { !$0.value.isEmpty }
        self.metadata = metadata
    }

    /// The layer-4 amplitude-phase masker.
    public var amplitudePhase: AmplitudePhaseMasker? {
        get { layers[4]?.amplitudePhase }
        set { self[layer: 4].amplitudePhase = newValue }
    }

    /// The layer-4 channel phase attention.
    public var channelAttention: ChannelPhaseAttention? {
        get { layers[4]?.channelAttention }
        set { self[layer: 4].channelAttention = newValue }
    }

    /// The maskers of `layer` (both parts nil when it has none).
    public subscript(layer layer: Int) -> LayerMaskers {
        get { layers[layer] ?? LayerMaskers(amplitudePhase: nil, channelAttention: nil) }
        set {
            precondition(Self.layerRange.contains(layer), "masker layer \(layer): HSNet correlates layers 2, 3 and 4")
            layers[layer] = newValue.isEmpty ? nil : newValue
        }
    }

    /// The layers holding maskers, ascending.
    public var layerNumbers: [Int] { layers.keys.sorted() }

    /// The plug-ins in the order the model applies them (layer 2 first; per layer the
    /// amplitude-phase masker, then the channel phase attention).
    public var plugins: [FeaturePlugin] {
        layerNumbers.flatMap { layers[$0]!.plugins }
    }

    /// The state-dict entries, with the reference model's names (behind `layer<L>.` off layer 4).
    public var stateDict: [String: Tensor] {
        var entries: [String: Tensor] = [:]
        for (layer, parts) in layers {
            let prefix = Self.layerPrefix(layer)
            for (name, value) in parts.amplitudePhase?.parameters ?? [] { entries[prefix + Self.amplitudePrefix + name] = value }
            for (name, value) in parts.channelAttention?.parameters ?? [] { entries[prefix + Self.attentionPrefix + name] = value }
        }
        return entries
    }

    /// The plug-in slots the maskers fill, in the model's order: per layer,
    /// `layer<L>.query` and `layer<L>.support` for the amplitude-phase masker, then
    /// `layer<L>.query.masked` and `layer<L>.support.masked` for the channel phase attention.
    public var slotNames: [String] {
        var raw: [String] = []
        var masked: [String] = []
        for layer in layerNumbers {
            if layers[layer]!.amplitudePhase != nil { raw += ["layer\(layer).query", "layer\(layer).support"] }
            if layers[layer]!.channelAttention != nil { masked += ["layer\(layer).query.masked", "layer\(layer).support.masked"] }
        }
        return raw + masked
    }

    /// Metadata describing the maskers, merged over `metadata`: `slots` (comma-separated slot
    /// names), `layers`; `apm`, `apm_mask_shape`, `acpa`, `acpa_channels` for layer 4 and the
    /// same behind `layer3.` / `layer2.` for the layers that have maskers.
    public var fullMetadata: [String: String] {
        var all = metadata
        all["format"] = Self.format
        all["format_version"] = Self.formatVersion
        all["slots"] = slotNames.joined(separator: ",")
        all["layers"] = layerNumbers.map(String.init).joined(separator: ",")
        for layer in Self.layerRange {
            let prefix = Self.layerPrefix(layer)
            for key in Self.describingKeys { all.removeValue(forKey: prefix + key) }
            guard layer == 4 || layers[layer] != nil else { continue }
            if let apm = layers[layer]?.amplitudePhase {
                all[prefix + "apm"] = apm.variant.rawValue
                all[prefix + "apm_mask_shape"] = apm.maskAmplitude.shapeDescription
            } else {
                all[prefix + "apm"] = "none"
            }
            if let acpa = layers[layer]?.channelAttention {
                all[prefix + "acpa"] = "true"
                all[prefix + "acpa_channels"] = String(acpa.channels)
            } else {
                all[prefix + "acpa"] = "false"
            }
        }
        return all
    }

    static let describingKeys = ["apm", "apm_mask_shape", "acpa", "acpa_channels"]

    public func write(to url: URL) throws {
        try AtomicFile.write(try encoded(as: url), to: url)
    }

    /// The file's bytes (for outputs that are published together with others); `url` names
    /// the file in the error for a masker with no part.
    public func encoded(as url: URL) throws -> Data {
        guard !layers.isEmpty else {
            throw InputError("\(url.path): a masker file needs an amplitude-phase masker, channel phase attention, or both")
        }
        return SafetensorsFile(tensors: stateDict, metadata: fullMetadata).encoded()
    }

    public static func read(_ url: URL) throws -> MaskerState {
        // The reader names a file of another kind (a .pt checkpoint) for what it is.
        let file = try SafetensorsFile.read(url)
        do {
            return try MaskerState(stateDict: file.tensors, metadata: file.metadata)
        } catch let error as InputError {
            throw InputError("\(url.path): \(error.message)")
        }
    }

    /// Builds maskers from state-dict entries named as the reference model's, behind
    /// `layer3.`/`layer2.` for those layers (other keys are an error: they would be silently lost).
    public init(stateDict: [String: Tensor], metadata: [String: String] = [:]) throws {
        let names = ["apm.mask_amplitude", "apm.mask_phase", "acpa.phase_attn.0.weight", "acpa.phase_attn.2.weight"]
        let known = Self.layerRange.reversed().flatMap { layer in names.map { Self.layerPrefix(layer) + $0 } }
        let unexpected = stateDict.keys.filter { !known.contains($0) }.sorted()
        guard unexpected.isEmpty else {
            throw InputError("unexpected tensors \(unexpected.joined(separator: ", ")) (a masker file holds \(names.joined(separator: ", ")) for layer 4, and the same behind layer3. or layer2. for those layers)")
        }
        guard !stateDict.isEmpty else {
            throw InputError("holds no masker tensors (expected \(names.joined(separator: ", ")))")
        }
        // A NaN or an infinity in a mask or a weight turns every masked feature into NaN;
        // refused here, it is blamed on the masker and its tensor, not on the features.
        for name in known {
            if let value = stateDict[name], let bad = value.firstNonFiniteIndex() {
                throw InputError("tensor \(name) holds a non-finite value (\(value.scalars[bad])) at flat index \(bad)")
            }
        }
        var layers: [Int: LayerMaskers] = [:]
        for layer in Self.layerRange {
            let prefix = Self.layerPrefix(layer)
            func entry(_ name: String) -> Tensor? { stateDict[prefix + name] }
            var parts = LayerMaskers(amplitudePhase: nil, channelAttention: nil)
            switch (entry("apm.mask_amplitude"), entry("apm.mask_phase")) {
            case let (a?, p?):
                do {
                    parts.amplitudePhase = try AmplitudePhaseMasker(maskAmplitude: a, maskPhase: p)
                } catch let error as InputError {
                    throw prefix.isEmpty ? error : InputError("\(prefix)apm: \(error.message)")
                }
            case (nil, nil): break
            case (nil, _): throw InputError("has \(prefix)apm.mask_phase but no \(prefix)apm.mask_amplitude")
            case (_, nil): throw InputError("has \(prefix)apm.mask_amplitude but no \(prefix)apm.mask_phase")
            }
            switch (entry("acpa.phase_attn.0.weight"), entry("acpa.phase_attn.2.weight")) {
            case let (w1?, w2?):
                do {
                    parts.channelAttention = try ChannelPhaseAttention(firstWeight: w1, secondWeight: w2)
                } catch let error as InputError {
                    throw prefix.isEmpty ? error : InputError("\(prefix)acpa: \(error.message)")
                }
            case (nil, nil): break
            case (nil, _): throw InputError("has \(prefix)acpa.phase_attn.2.weight but no \(prefix)acpa.phase_attn.0.weight")
            case (_, nil): throw InputError("has \(prefix)acpa.phase_attn.0.weight but no \(prefix)acpa.phase_attn.2.weight")
            }
            if let apm = parts.amplitudePhase, let acpa = parts.channelAttention, apm.variant == .perChannel,
               apm.maskChannels != acpa.channels {
                throw InputError("\(prefix)apm masks have \(apm.maskChannels) channels but \(prefix)acpa has \(acpa.channels)")
            }
            if !parts.isEmpty { layers[layer] = parts }
        }
        self.layers = layers
        var describing: Set = ["format", "format_version", "slots", "layers"]
        for layer in Self.layerRange { for key in Self.describingKeys { describing.insert(Self.layerPrefix(layer) + key) } }
        self.metadata = metadata.filter { !describing.contains($0.key) }
    }
}
