import Foundation
import FreqMask
import TensorCore

/// The training step of target-domain fine-tuning: the loss of one 1-shot episode and its
/// gradient with respect to the parameters of the installed plug-ins only (the backbone and the
/// learner stay frozen, so they pass input gradients and compute no weight gradients).
///
/// Only the paths of the layers that hold plug-ins depend on them: the backbone taps, and for
/// every other layer the support masking, the pyramid and its squeezed encoding, are the same
/// at every step. `MaskerEpisode` holds them, so a fine-tuning loop computes them once per
/// episode and then calls `maskerLossAndGradients(_:)` at every step. With the paper's maskers
/// (layer 4) the layer-3 and layer-2 encodings are kept; with plug-ins on layer 3 too, only the
/// layer-2 one.
public struct MaskerEpisode {
    /// The layers whose paths each step recomputes (those holding plug-ins when the episode was
    /// prepared; layer 4 when none did), ascending.
    public let trainedLayers: [Int]
    /// The raw (backbone) taps of the trained layers, by layer, [1, C, h, w] each in tap order.
    public let queryTaps: [Int: [Tensor]]
    public let supportTaps: [Int: [Tensor]]
    /// The support mask [H, W] (0/1), to mask the trained layers' support taps between the stages.
    public let supportMask: Tensor
    /// The query's ground truth [H, W] as class indices 0/1.
    public let queryMask: Tensor
    /// The squeezed pyramids of the other layers (`HPNLearner.squeezingBlock(forLayer:)`), by layer.
    public let squeezed: [Int: Tensor]
    /// The mixing blocks' first layer on those of them that are a block's finer level
    /// (`HPNLearner.fixedMixingTerms(squeezed:)`), by level.
    public let fixedMixing: [Int: Tensor]
    public var height: Int { queryMask.shape[0] }
    public var width: Int { queryMask.shape[1] }

    /// The memory the episode's tensors hold, in bytes (for caches with a memory budget).
    public var byteCount: Int {
        let tensors = Array(queryTaps.values.joined()) + Array(supportTaps.values.joined()) + [supportMask, queryMask]
            + Array(squeezed.values) + Array(fixedMixing.values)
        return tensors.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }
    }
}

extension HSNet {
    /// The mean 2-class cross-entropy of the episode's logits against `queryMask`, as torch's
    /// `F.cross_entropy` on [1, 2, H, W] logits and a [1, H, W] target, and its gradient with
    /// respect to every parameter of the installed plug-ins, named `<prefix>.<parameter>` with
    /// the prefix of the plug-in (`pluginsByParameterPrefix()`: `apm.mask_amplitude`,
    /// `acpa.phase_attn.0.weight` on layer 4, `layer3.apm.mask_phase` on layer 3).
    ///
    /// `query` and `support` are normalised images [1, 3, H, W]; `supportMask` and `queryMask`
    /// are 0/1 masks [H, W] (or [1, H, W]). Plug-ins may sit in any slot.
    public func maskerLossAndGradients(query: Tensor, support: Tensor, supportMask: Tensor, queryMask: Tensor) throws
        -> (loss: Float, gradients: [String: Tensor]) {
        try maskerLossAndGradients(prepareMaskerEpisode(query: query, support: support,
                                                        supportMask: supportMask, queryMask: queryMask))
    }

    /// Computes what does not depend on the plug-ins: the backbone taps of both images, and
    /// for the layers without plug-ins the pyramids (support masked; on PATNet both images'
    /// taps transformed by their own prototypes' P) and their squeezed encodings.
    public func prepareMaskerEpisode(query: Tensor, support: Tensor, supportMask: Tensor, queryMask: Tensor) throws
        -> MaskerEpisode {
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
        let trained = try trainedLayers()
        var maskedSupport = supportTaps
        Self.maskSupportFeatures(&maskedSupport, mask: supportPlane)
        var squeezed: [Int: Tensor] = [:]
        for layer in [4, 3, 2] where !trained.contains(layer) {
            let indices = layers.indices.filter { layers[$0] == layer }
            let (q, s) = fixedShotOperands(indices: indices, queryTaps: queryTaps, supportTaps: supportTaps,
                                           maskedSupport: maskedSupport, mask: supportPlane)
            let pyramid = Hypercorrelation.pyramid(
                query: q.map { Hypercorrelation.Operand($0, droppingZeroPositions: false) },
                support: s.map { Hypercorrelation.Operand($0, droppingZeroPositions: true) })
            squeezed[layer] = learner.squeezingBlock(forLayer: layer).forward(pyramid)
        }
        var query: [Int: [Tensor]] = [:]
        var support: [Int: [Tensor]] = [:]
        for layer in trained {
            let indices = layers.indices.filter { layers[$0] == layer }
            query[layer] = indices.map { queryTaps[$0] }
            support[layer] = indices.map { supportTaps[$0] }
        }
        return MaskerEpisode(trainedLayers: trained, queryTaps: query, supportTaps: support,
                             supportMask: supportPlane, queryMask: queryPlane, squeezed: squeezed,
                             fixedMixing: learner.fixedMixingTerms(squeezed: squeezed))
    }

