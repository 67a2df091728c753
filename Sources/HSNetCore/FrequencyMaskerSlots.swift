import FreqMask
import TensorCore

/// The frequency maskers in HSNet's plug-in slots. The paper puts one amplitude-phase masker on
/// the raw layer-4 features of query and support (slots `layer4.query`, `layer4.support`), then
/// the support masking, then one channel phase attention on both (`layer4.query.masked`,
/// `layer4.support.masked`). The same placement works at every tap group: a layer's maskers are
/// shared by its taps and by both images, and each layer has its own, shaped for its features
/// (ResNet: 512, 1024, 2048 channels on layers 2, 3, 4; 50 x 50, 25 x 25, 13 x 13 at 400 x 400;
/// VGG-16: 512 channels, 50 x 50, 25 x 25, 12 x 12).
extension HSNet {
    /// The channels of the taps of `layer` (2, 3 or 4): what a masker there must fit.
    public func tapChannels(layer: Int) -> Int {
        backbone.kind.channels(layer: layer)
    }

    /// The four slots of a layer's frequency maskers: APM's two, then ACPA's two.
    static func frequencyMaskerSlots(layer: Int) -> (amplitudePhase: [PluginSlot], channelAttention: [PluginSlot]) {
        let slot = { (role: PluginSlot.Role, stage: PluginSlot.Stage) in try! PluginSlot(layer: layer, role: role, stage: stage) }
        return ([slot(.query, .beforeSupportMask), slot(.support, .beforeSupportMask)],
                [slot(.query, .afterSupportMask), slot(.support, .afterSupportMask)])
    }

    /// Installs `amplitudePhase` and `channelAttention` (either may be nil) in the slots of
    /// `layer` (default 4, the paper's), replacing whatever those four slots held, after
    /// checking that they fit that layer's features for an `imageSize` x `imageSize` input
    /// (its channels; the masks' H x W must be the feature size, 13 x 13 on layer 4 at 400 x 400).
    public func installFrequencyMaskers(amplitudePhase: AmplitudePhaseMasker?, channelAttention: ChannelPhaseAttention?,
                                        layer: Int = 4, imageSize: Int) throws {
        try checkFrequencyMaskers(amplitudePhase: amplitudePhase, channelAttention: channelAttention, layer: layer, imageSize: imageSize)
        let slots = Self.frequencyMaskerSlots(layer: layer)
        for slot in slots.amplitudePhase + slots.channelAttention { plugins[slot] = [] }
        if let amplitudePhase { plugins.install(amplitudePhase, in: slots.amplitudePhase) }
        if let channelAttention { plugins.install(channelAttention, in: slots.channelAttention) }
    }

    /// Installs every layer's maskers of `state` at its layer, and clears the frequency-masker
    /// slots of the layers it has none for; nothing changes when a part does not fit its layer.
    public func installFrequencyMaskers(_ state: MaskerState, imageSize: Int) throws {
        for layer in state.layerNumbers {
            let parts = state[layer: layer]
            try checkFrequencyMaskers(amplitudePhase: parts.amplitudePhase, channelAttention: parts.channelAttention,
                                      layer: layer, imageSize: imageSize)
        }
        for layer in MaskerState.layerRange {
            let parts = state[layer: layer]
            try installFrequencyMaskers(amplitudePhase: parts.amplitudePhase, channelAttention: parts.channelAttention,
                                        layer: layer, imageSize: imageSize)
        }
    }

    /// Why the maskers do not fit `layer`'s features at `imageSize`, as an `InputError` naming
    /// the part with its key prefix (`apm`, `layer3.acpa`).
    func checkFrequencyMaskers(amplitudePhase: AmplitudePhaseMasker?, channelAttention: ChannelPhaseAttention?,
                               layer: Int, imageSize: Int) throws {
        guard MaskerState.layerRange.contains(layer) else {
            throw InputError("maskers for layer \(layer): HSNet correlates layers 2, 3 and 4")
        }
        let channels = tapChannels(layer: layer)
        let prefix = MaskerState.layerPrefix(layer)
        if let apm = amplitudePhase {
            let size = featureSize(layer: layer, imageHeight: imageSize, imageWidth: imageSize)
            guard apm.height == size.height, apm.width == size.width else {
                throw InputError("\(prefix)apm masks are \(apm.height) x \(apm.width) but the layer-\(layer) features of a \(imageSize) x \(imageSize) image are \(size.height) x \(size.width)"
                    + Self.imageSizeHint(layer: layer, height: apm.height, width: apm.width, backbone: backbone.kind))
            }
            guard apm.variant == .shared || apm.maskChannels == channels else {
                throw InputError("\(prefix)apm masks have \(apm.maskChannels) channels, the layer-\(layer) features have \(channels)"
                    + layerHint(channels: apm.maskChannels, layer: layer))
            }
        }
        if let acpa = channelAttention, acpa.channels != channels {
            throw InputError("\(prefix)acpa works on \(acpa.channels) channels, the layer-\(layer) features have \(channels)"
                + layerHint(channels: acpa.channels, layer: layer))
        }
    }

