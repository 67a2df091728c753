import TensorCore

// The learner's backward, beside the forward passes that keep what it needs. Two kinds of
// callers: masker fine-tuning and anything else that trains what lies before the correlation
// (the learner frozen: only the gradients for the pyramids whose features carry trainable
// parameters, layer 4 in the paper, any of 4, 3 and 2 in general), and learner training
// (every weight gradient, no pyramid gradient: the correlations come from the frozen backbone).

extension HPNLearner.BuildingBlock {
    /// What the block's backward needs: per layer the convolution's input, its output
    /// (GroupNorm's input) and the ReLU's output.
    public struct Tape {
        /// The block's input; kept only when weight gradients are wanted (the first
        /// convolution's weight gradient needs it; its input gradient needs only the shape).
        let input: Tensor?
        let inputShape: [Int]
        /// The input is the coarse level of an upsampled sum (`forwardForTraining(upsampling:fixedFirst:)`).
        var upsampledInput = false
        var normInputs: [Tensor] = []
        var outputs: [Tensor] = []
    }

    /// `forward`, keeping what `backward` needs.
    public func forwardForTraining(_ x: Tensor, keepingInput: Bool = false) -> (output: Tensor, tape: Tape) {
        run(x, tape: Tape(input: keepingInput ? x : nil, inputShape: x.shape)) { convolutions[0].forward($0) }
    }

    /// `forward` on up(coarse) + fine, the coarse level resized over the query axes, given
    /// `fixedFirst`, the first convolution's output on the fine level: that convolution is
    /// split over the resize (`CenterPivotConv4d.forwardUpsampled`), and `backward` gives the
    /// coarse level's gradient. For a fine level fixed over many calls (fine-tuning).
    public func forwardForTraining(upsampling coarse: Tensor, fixedFirst: Tensor) -> (output: Tensor, tape: Tape) {
        run(coarse, tape: Tape(input: nil, inputShape: coarse.shape, upsampledInput: true)) {
            convolutions[0].forwardUpsampled($0, adding: fixedFirst)
        }
    }

    private func run(_ x: Tensor, tape start: Tape, firstConvolution: (Tensor) -> Tensor) -> (output: Tensor, tape: Tape) {
        var tape = start
        var h = x
        for (layer, (convolution, norm)) in zip(convolutions, norms).enumerated() {
            let convolved = layer == 0 ? firstConvolution(h) : convolution.forward(h)
            h = norm.forward(convolved)
            ReLU.apply(to: &h)
            tape.normInputs.append(convolved)
            tape.outputs.append(h)
        }
        return (h, tape)
    }

    /// The gradient for the block's input (nil when `inputGradient` is false), and with a
    /// non-nil `parameters` the gradients of every weight, added under `prefix` + the
    /// PyTorch names (`0.conv1.weight`, `1.weight` for the GroupNorm after it, ...).
    public func backward(_ gradOutput: Tensor, tape: Tape, inputGradient: Bool = true,
                         parameters: UnsafeMutablePointer<[String: Tensor]>? = nil, prefix: String = "") -> Tensor? {
        var grad = gradOutput
        for layer in convolutions.indices.reversed() {
            grad = ReLU.backward(grad, output: tape.outputs[layer])
            if let parameters {
                let norm = norms[layer].parameterGradients(grad, input: tape.normInputs[layer])
                parameters.pointee["\(prefix)\(3 * layer + 1).weight"] = norm.weight
                parameters.pointee["\(prefix)\(3 * layer + 1).bias"] = norm.bias
            }
            grad = norms[layer].backwardInput(grad, input: tape.normInputs[layer])
            if let parameters {
                guard let input = layer == 0 ? tape.input : tape.outputs[layer - 1] else {
                    preconditionFailure("BuildingBlock.backward: weight gradients need forwardForTraining(keepingInput: true)")
                }
                let conv = convolutions[layer].parameterGradients(grad, input: input)
                let name = "\(prefix)\(3 * layer)"
                parameters.pointee[name + ".conv1.weight"] = conv.conv1Weight
                parameters.pointee[name + ".conv1.bias"] = conv.conv1Bias
                parameters.pointee[name + ".conv2.weight"] = conv.conv2Weight
                parameters.pointee[name + ".conv2.bias"] = conv.conv2Bias
            }
            if layer == 0 && !inputGradient { return nil }
            if layer == 0 && tape.upsampledInput {
                return convolutions[0].backwardInputUpsampled(grad, coarseShape: tape.inputShape)
            }
            let inputShape = layer == 0 ? tape.inputShape : tape.outputs[layer - 1].shape
            grad = convolutions[layer].backwardInput(grad, inputShape: inputShape)
        }
        return grad
    }

