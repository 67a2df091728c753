import Foundation
import FreqMask
import TensorCore

/// The training step of target-domain fine-tuning: the loss of one 1-shot episode and its
/// gradient with respect to the parameters of the layer-4 plug-ins only (the backbone and the
/// learner stay frozen, so they pass input gradients and compute no weight gradients).
///
/// Only the layer-4 path depends on the plug-ins: the backbone taps, the support masking of the
/// layer-2/3 taps, the layer-3 and layer-2 pyramids and their squeezed encodings are the same at
/// every step. `MaskerEpisode` holds them, so a fine-tuning loop computes them once per episode
/// and then calls `maskerLossAndGradients(_:)` at every step.
public struct MaskerEpisode {
    /// The raw (backbone) layer-4 taps of the query and of the support image, [1, 2048, h, w] each.
    public let queryLayer4: [Tensor]
    public let supportLayer4: [Tensor]
    /// The support mask [H, W] (0/1), to mask the layer-4 support taps between the stages.
    public let supportMask: Tensor
    /// The query's ground truth [H, W] as class indices 0/1.
    public let queryMask: Tensor
    /// The squeezed layer-3 and layer-2 pyramids (`HPNLearner.squeezingBlock(forLayer:)`).
    public let squeezed3: Tensor
    public let squeezed2: Tensor
    public var height: Int { queryMask.shape[0] }
    public var width: Int { queryMask.shape[1] }

    /// The memory the episode's tensors hold, in bytes (for caches with a memory budget).
    public var byteCount: Int {
        let tensors = queryLayer4 + supportLayer4 + [supportMask, queryMask, squeezed3, squeezed2]
        return tensors.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }
    }
}

extension HSNet {
    /// The mean 2-class cross-entropy of the episode's logits against `queryMask`, as torch's
    /// `F.cross_entropy` on [1, 2, H, W] logits and a [1, H, W] target, and its gradient with
    /// respect to every parameter of the installed plug-ins, named `<prefix>.<parameter>` with
    /// the state-dict prefix of the plug-in (`apm.mask_amplitude`, `acpa.phase_attn.0.weight`).
    ///
    /// `query` and `support` are normalised images [1, 3, H, W]; `supportMask` and `queryMask`
    /// are 0/1 masks [H, W] (or [1, H, W]). Plug-ins must sit in layer-4 slots only.
    public func maskerLossAndGradients(query: Tensor, support: Tensor, supportMask: Tensor, queryMask: Tensor) throws
        -> (loss: Float, gradients: [String: Tensor]) {
        try maskerLossAndGradients(prepareMaskerEpisode(query: query, support: support,
                                                        supportMask: supportMask, queryMask: queryMask))
    }

    /// Computes what does not depend on the plug-ins: the backbone taps of both images, the
    /// layer-3 and layer-2 pyramids (support masked, no plug-ins) and their squeezed encodings.
    public func prepareMaskerEpisode(query: Tensor, support: Tensor, supportMask: Tensor, queryMask: Tensor) throws
        -> MaskerEpisode {
        try checkMaskerPlugins()
        guard query.rank == 4 else {
            throw InputError("query image tensor has shape \(query.shapeDescription), expected [1, 3, height, width]")
        }
        let (height, width) = (query.shape[2], query.shape[3])
        let supportPlane = try Self.maskPlane(supportMask, what: "support mask", height: height, width: width)
        let queryPlane = try Self.maskPlane(queryMask, what: "query mask", height: height, width: width)
        try Self.checkEpisode(query: query, supports: support, supportMasks: supportPlane.reshaped([1, height, width]), backbone: backbone.kind)
        guard support.shape[0] == 1 else {
            throw InputError("support image tensor has shape \(support.shapeDescription): the masker gradient takes one support image [1, 3, height, width]")
        }
        let taps = features(of: [query, support])
        return try prepareMaskerEpisode(queryTaps: taps[0], supportTaps: taps[1], supportMask: supportPlane, queryMask: queryPlane)
    }

