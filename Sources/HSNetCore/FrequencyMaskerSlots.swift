import FreqMask
import TensorCore

/// The paper's placement of the frequency maskers in HSNet: one amplitude-phase masker on the
/// raw layer-4 features of query and support (slots `layer4.query`, `layer4.support`), then
/// the support masking, then one channel phase attention on both (slots
/// `layer4.query.masked`, `layer4.support.masked`). Each module is shared by the three layer-4
/// taps and by both images.
extension HSNet {
    /// Installs `amplitudePhase` and `channelAttention` (either may be nil) in the layer-4 slots,
    /// replacing whatever those four slots held, after checking that they fit the layer-4
    /// features of an `imageSize` x `imageSize` input (2048 channels; the masks' H x W must be
    /// the feature size, 13 x 13 at 400 x 400).
    public func installFrequencyMaskers(amplitudePhase: AmplitudePhaseMasker?, channelAttention: ChannelPhaseAttention?,
                                        imageSize: Int) throws {
        let channels = backbone.kind.channels(layer: 4)
        if let apm = amplitudePhase {
            let size = featureSize(layer: 4, imageHeight: imageSize, imageWidth: imageSize)
            guard apm.height == size.height, apm.width == size.width else {
                throw InputError("apm masks are \(apm.height) x \(apm.width) but the layer-4 features of a \(imageSize) x \(imageSize) image are \(size.height) x \(size.width)"
                    + Self.imageSizeHint(forLayer4Height: apm.height, width: apm.width, backbone: backbone.kind))
            }
            guard apm.variant == .shared || apm.maskChannels == channels else {
                throw InputError("apm masks have \(apm.maskChannels) channels, the layer-4 features have \(channels)")
            }
        }
        if let acpa = channelAttention, acpa.channels != channels {
            throw InputError("acpa works on \(acpa.channels) channels, the layer-4 features have \(channels)")
        }
        for slot in [PluginSlot.layer4Query, .layer4Support, .layer4QueryMasked, .layer4SupportMasked] {
            plugins[slot] = []
        }
        if let amplitudePhase { plugins.install(amplitudePhase, in: [.layer4Query, .layer4Support]) }
        if let channelAttention { plugins.install(channelAttention, in: [.layer4QueryMasked, .layer4SupportMasked]) }
    }

    /// Builds the maskers from the checkpoint's `apm.*` / `acpa.*` entries (`pluginTensors`)
    /// and installs them; returns them, or nil when the checkpoint has none.
    @discardableResult
    public func installCheckpointMaskers(imageSize: Int) throws -> MaskerState? {
        let tensors = pluginTensors.filter { $0.key.hasPrefix(MaskerState.amplitudePrefix) || $0.key.hasPrefix(MaskerState.attentionPrefix) }
        guard !tensors.isEmpty else { return nil }
        let state = try MaskerState(stateDict: tensors)
        try installFrequencyMaskers(amplitudePhase: state.amplitudePhase, channelAttention: state.channelAttention,
                                    imageSize: imageSize)
        return state
    }

    /// ", the image sizes 385...416 give 13 x 13", or empty when no square size does.
    static func imageSizeHint(forLayer4Height height: Int, width: Int, backbone kind: BackboneKind = .resnet50) -> String {
        guard height == width else { return "" }
        let sizes = (1...8192).filter { kind.featureSize(layer: 4, imageHeight: $0, imageWidth: $0).height == height }
        guard let low = sizes.first, let high = sizes.last else { return "" }
        return "; image sizes \(low)...\(high) give \(height) x \(width)"
    }
}
