import TensorCore

/// The training step of source-domain training (HSNet's `train.py`): the backbone frozen in
/// eval mode, the HPN learner trained on 1-shot episodes with the mean two-class
/// cross-entropy of the query logits at image resolution.
///
/// The backbone never changes, so a training loop keeps each picture's taps and calls
/// `trainingPyramids` and `learnerLossAndGradients` per episode; the pyramids of an episode
/// that recurs can be kept too.
extension HSNet {
    /// The three correlation pyramids [layer 4, layer 3, layer 2] of a query and a support
    /// from their backbone taps, the support's taps masked by `supportMask` [H, W] (0/1) as
    /// in inference. Learner training runs without plug-ins.
    public func trainingPyramids(queryTaps: [Tensor], supportTaps: [Tensor], supportMask: Tensor) throws -> [Tensor] {
        if let slot = plugins.occupied.first?.slot {
            throw InputError("plug-in slot \(slot.name): the learner is trained without plug-ins (HSNet's source-domain training); remove the maskers")
        }
        let layers = backbone.tapLayers
        guard queryTaps.count == layers.count, supportTaps.count == layers.count else {
            throw InputError("expected \(layers.count) backbone taps per image, got \(queryTaps.count) (query) and \(supportTaps.count) (support)")
        }
        var masked = supportTaps
        Self.maskSupportFeatures(&masked, mask: supportMask.reshaped(Array(supportMask.shape.suffix(2))))
        return [4, 3, 2].map { layer in
            let indices = layers.indices.filter { layers[$0] == layer }
            return Hypercorrelation.pyramid(
                query: indices.map { Hypercorrelation.Operand(queryTaps[$0], droppingZeroPositions: false) },
                support: indices.map { Hypercorrelation.Operand(masked[$0], droppingZeroPositions: true) })
        }
    }

    /// The loss of a batch of episodes given by their pyramids ([B, ...] each) and query masks
    /// `queryMasks` [B, H, W] (0/1; HSNet counts PASCAL's boundary as background here), and
    /// the gradient of every learner weight under its checkpoint name (`hpn_learner.` + the
    /// PyTorch name). The logits are resized to H x W (bilinear, align_corners=True) before
    /// the loss, as HSNet trains.
    public func learnerLossAndGradients(pyramids: [Tensor], queryMasks: Tensor) throws
        -> (loss: Float, gradients: [String: Tensor]) {
        guard queryMasks.rank == 3 || queryMasks.rank == 2 else {
            throw InputError("query masks have shape \(queryMasks.shapeDescription), expected [batch, height, width]")
        }
        let masks = queryMasks.rank == 2 ? queryMasks.reshaped([1] + queryMasks.shape) : queryMasks
        if let bad = masks.scalars.first(where: { $0 != 0 && $0 != 1 }) {
            throw InputError("query mask holds \(bad); a training target must hold only 0 (background) and 1 (foreground)")
        }
        let (decoderLogits, tape) = try learner.forwardForTraining(pyramids: pyramids)
        guard decoderLogits.shape[0] == masks.shape[0] else {
            throw InputError("\(decoderLogits.shape[0]) episodes of pyramids but \(masks.shape[0]) query masks")
        }
        let resize = BilinearResize(outputHeight: masks.shape[1], outputWidth: masks.shape[2])
        let (loss, gradLogits) = Self.crossEntropy(logits: resize.forward(decoderLogits), target: masks)
        let gradients = learner.weightGradients(resize.backward(gradLogits, inputShape: decoderLogits.shape), tape: tape)
        return (loss, Dictionary(uniqueKeysWithValues: gradients.map { (HSNet.learnerPrefix + $0.key, $0.value) }))
    }

    /// The state-dict prefix of the learner's parameters in an HSNet checkpoint.
    public static let learnerPrefix = "hpn_learner."
}