    /// The gradient for the block's input; the weights are frozen.
    public func backwardInput(_ gradOutput: Tensor, tape: Tape) -> Tensor {
        backward(gradOutput, tape: tape)!
    }
}

extension HPNLearner {
    /// What the learner's backward needs from a training forward.
    public struct Tape {
        /// The squeezing blocks' tapes, by layer: all three, or only those of the pyramids
        /// given unsqueezed (the others' encodings were given squeezed, computed once).
        let squeeze: [Int: BuildingBlock.Tape]
        let squeezedShapes: [Int: [Int]]
        let mix43: BuildingBlock.Tape
        let mixed43Shape: [Int]
        let mix432: BuildingBlock.Tape
        let mixed432Shape: [Int]
        /// The decoder's convolution inputs: the encoding, the ReLU outputs after decoder1.0
        /// and decoder1.2, the upsampled map, the ReLU output after decoder2.0.
        let decoderInputs: [Tensor]
        let weightGradients: Bool
    }

    /// The learner on the three pyramids [layer 4, layer 3, layer 2], keeping what `backward`
    /// needs for every weight gradient (learner training). Logits [B, 2, 2 Wa2, 2 Wa2].
    public func forwardForTraining(pyramids: [Tensor]) throws -> (logits: Tensor, tape: Tape) {
        precondition(pyramids.count == 3)
        var squeeze: [Int: BuildingBlock.Tape] = [:]
        var squeezed: [Int: Tensor] = [:]
        for (layer, pyramid) in zip([4, 3, 2], pyramids) {
            (squeezed[layer], squeeze[layer]) = squeezingBlock(forLayer: layer).forwardForTraining(pyramid, keepingInput: true)
        }
        return try mixAndDecodeForTraining(squeezed: squeezed, squeeze: squeeze, weightGradients: true)
    }

    /// The learner's forward when only some pyramids change between calls (fine-tuning
    /// plug-ins that sit on those layers): `pyramids` by layer go through their squeezing
    /// blocks keeping their tapes, `squeezed` gives the other layers' encodings, computed once
    /// (`squeezingBlock(forLayer:)`). Together they cover layers 4, 3 and 2, each once.
    /// `fixedMixing`, from `fixedMixingTerms(squeezed:)` on the same encodings, lets the mixing
    /// blocks take their first layer's part on those levels as computed once too. The
    /// backward (`backwardToPyramids`) gives the gradients for `pyramids`; no weight gradients.
    public func forwardForTraining(pyramids: [Int: Tensor], squeezed given: [Int: Tensor],
                                   fixedMixing: [Int: Tensor] = [:]) throws -> (logits: Tensor, tape: Tape) {
        precondition(Set(pyramids.keys).isDisjoint(with: given.keys) && Set(pyramids.keys).union(given.keys) == [2, 3, 4],
                     "HPNLearner.forwardForTraining: layers \(pyramids.keys.sorted()) as pyramids and \(given.keys.sorted()) squeezed must cover 2, 3 and 4 once each")
        var squeezed = given
        var squeeze: [Int: BuildingBlock.Tape] = [:]
        for (layer, pyramid) in pyramids {
            (squeezed[layer], squeeze[layer]) = squeezingBlock(forLayer: layer).forwardForTraining(pyramid)
        }
        precondition(Set(fixedMixing.keys).isSubset(of: given.keys),
                     "HPNLearner.forwardForTraining: fixed mixing terms for levels \(fixedMixing.keys.sorted()), given squeezed \(given.keys.sorted())")
        return try mixAndDecodeForTraining(squeezed: squeezed, squeeze: squeeze, weightGradients: false, fixedMixing: fixedMixing)
    }

    /// The first layer of each mixing block on its finer level, for the levels among
    /// `squeezed` (3 for `encoder_layer4to3`, 2 for `encoder_layer3to2`) where that layer
    /// splits over the upsampling of the coarser one (`CenterPivotConv4d.forwardUpsampled`):
    /// what a fine-tuning step on the other levels can take as computed once.
    public func fixedMixingTerms(squeezed: [Int: Tensor]) -> [Int: Tensor] {
        var terms: [Int: Tensor] = [:]
        for (level, block) in [(3, encoderLayer4to3), (2, encoderLayer3to2)] {
            guard let fine = squeezed[level] else { continue }
            // The coarse level has the same support planes, so the fine level's plan decides.
            let first = block.convolutions[0]
            if first.splitsOverUpsampling(coarseShape: fine.shape, fineShape: fine.shape) {
                terms[level] = first.forward(fine)
            }
        }
        return terms
    }