    /// `prepareMaskerEpisode` from the backbone taps of both images (`features(of:)`), for
    /// callers that keep the taps of images recurring in several episodes. The masks are
    /// [H, W] (or [1, H, W]) at the images' size.
    public func prepareMaskerEpisode(queryTaps: [Tensor], supportTaps: [Tensor], supportMask: Tensor, queryMask: Tensor) throws
        -> MaskerEpisode {
        try checkMaskerPlugins()
        let layers = backbone.tapLayers
        guard queryTaps.count == layers.count, supportTaps.count == layers.count else {
            throw InputError("expected \(layers.count) backbone taps per image, got \(queryTaps.count) (query) and \(supportTaps.count) (support)")
        }
        let (height, width) = queryMask.rank == 3 ? (queryMask.shape[1], queryMask.shape[2])
                                                  : (queryMask.shape.first ?? 0, queryMask.shape.last ?? 0)
        let supportPlane = try Self.maskPlane(supportMask, what: "support mask", height: height, width: width)
        let queryPlane = try Self.maskPlane(queryMask, what: "query mask", height: height, width: width)
        if let bad = queryPlane.scalars.first(where: { $0 != 0 && $0 != 1 }) {
            throw InputError("query mask holds \(bad); a training target must hold only 0 (background) and 1 (foreground)")
        }
        let expected = featureSize(layer: 4, imageHeight: height, imageWidth: width)
        let layer4Index = layers.lastIndex(of: 4)!
        for (what, taps) in [("query", queryTaps), ("support", supportTaps)]
        where taps[layer4Index].rank != 4 || Array(taps[layer4Index].shape.suffix(2)) != [expected.height, expected.width] {
            throw InputError("the \(what) image's layer-4 taps are \(taps[layer4Index].shapeDescription), but \(height) x \(width) masks need \(expected.height) x \(expected.width) features")
        }
        var maskedSupport = supportTaps
        Self.maskSupportFeatures(&maskedSupport, mask: supportPlane)
        var squeezed: [Int: Tensor] = [:]
        for layer in [3, 2] {
            let indices = layers.indices.filter { layers[$0] == layer }
            let pyramid = Hypercorrelation.pyramid(
                query: indices.map { Hypercorrelation.Operand(queryTaps[$0], droppingZeroPositions: false) },
                support: indices.map { Hypercorrelation.Operand(maskedSupport[$0], droppingZeroPositions: true) })
            squeezed[layer] = learner.squeezingBlock(forLayer: layer).forward(pyramid)
        }
        let layer4 = layers.indices.filter { layers[$0] == 4 }
        return MaskerEpisode(queryLayer4: layer4.map { queryTaps[$0] }, supportLayer4: layer4.map { supportTaps[$0] },
                             supportMask: supportPlane, queryMask: queryPlane,
                             squeezed3: squeezed[3]!, squeezed2: squeezed[2]!)
    }

    /// One training step's forward and backward on a prepared episode, with the plug-ins'
    /// current parameters. Parameter gradients sum over the three layer-4 taps and over query
    /// and support (one plug-in object serves them all).
    public func maskerLossAndGradients(_ episode: MaskerEpisode) throws -> (loss: Float, gradients: [String: Tensor]) {
        try checkMaskerPlugins()
        // Forward through the plug-ins, keeping their tapes, in the inference path's order:
        // `.query`/`.support` plug-ins, the support masking, the `.masked` plug-ins.
        typealias Taped = [(plugin: FeaturePlugin, tape: PluginTape)]
        func run(_ slot: PluginSlot, _ x: inout Tensor, _ tapes: inout Taped) throws {
            for plugin in plugins[slot] {
                do {
                    let (output, tape) = try plugin.forwardForTraining(x)
                    x = output
                    tapes.append((plugin, tape))
                } catch let error as InputError {
                    throw InputError("plug-in \(plugin.kind) in slot \(slot.name): \(error.message)")
                }
            }
        }
        let taps = episode.queryLayer4.count
        var queryTapes = [Taped](repeating: [], count: taps)
        var supportBefore = [Taped](repeating: [], count: taps)
        var supportAfter = [Taped](repeating: [], count: taps)
        var query = episode.queryLayer4
        var support = episode.supportLayer4
        for t in 0..<taps {
            try run(.layer4Query, &query[t], &queryTapes[t])
            try run(.layer4QueryMasked, &query[t], &queryTapes[t])
            try run(.layer4Support, &support[t], &supportBefore[t])
        }
        Self.maskSupportFeatures(&support, mask: episode.supportMask)
        for t in 0..<taps { try run(.layer4SupportMasked, &support[t], &supportAfter[t]) }

        let queryOperands = query.map { Hypercorrelation.Operand($0, droppingZeroPositions: false) }
        let supportOperands = support.map { Hypercorrelation.Operand($0, droppingZeroPositions: true) }
        query = []
        support = []
        let pyramid = Hypercorrelation.pyramid(query: queryOperands, support: supportOperands)
        let (decoderLogits, learnerTape) = try learner.forwardForTraining(
            layer4Pyramid: pyramid, squeezed3: episode.squeezed3, squeezed2: episode.squeezed2)
        let resize = BilinearResize(outputHeight: episode.height, outputWidth: episode.width)
        let logits = resize.forward(decoderLogits)
        let (loss, gradLogits) = Self.crossEntropy(logits: logits, target: episode.queryMask)

        // Backward.
        var grad = resize.backward(gradLogits, inputShape: decoderLogits.shape)
        grad = learner.backwardToLayer4Pyramid(grad, tape: learnerTape)
        var (gradQuery, gradSupport) = Hypercorrelation.backward(grad, pyramid: pyramid, query: queryOperands,
                                                                 support: supportOperands)
        var perPlugin: [ObjectIdentifier: [String: Tensor]] = [:]
        func reverse(_ g: inout Tensor, through tapes: Taped) {
            for (plugin, tape) in tapes.reversed() {
                g = plugin.backward(g, tape: tape, parameterGradients: &perPlugin[ObjectIdentifier(plugin), default: [:]])
            }
        }
        for t in 0..<taps {
            reverse(&gradQuery[t], through: queryTapes[t])
            reverse(&gradSupport[t], through: supportAfter[t])
        }
        // The masking multiplies by a fixed plane: its adjoint is the same multiplication.
        Self.maskSupportFeatures(&gradSupport, mask: episode.supportMask)
        for t in 0..<taps { reverse(&gradSupport[t], through: supportBefore[t]) }

        var gradients: [String: Tensor] = [:]
        for plugin in plugins.distinctPlugins {
            let prefix = Self.stateDictPrefix(of: plugin)
            let reached = perPlugin[ObjectIdentifier(plugin)] ?? [:]
            for (name, value) in plugin.parameters {
                gradients[prefix + "." + name] = reached[name] ?? Tensor(zeros: value.shape)
            }
        }
        return (loss, gradients)
    }