    /// One training step's forward and backward on a prepared episode, with the plug-ins'
    /// current parameters. A plug-in's parameter gradients sum over the taps of its layer and
    /// over query and support (one plug-in object serves them all).
    public func maskerLossAndGradients(_ episode: MaskerEpisode) throws -> (loss: Float, gradients: [String: Tensor]) {
        let prefixes = try pluginsByParameterPrefix()
        if let layer = try trainedLayers().first(where: { !episode.trainedLayers.contains($0) }) {
            throw InputError("the episode was prepared for plug-ins on layer\(episode.trainedLayers.count == 1 ? "" : "s") \(episode.trainedLayers.map(String.init).joined(separator: ", ")), the model now has plug-ins on layer \(layer): prepare it again")
        }
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
        // Every tap of the trained layers, flattened (layer 2 first, as the backbone gives them).
        let tapLayers = episode.trainedLayers.flatMap { layer in episode.queryTaps[layer]!.map { _ in layer } }
        var query = episode.trainedLayers.flatMap { episode.queryTaps[$0]! }
        var support = episode.trainedLayers.flatMap { episode.supportTaps[$0]! }
        var queryTapes = [Taped](repeating: [], count: query.count)
        var supportBefore = [Taped](repeating: [], count: query.count)
        var supportAfter = [Taped](repeating: [], count: query.count)
        for (t, layer) in tapLayers.enumerated() {
            try run(PluginSlot(layer: layer, role: .query, stage: .beforeSupportMask), &query[t], &queryTapes[t])
            try run(PluginSlot(layer: layer, role: .query, stage: .afterSupportMask), &query[t], &queryTapes[t])
            try run(PluginSlot(layer: layer, role: .support, stage: .beforeSupportMask), &support[t], &supportBefore[t])
        }
        // PATNet: prototypes of the support taps after the `.support` plug-ins, as `shotFeatures`.
        var shot = prototypeTransformation.map {
            PrototypeTransformation.ShotTape($0, supportTaps: support, tapLayers: tapLayers, mask: episode.supportMask)
        }
        Self.maskSupportFeatures(&support, mask: episode.supportMask)
        for (t, layer) in tapLayers.enumerated() {
            try run(PluginSlot(layer: layer, role: .support, stage: .afterSupportMask), &support[t], &supportAfter[t])
        }
        shot?.apply(query: &query, support: &support)

        let queryOperands = query.map { Hypercorrelation.Operand($0, droppingZeroPositions: false) }
        let supportOperands = support.map { Hypercorrelation.Operand($0, droppingZeroPositions: true) }
        query = []
        support = []
        var pyramids: [Int: Tensor] = [:]
        for layer in episode.trainedLayers {
            let taps = tapLayers.indices.filter { tapLayers[$0] == layer }
            pyramids[layer] = Hypercorrelation.pyramid(query: taps.map { queryOperands[$0] }, support: taps.map { supportOperands[$0] })
        }
        let (decoderLogits, learnerTape) = try learner.forwardForTraining(pyramids: pyramids, squeezed: episode.squeezed,
                                                                          fixedMixing: episode.fixedMixing)
        let resize = BilinearResize(outputHeight: episode.height, outputWidth: episode.width)
        let logits = resize.forward(decoderLogits)
        let (loss, gradLogits) = Self.crossEntropy(logits: logits, target: episode.queryMask)

        // Backward: to every trained layer's pyramid, through its correlation, to its taps.
        let gradPyramids = learner.backwardToPyramids(resize.backward(gradLogits, inputShape: decoderLogits.shape),
                                                      tape: learnerTape)
        var gradQuery = [Tensor](repeating: Tensor(zeros: [0]), count: tapLayers.count)
        var gradSupport = gradQuery
        for layer in episode.trainedLayers {
            let taps = tapLayers.indices.filter { tapLayers[$0] == layer }
            let (q, s) = Hypercorrelation.backward(gradPyramids[layer]!, pyramid: pyramids[layer]!,
                                                   query: taps.map { queryOperands[$0] }, support: taps.map { supportOperands[$0] })
            for (k, t) in taps.enumerated() { (gradQuery[t], gradSupport[t]) = (q[k], s[k]) }
            pyramids[layer] = nil
        }
        let throughPrototypes = shot?.backward(gradQuery: &gradQuery, gradSupport: &gradSupport)
        shot = nil
        var perPlugin: [ObjectIdentifier: [String: Tensor]] = [:]
        func reverse(_ g: inout Tensor, through tapes: Taped) {
            for (plugin, tape) in tapes.reversed() {
                g = plugin.backward(g, tape: tape, parameterGradients: &perPlugin[ObjectIdentifier(plugin), default: [:]])
            }
        }
        for t in tapLayers.indices {
            reverse(&gradQuery[t], through: queryTapes[t])
            reverse(&gradSupport[t], through: supportAfter[t])
        }
        // The masking multiplies by a fixed plane: its adjoint is the same multiplication.
        Self.maskSupportFeatures(&gradSupport, mask: episode.supportMask)
        for (t, g) in (throughPrototypes ?? []).enumerated() { gradSupport[t].addScaled(g) }
        for t in tapLayers.indices { reverse(&gradSupport[t], through: supportBefore[t]) }

        var gradients: [String: Tensor] = [:]
        for (prefix, plugin) in prefixes {
            let reached = perPlugin[ObjectIdentifier(plugin)] ?? [:]
            for (name, value) in plugin.parameters {
                gradients[prefix + "." + name] = reached[name] ?? Tensor(zeros: value.shape)
            }
        }
        return (loss, gradients)
    }