    /// `forwardForTraining(pyramids:squeezed:)` with the layer-4 pyramid alone changing (the
    /// paper's maskers sit on layer 4 only).
    public func forwardForTraining(layer4Pyramid: Tensor, squeezed3: Tensor, squeezed2: Tensor) throws
        -> (logits: Tensor, tape: Tape) {
        try forwardForTraining(pyramids: [4: layer4Pyramid], squeezed: [3: squeezed3, 2: squeezed2])
    }

    private func mixAndDecodeForTraining(squeezed: [Int: Tensor], squeeze: [Int: BuildingBlock.Tape], weightGradients: Bool,
                                         fixedMixing: [Int: Tensor] = [:]) throws -> (logits: Tensor, tape: Tape) {
        func mix(_ block: BuildingBlock, _ coarse: Tensor, _ fine: Tensor, fixed: Tensor?) throws -> (output: Tensor, tape: BuildingBlock.Tape) {
            guard let fixed else { return block.forwardForTraining(try Self.addUpsampled(coarse, to: fine), keepingInput: weightGradients) }
            try Self.checkLevelsLineUp(coarse, fine)
            return block.forwardForTraining(upsampling: coarse, fixedFirst: fixed)
        }
        let (mixed43, mix43Tape) = try mix(encoderLayer4to3, squeezed[4]!, squeezed[3]!, fixed: fixedMixing[3])
        let (mixed432, mix432Tape) = try mix(encoderLayer3to2, mixed43, squeezed[2]!, fixed: fixedMixing[2])
        var inputs = [Self.meanOverSupportDims(mixed432)]
        var x = decoder[0].forward(inputs[0])
        ReLU.apply(to: &x)
        inputs.append(x)
        x = decoder[1].forward(x)
        ReLU.apply(to: &x)
        inputs.append(x)
        let side = 2 * x.shape[3]
        x = BilinearResize(outputHeight: side, outputWidth: side).forward(x)
        inputs.append(x)
        x = decoder[2].forward(x)
        ReLU.apply(to: &x)
        inputs.append(x)
        let logits = decoder[3].forward(x)
        let tape = Tape(squeeze: squeeze, squeezedShapes: squeezed.mapValues(\.shape), mix43: mix43Tape,
                        mixed43Shape: mixed43.shape, mix432: mix432Tape, mixed432Shape: mixed432.shape,
                        decoderInputs: inputs, weightGradients: weightGradients)
        return (logits, tape)
    }

    /// The gradient of every learner weight from the gradient of the decoder's logits, named
    /// as `parameterShapes` names them (relative to `hpn_learner.`). The tape must come from
    /// `forwardForTraining(pyramids:)`.
    public func weightGradients(_ gradLogits: Tensor, tape: Tape) -> [String: Tensor] {
        precondition(tape.weightGradients && tape.squeeze.count == 3,
                     "HPNLearner.weightGradients: the tape comes from forwardForTraining(pyramids:)")
        var parameters: [String: Tensor] = [:]
        withUnsafeMutablePointer(to: &parameters) { sink in
            let gradSqueezed = backwardThroughMixing(gradLogits, tape: tape, parameters: sink)
            for layer in [4, 3, 2] {
                _ = squeezingBlock(forLayer: layer).backward(gradSqueezed[layer]!, tape: tape.squeeze[layer]!, inputGradient: false,
                                                             parameters: sink, prefix: "encoder_layer\(layer).")
            }
        }
        return parameters
    }

    /// The gradients for the pyramids [1, taps, Ha, Wa, Hb, Wb] by layer, from the gradient of
    /// the decoder's logits: back through the decoder, the mean over support dims, the mixing
    /// blocks with their query-dims upsamplings, and each layer's squeezing block (its input
    /// gradient). `layers` (default: every layer whose squeezing tape the forward kept; a tape
    /// from `forwardForTraining(pyramids: [Tensor])` has all three) says which are wanted; the
    /// path stops as soon as the coarsest of them is reached. The learner's weights are frozen.
    public func backwardToPyramids(_ gradLogits: Tensor, tape: Tape, layers: Set<Int>? = nil) -> [Int: Tensor] {
        let wanted = layers ?? Set(tape.squeeze.keys)
        for layer in wanted {
            precondition(tape.squeeze[layer] != nil,
                         "HPNLearner.backwardToPyramids: the forward squeezed the layer-\(layer) pyramid without a tape (it was given squeezed)")
        }
        let gradSqueezed = backwardThroughMixing(gradLogits, tape: tape, parameters: nil, wanted: wanted)
        var result: [Int: Tensor] = [:]
        for layer in wanted {
            result[layer] = squeezingBlock(forLayer: layer).backwardInput(gradSqueezed[layer]!, tape: tape.squeeze[layer]!)
        }
        return result
    }