    /// Fresh maskers for each of `layers`, shaped for that layer's features at `imageSize`:
    /// an amplitude-phase masker of `amplitudePhase` variant (nil: none) with masks at 1 and,
    /// with `channelAttention`, a channel phase attention whose weights are drawn as torch's
    /// nn.Linear default from one generator seeded with `seed`, layer 4 first and then the
    /// finer layers (so layer 4's weights are the same whichever other layers are chosen).
    public func freshFrequencyMaskers(layers: [Int], amplitudePhase: AmplitudePhaseMasker.Variant?, channelAttention: Bool,
                                      imageSize: Int, seed: UInt64) throws -> MaskerState {
        guard amplitudePhase != nil || channelAttention else { throw InputError("nothing to make: no amplitude-phase masker and no channel attention") }
        guard !layers.isEmpty else { throw InputError("no layer given for the maskers (layer2, layer3, layer4)") }
        var generator = SeededGenerator(seed: seed)
        var parts: [Int: MaskerState.LayerMaskers] = [:]
        for layer in Set(layers).sorted(by: >) {
            guard MaskerState.layerRange.contains(layer) else {
                throw InputError("maskers for layer \(layer): HSNet correlates layers 2, 3 and 4")
            }
            let channels = tapChannels(layer: layer)
            let size = featureSize(layer: layer, imageHeight: imageSize, imageWidth: imageSize)
            parts[layer] = MaskerState.LayerMaskers(
                amplitudePhase: amplitudePhase.map { AmplitudePhaseMasker(variant: $0, channels: channels, height: size.height, width: size.width) },
                channelAttention: channelAttention ? ChannelPhaseAttention(channels: channels, generator: &generator) : nil)
        }
        return MaskerState(layers: parts)
    }

    /// The layers named in `text`, a comma-separated list of `layer2`, `layer3`, `layer4`
    /// (`--slots layer3,layer4`), ascending; `option` names the argument in errors.
    public static func maskerLayers(_ text: String, option: String = "--slots") throws -> [Int] {
        var layers: [Int] = []
        for name in text.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard name.hasPrefix("layer"), let layer = Int(name.dropFirst(5)), MaskerState.layerRange.contains(layer) else {
                throw InputError("\(option) \"\(text)\": \"\(name)\" is not a tap group (expected layer2, layer3 or layer4, comma-separated)")
            }
            guard !layers.contains(layer) else { throw InputError("\(option) \"\(text)\": layer\(layer) is named twice") }
            layers.append(layer)
        }
        return layers.sorted()
    }

    /// Builds the maskers from the checkpoint's entries (`pluginTensors`: `apm.*`, `acpa.*`,
    /// `layer3.apm.*`, ...) and installs each part at its layer; returns them, or nil when the
    /// checkpoint has none.
    @discardableResult
    public func installCheckpointMaskers(imageSize: Int) throws -> MaskerState? {
        let prefixes = MaskerState.layerRange.flatMap { layer in
            [MaskerState.amplitudePrefix, MaskerState.attentionPrefix].map { MaskerState.layerPrefix(layer) + $0 }
        }
        let tensors = pluginTensors.filter { entry in prefixes.contains { entry.key.hasPrefix($0) } }
        guard !tensors.isEmpty else { return nil }
        let state = try MaskerState(stateDict: tensors)
        try installFrequencyMaskers(state, imageSize: imageSize)
        return state
    }

    /// ", image sizes 385...416 give 13 x 13", or empty when no square size does.
    static func imageSizeHint(layer: Int, height: Int, width: Int, backbone kind: BackboneKind = .resnet50) -> String {
        guard height == width else { return "" }
        let sizes = (1...8192).filter { kind.featureSize(layer: layer, imageHeight: $0, imageWidth: $0).height == height }
        guard let low = sizes.first, let high = sizes.last else { return "" }
        return "; image sizes \(low)...\(high) give \(height) x \(width)"
    }

    /// " (the channels of layer 3: a masker for another layer?)", or empty.
    func layerHint(channels: Int, layer: Int) -> String {
        guard let other = (2...4).first(where: { $0 != layer && tapChannels(layer: $0) == channels }) else { return "" }
        return " (\(channels) is layer \(other)'s: a masker made for layer \(other)?)"
    }
}
