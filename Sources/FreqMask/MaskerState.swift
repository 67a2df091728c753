import Foundation
import TensorCore

/// A masker state file: safetensors whose keys are the reference model's own
/// (`apm.mask_amplitude`, `apm.mask_phase`, `acpa.phase_attn.0.weight`,
/// `acpa.phase_attn.2.weight`), so a PyTorch user can `load_state_dict(..., strict=False)` it.
/// Either part may be absent. The metadata says what is inside; callers add their own
/// (training settings, loss curves) under other keys.
public struct MaskerState {
    public static let format = "cdfss-masker"
    public static let formatVersion = "1"
    public static let amplitudePrefix = "apm."
    public static let attentionPrefix = "acpa."

    public var amplitudePhase: AmplitudePhaseMasker?
    public var channelAttention: ChannelPhaseAttention?
    /// Metadata beyond what describes the maskers (kept on read, written back on write).
    public var metadata: [String: String]

    public init(amplitudePhase: AmplitudePhaseMasker?, channelAttention: ChannelPhaseAttention?,
                metadata: [String: String] = [:]) {
        self.amplitudePhase = amplitudePhase
        self.channelAttention = channelAttention
        self.metadata = metadata
    }

    /// The plug-ins in the order the model applies them.
    public var plugins: [FeaturePlugin] {
        [amplitudePhase as FeaturePlugin?, channelAttention].compactMap { $0 }
    }

    /// The state-dict entries, with the reference model's names.
    public var stateDict: [String: Tensor] {
        var entries: [String: Tensor] = [:]
        for (name, value) in amplitudePhase?.parameters ?? [] { entries[Self.amplitudePrefix + name] = value }
        for (name, value) in channelAttention?.parameters ?? [] { entries[Self.attentionPrefix + name] = value }
        return entries
    }

    /// Metadata describing the maskers, merged over `metadata`.
    public var fullMetadata: [String: String] {
        var all = metadata
        all["format"] = Self.format
        all["format_version"] = Self.formatVersion
        if let apm = amplitudePhase {
            all["apm"] = apm.variant.rawValue
            all["apm_mask_shape"] = apm.maskAmplitude.shapeDescription
        } else {
            all["apm"] = "none"
            all.removeValue(forKey: "apm_mask_shape")
        }
        if let acpa = channelAttention {
            all["acpa"] = "true"
            all["acpa_channels"] = String(acpa.channels)
        } else {
            all["acpa"] = "false"
            all.removeValue(forKey: "acpa_channels")
        }
        return all
    }

    public func write(to url: URL) throws {
        try AtomicFile.write(try encoded(as: url), to: url)
    }

    /// The file's bytes (for outputs that are published together with others); `url` names
    /// the file in the error for a masker with no part.
    public func encoded(as url: URL) throws -> Data {
        guard amplitudePhase != nil || channelAttention != nil else {
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

    /// Builds maskers from state-dict entries named as the reference model's (other keys are
    /// an error: they would be silently lost).
    public init(stateDict: [String: Tensor], metadata: [String: String] = [:]) throws {
        let known = ["apm.mask_amplitude", "apm.mask_phase", "acpa.phase_attn.0.weight", "acpa.phase_attn.2.weight"]
        let unexpected = stateDict.keys.filter { !known.contains($0) }.sorted()
        guard unexpected.isEmpty else {
            throw InputError("unexpected tensors \(unexpected.joined(separator: ", ")) (a masker file holds \(known.joined(separator: ", ")))")
        }
        guard !stateDict.isEmpty else {
            throw InputError("holds no masker tensors (expected \(known.joined(separator: ", ")))")
        }
        // A NaN or an infinity in a mask or a weight turns every masked feature into NaN;
        // refused here, it is blamed on the masker and its tensor, not on the features.
        for name in known {
            if let value = stateDict[name], let bad = value.firstNonFiniteIndex() {
                throw InputError("tensor \(name) holds a non-finite value (\(value.scalars[bad])) at flat index \(bad)")
            }
        }
        let amplitude = stateDict["apm.mask_amplitude"]
        let phase = stateDict["apm.mask_phase"]
        switch (amplitude, phase) {
        case let (a?, p?): amplitudePhase = try AmplitudePhaseMasker(maskAmplitude: a, maskPhase: p)
        case (nil, nil): amplitudePhase = nil
        case (nil, _): throw InputError("has apm.mask_phase but no apm.mask_amplitude")
        case (_, nil): throw InputError("has apm.mask_amplitude but no apm.mask_phase")
        }
        let first = stateDict["acpa.phase_attn.0.weight"]
        let second = stateDict["acpa.phase_attn.2.weight"]
        switch (first, second) {
        case let (w1?, w2?): channelAttention = try ChannelPhaseAttention(firstWeight: w1, secondWeight: w2)
        case (nil, nil): channelAttention = nil
        case (nil, _): throw InputError("has acpa.phase_attn.2.weight but no acpa.phase_attn.0.weight")
        case (_, nil): throw InputError("has acpa.phase_attn.0.weight but no acpa.phase_attn.2.weight")
        }
        if let apm = amplitudePhase, let acpa = channelAttention, apm.variant == .perChannel,
           apm.maskChannels != acpa.channels {
            throw InputError("apm masks have \(apm.maskChannels) channels but acpa has \(acpa.channels)")
        }
        let describing: Set = ["format", "format_version", "apm", "apm_mask_shape", "acpa", "acpa_channels"]
        self.metadata = metadata.filter { !describing.contains($0.key) }
    }
}