    /// The state-dict prefix under which a plug-in's parameters are saved: `apm` for the
    /// amplitude-phase masker, `acpa` for channel phase attention (the reference model's
    /// module names), the plug-in's `kind` otherwise.
    public static func stateDictPrefix(of plugin: FeaturePlugin) -> String {
        switch plugin {
        case is AmplitudePhaseMasker: return String(MaskerState.amplitudePrefix.dropLast())
        case is ChannelPhaseAttention: return String(MaskerState.attentionPrefix.dropLast())
        default: return plugin.kind
        }
    }

    /// The mean cross-entropy of 2-class logits [B, 2, H, W] against 0/1 targets [B, H, W]
    /// (or [H, W] when B is 1), as torch's `F.cross_entropy` averages over every pixel of the
    /// batch, accumulated in double precision, and its gradient (softmax − onehot) / (B H W).
    public static func crossEntropy(logits: Tensor, target: Tensor) -> (loss: Float, gradient: Tensor) {
        precondition(logits.rank == 4 && logits.shape[1] == 2
                     && target.count == logits.shape[0] * logits.shape[2] * logits.shape[3],
                     "cross-entropy: logits \(logits.shapeDescription) and target \(target.shapeDescription) do not fit")
        let plane = logits.shape[2] * logits.shape[3]
        let scale = 1 / Float(target.count)
        var total = 0.0
        let gradient = Tensor(shape: logits.shape) { out in
            logits.withUnsafeBufferPointer { l in
                target.withUnsafeBufferPointer { y in
                    for b in 0..<logits.shape[0] {
                        let (background, foreground) = (2 * b * plane, (2 * b + 1) * plane)
                        for i in 0..<plane {
                            let (a, c) = (l[background + i], l[foreground + i])
                            let m = max(a, c)
                            let (ea, ec) = (exp(Double(a - m)), exp(Double(c - m)))
                            let logSum = Double(m) + log(ea + ec)
                            let isForeground = y[b * plane + i] != 0
                            total += logSum - Double(isForeground ? c : a)
                            let p1 = Float(ec / (ea + ec))
                            out[background + i] = ((1 - p1) - (isForeground ? 0 : 1)) * scale
                            out[foreground + i] = (p1 - (isForeground ? 1 : 0)) * scale
                        }
                    }
                }
            }
        }
        return (Float(total / Double(target.count)), gradient)
    }

    /// Plug-ins in layer-2/3 slots would change the layer-2/3 pyramids, which the learner's
    /// backward does not reach (and which `MaskerEpisode` keeps fixed).
    func checkMaskerPlugins() throws {
        if let misplaced = plugins.occupied.first(where: { $0.slot.layer != 4 }) {
            throw InputError("plug-in slot \(misplaced.slot.name): masker gradients cover plug-ins on layer 4 only (layer4.query, layer4.support and their .masked slots)")
        }
    }

    /// A mask given as [H, W] or [1, H, W], as [H, W]; throws naming `what` when it does not fit.
    static func maskPlane(_ mask: Tensor, what: String, height: Int, width: Int) throws -> Tensor {
        guard mask.shape == [height, width] || mask.shape == [1, height, width] else {
            throw InputError("\(what) has shape \(mask.shapeDescription), expected [\(height), \(width)] (the image size)")
        }
        return mask.reshaped([height, width])
    }
}