    /// The gradient for the layer-4 pyramid alone (`backwardToPyramids` for layer 4).
    public func backwardToLayer4Pyramid(_ gradLogits: Tensor, tape: Tape) -> Tensor {
        backwardToPyramids(gradLogits, tape: tape, layers: [4])[4]!
    }

    /// Back through the decoder and the mixing blocks to the squeezed pyramids of `wanted`
    /// (default all three). A finer level's gradient is kept only when wanted, and the path
    /// goes no further than the coarsest level wanted, unless weight gradients are asked for.
    private func backwardThroughMixing(_ gradLogits: Tensor, tape: Tape, parameters: UnsafeMutablePointer<[String: Tensor]>?,
                                       wanted: Set<Int> = [2, 3, 4]) -> [Int: Tensor] {
        let inputs = tape.decoderInputs
        func convBackward(_ index: Int, _ grad: Tensor) -> Tensor {
            if let parameters {
                let name = Self.decoderSpecs[index].name
                let g = decoder[index].parameterGradients(grad, input: inputs[index < 2 ? index : index + 1])
                parameters.pointee[name + ".weight"] = g.weight
                parameters.pointee[name + ".bias"] = g.bias
            }
            return decoder[index].backwardInput(grad, inputShape: inputs[index < 2 ? index : index + 1].shape)
        }
        var grad = convBackward(3, gradLogits)
        grad = ReLU.backward(grad, output: inputs[4])
        grad = convBackward(2, grad)
        grad = BilinearResize(outputHeight: inputs[3].shape[2], outputWidth: inputs[3].shape[3])
            .backward(grad, inputShape: inputs[2].shape)
        grad = ReLU.backward(grad, output: inputs[2])
        grad = convBackward(1, grad)
        grad = ReLU.backward(grad, output: inputs[1])
        grad = convBackward(0, grad)

        var squeezed: [Int: Tensor] = [:]
        grad = Self.meanOverSupportDimsBackward(grad, inputShape: tape.mixed432Shape)
        // A sum's gradient reaches both terms: the fine level as it is, the coarse one through
        // the adjoint of its upsampling (taken inside the block when its first layer was
        // split over the upsampling: the fine level was then fixed, and gets none).
        func mixingBackward(_ block: BuildingBlock, _ grad: Tensor, tape blockTape: BuildingBlock.Tape, prefix: String,
                            fineLevel: Int, fineShape: [Int], coarseShape: [Int]) -> (fine: Tensor?, coarse: Tensor) {
            let toSum = block.backward(grad, tape: blockTape, parameters: parameters, prefix: prefix)!
            if blockTape.upsampledInput {
                precondition(!wanted.contains(fineLevel), "HPNLearner: the layer-\(fineLevel) level was fixed, it has no gradient")
                return (nil, toSum)
            }
            let coarse = BilinearResize(outputHeight: fineShape[2], outputWidth: fineShape[3])
                .backward(toSum, inputShape: coarseShape, heightAxis: 2)
            return (toSum, coarse)
        }
        let (grad2, grad43) = mixingBackward(encoderLayer3to2, grad, tape: tape.mix432, prefix: "encoder_layer3to2.",
                                             fineLevel: 2, fineShape: tape.mixed432Shape, coarseShape: tape.mixed43Shape)
        if wanted.contains(2) { squeezed[2] = grad2 }
        guard parameters != nil || !wanted.isDisjoint(with: [3, 4]) else { return squeezed }
        let (grad3, grad4) = mixingBackward(encoderLayer4to3, grad43, tape: tape.mix43, prefix: "encoder_layer4to3.",
                                            fineLevel: 3, fineShape: tape.mixed43Shape, coarseShape: tape.squeezedShapes[4]!)
        if wanted.contains(3) { squeezed[3] = grad3 }
        if parameters != nil || wanted.contains(4) { squeezed[4] = grad4 }
        return squeezed
    }

    /// [B, C, Ha, Wa] -> [B, C, Ha, Wa, Hb, Wb]: each support position gets 1/(Hb Wb) of the gradient.
    static func meanOverSupportDimsBackward(_ grad: Tensor, inputShape: [Int]) -> Tensor {
        let inner = inputShape[4] * inputShape[5]
        let scale = 1 / Float(inner)
        return Tensor(shape: inputShape) { out in
            grad.withUnsafeBufferPointer { g in
                for i in 0..<g.count {
                    let value = g[i] * scale
                    for s in 0..<inner { out[i * inner + s] = value }
                }
            }
        }
    }
}