    /// The installed plug-ins keyed by the prefix of their parameters' names, each object once,
    /// in the order the model first runs them: the state-dict prefix of the plug-in
    /// (`stateDictPrefix(of:)`) on layer 4, as the published names have it, and
    /// `layer<L>.` before it on layers 2 and 3 (`layer3.apm`, `layer2.acpa`). A plug-in object
    /// in slots of two layers, or two plug-ins with one prefix, would make the names ambiguous
    /// and are refused.
    public func pluginsByParameterPrefix() throws -> [(prefix: String, plugin: FeaturePlugin)] {
        var layerOf: [ObjectIdentifier: (layer: Int, slot: PluginSlot)] = [:]
        for (slot, installed) in plugins.occupied {
            for plugin in installed {
                if let first = layerOf[ObjectIdentifier(plugin)], first.layer != slot.layer {
                    throw InputError("plug-in \(plugin.kind) sits in slots \(first.slot.name) and \(slot.name): one plug-in object serves one layer (their features differ in shape); install one per layer")
                }
                layerOf[ObjectIdentifier(plugin)] = (slot.layer, layerOf[ObjectIdentifier(plugin)]?.slot ?? slot)
            }
        }
        var seen = Set<String>()
        var result: [(prefix: String, plugin: FeaturePlugin)] = []
        for plugin in plugins.distinctPlugins {
            let layer = layerOf[ObjectIdentifier(plugin)]!.layer
            let prefix = MaskerState.layerPrefix(layer) + Self.stateDictPrefix(of: plugin)
            guard seen.insert(prefix).inserted else {
                throw InputError("two installed plug-ins share the parameter prefix \"\(prefix)\"; their parameters cannot be told apart")
            }
            result.append((prefix, plugin))
        }
        return result
    }

    /// The layers whose paths depend on the plug-ins (those holding any), ascending; layer 4
    /// alone when there are none (the paper's fine-tuning path).
    func trainedLayers() throws -> [Int] {
        _ = try pluginsByParameterPrefix()
        let layers = Set(plugins.occupied.map(\.slot.layer)).sorted()
        return layers.isEmpty ? [4] : layers
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

    /// A mask given as [H, W] or [1, H, W], as [H, W]; throws naming `what` when it does not fit.
    static func maskPlane(_ mask: Tensor, what: String, height: Int, width: Int) throws -> Tensor {
        guard mask.shape == [height, width] || mask.shape == [1, height, width] else {
            throw InputError("\(what) has shape \(mask.shapeDescription), expected [\(height), \(width)] (the image size)")
        }
        return mask.reshaped([height, width])
    }
}
