import TensorCore

/// HSNet's 4D learner: squeezing blocks that compress each correlation pyramid over its
/// support dimensions, mixing blocks that merge the pyramid levels coarse to fine, and a 2-D
/// decoder that turns the result into two-class logits at twice the layer-2 resolution.
///
/// Parameter names follow the PyTorch module under `hpn_learner.` (`encoder_layer4.0.conv1.weight`,
/// `encoder_layer4.1.weight` for the GroupNorm after it, ..., `decoder2.2.bias`).
public struct HPNLearner {
    /// A stack of (center-pivot 4D conv, GroupNorm with 4 groups, ReLU) layers.
    public struct BuildingBlock {
        public var convolutions: [CenterPivotConv4d]
        public var norms: [GroupNorm]

        public init(convolutions: [CenterPivotConv4d], norms: [GroupNorm]) {
            precondition(convolutions.count == norms.count)
            self.convolutions = convolutions
            self.norms = norms
        }

        /// [B, C, Ha, Wa, Hb, Wb] -> [B, C', Ha, Wa, Hb', Wb'] (the strides shrink only the
        /// support dimensions).
        public func forward(_ x: consuming Tensor) -> Tensor {
            var h = x
            for (convolution, norm) in zip(convolutions, norms) {
                h = convolution.forward(h)
                h = norm.forward(h)
                ReLU.apply(to: &h)
            }
            return h
        }
    }

    /// The layout of one building block, as HSNet defines it.
    struct BlockSpec {
        let name: String
        let inputChannels: Int
        let outputChannels: [Int]
        let kernelSizes: [Int]
        let supportStrides: [Int]
    }

    /// Squeezing blocks (one per pyramid, as many input channels as the backbone has taps in
    /// that layer: 3, 6, 4 for ResNet-50, 3, 23, 4 for ResNet-101 and 1, 3, 3 for VGG-16, HSNet's
    /// `reversed(nbottlenecks[-3:])`) and mixing blocks, with the kernel sizes and support
    /// strides that bring every pyramid's support dims to the same small size (2 x 2 at a
    /// 400 x 400 image).
    static func blockSpecs(backbone depth: BackboneKind) -> [BlockSpec] {
        [
            BlockSpec(name: "encoder_layer4", inputChannels: depth.tapCount(layer: 4), outputChannels: [16, 64, 128], kernelSizes: [3, 3, 3], supportStrides: [2, 2, 2]),
            BlockSpec(name: "encoder_layer3", inputChannels: depth.tapCount(layer: 3), outputChannels: [16, 64, 128], kernelSizes: [5, 3, 3], supportStrides: [4, 2, 2]),
            BlockSpec(name: "encoder_layer2", inputChannels: depth.tapCount(layer: 2), outputChannels: [16, 64, 128], kernelSizes: [5, 5, 3], supportStrides: [4, 4, 2]),
            BlockSpec(name: "encoder_layer4to3", inputChannels: 128, outputChannels: [128, 128, 128], kernelSizes: [3, 3, 3], supportStrides: [1, 1, 1]),
            BlockSpec(name: "encoder_layer3to2", inputChannels: 128, outputChannels: [128, 128, 128], kernelSizes: [3, 3, 3], supportStrides: [1, 1, 1]),
        ]
    }

    /// Decoder convolutions (3x3, padding 1): name, input and output channels.
    static let decoderSpecs: [(name: String, input: Int, output: Int)] = [
        ("decoder1.0", 128, 128), ("decoder1.2", 128, 64), ("decoder2.0", 64, 64), ("decoder2.2", 64, 2),
    ]

    /// The backbone whose taps the squeezing blocks take.
    public let backboneKind: BackboneKind
    public var encoderLayer4: BuildingBlock
    public var encoderLayer3: BuildingBlock
    public var encoderLayer2: BuildingBlock
    public var encoderLayer4to3: BuildingBlock
    public var encoderLayer3to2: BuildingBlock
    /// decoder1.0, decoder1.2, decoder2.0, decoder2.2.
    public var decoder: [Conv2d]

    /// Names (relative to `hpn_learner.`) and shapes of every parameter, in PyTorch's order,
    /// for the learner of a `depth` backbone.
    public static func parameterShapes(backbone depth: BackboneKind) -> [(name: String, shape: [Int])] {
        var shapes: [(name: String, shape: [Int])] = []
        for spec in blockSpecs(backbone: depth) {
            var inputChannels = spec.inputChannels
            for (i, (channels, kernel)) in zip(spec.outputChannels, spec.kernelSizes).enumerated() {
                for conv in ["conv1", "conv2"] {
                    shapes.append(("\(spec.name).\(3 * i).\(conv).weight", [channels, inputChannels, kernel, kernel]))
                    shapes.append(("\(spec.name).\(3 * i).\(conv).bias", [channels]))
                }
                shapes.append(("\(spec.name).\(3 * i + 1).weight", [channels]))
                shapes.append(("\(spec.name).\(3 * i + 1).bias", [channels]))
                inputChannels = channels
            }
        }
        for spec in decoderSpecs {
            shapes.append(("\(spec.name).weight", [spec.output, spec.input, 3, 3]))
            shapes.append(("\(spec.name).bias", [spec.output]))
        }
        return shapes
    }

    /// Loads the learner from a state dict whose learner entries start with `prefix`
    /// (`hpn_learner.` in an HSNet checkpoint), for a `backbone` of that depth. Every problem
    /// is reported in one `InputError`.
    public init(stateDict: [(name: String, tensor: Tensor)], prefix: String = "hpn_learner.", backbone depth: BackboneKind = .resnet50,
                source: String = "state dict") throws {
        let reader = try StateDictReader(stateDict, source: source)
        let learner = Self.load(from: reader, prefix: prefix, backbone: depth)
        try reader.finish(what: "the HSNet learner of a \(depth.name)")
        self = learner!
    }

    init(backbone depth: BackboneKind, blocks: [BuildingBlock], decoder: [Conv2d]) {
        precondition(blocks.count == 5 && decoder.count == 4)
        backboneKind = depth
        encoderLayer4 = blocks[0]
        encoderLayer3 = blocks[1]
        encoderLayer2 = blocks[2]
        encoderLayer4to3 = blocks[3]
        encoderLayer3to2 = blocks[4]
        self.decoder = decoder
    }

    /// Reads every learner parameter under `prefix`; nil when any is missing or misshapen.
    static func load(from reader: StateDictReader, prefix: String, backbone depth: BackboneKind) -> HPNLearner? {
        var blocks: [BuildingBlock] = []
        var complete = true
        for spec in blockSpecs(backbone: depth) {
            var convolutions: [CenterPivotConv4d] = []
            var norms: [GroupNorm] = []
            var inputChannels = spec.inputChannels
            for (i, channels) in spec.outputChannels.enumerated() {
                let kernel = spec.kernelSizes[i]
                let layer = "\(prefix)\(spec.name).\(3 * i)"
                // conv1 slides over the query dims (stride 1), conv2 over the support dims with
                // the block's support stride; both keep "same" padding.
                var halves: [Conv2d] = []
                for (conv, stride) in [("conv1", 1), ("conv2", spec.supportStrides[i])] {
                    let weight = reader.take("\(layer).\(conv).weight", shape: [channels, inputChannels, kernel, kernel])
                    let bias = reader.take("\(layer).\(conv).bias", shape: [channels])
                    if let weight, let bias {
                        halves.append(Conv2d(weight: weight, bias: bias, stride: stride, padding: kernel / 2))
                    }
                }
                let norm = "\(prefix)\(spec.name).\(3 * i + 1)"
                let gamma = reader.take(norm + ".weight", shape: [channels])
                let beta = reader.take(norm + ".bias", shape: [channels])
                if halves.count == 2, let gamma, let beta {
                    convolutions.append(CenterPivotConv4d(conv1: halves[0], conv2: halves[1]))
                    norms.append(GroupNorm(groupCount: 4, weight: gamma, bias: beta, eps: 1e-5))
                } else {
                    complete = false
                }
                inputChannels = channels
            }
            blocks.append(BuildingBlock(convolutions: convolutions, norms: norms))
        }
        var decoder: [Conv2d] = []
        for spec in decoderSpecs {
            let weight = reader.take("\(prefix)\(spec.name).weight", shape: [spec.output, spec.input, 3, 3])
            let bias = reader.take("\(prefix)\(spec.name).bias", shape: [spec.output])
            if let weight, let bias {
                decoder.append(Conv2d(weight: weight, bias: bias, stride: 1, padding: 1))
            } else {
                complete = false
            }
        }
        return complete ? HPNLearner(backbone: depth, blocks: blocks, decoder: decoder) : nil
    }

    // MARK: Forward

    /// The squeezing block for the pyramid of `layer` (4, 3 or 2).
    public func squeezingBlock(forLayer layer: Int) -> BuildingBlock {
        switch layer {
        case 4: return encoderLayer4
        case 3: return encoderLayer3
        default: return encoderLayer2
        }
    }

    /// Mixes the squeezed pyramids coarse to fine and averages out the support dimensions:
    /// `sqz4` brought to `sqz3`'s query size and added, mixed; brought to `sqz2`'s query size
    /// and added, mixed; then the mean over the support positions, [B, 128, Ha2, Wa2].
    public func mix(squeezed4 sqz4: Tensor, squeezed3 sqz3: Tensor, squeezed2 sqz2: Tensor,
                    observe: ((String, Tensor) -> Void)? = nil) throws -> Tensor {
        var mixed = try Self.addUpsampled(sqz4, to: sqz3)
        mixed = encoderLayer4to3.forward(mixed)
        observe?("mix43", mixed)
        mixed = try Self.addUpsampled(mixed, to: sqz2)
        mixed = encoderLayer3to2.forward(mixed)
        observe?("mix432", mixed)
        return Self.meanOverSupportDims(mixed)
    }

    /// `coarse` with its query dims resized (bilinear, align_corners=True) to those of `fine`,
    /// plus `fine`. HSNet's code calls this step `interpolate_support_dims`, but the dims it
    /// resizes are the query ones; the support dims must already agree.
    static func addUpsampled(_ coarse: Tensor, to fine: Tensor) throws -> Tensor {
        try checkLevelsLineUp(coarse, fine)
        var sum = BilinearResize(outputHeight: fine.shape[2], outputWidth: fine.shape[3]).forward(coarse, heightAxis: 2)
        sum.addScaled(fine)
        return sum
    }

    /// Two pyramid levels can be summed once the coarse one's query dims are resized: the
    /// same batch, channels and support dims.
    static func checkLevelsLineUp(_ coarse: Tensor, _ fine: Tensor) throws {
        guard coarse.rank == 6, fine.rank == 6, coarse.shape[0...1] == fine.shape[0...1], coarse.shape[4...] == fine.shape[4...] else {
            throw InputError("HSNet learner: pyramid levels do not line up after squeezing (\(coarse.shapeDescription) vs \(fine.shapeDescription)); choose another image size")
        }
    }

    /// [B, C, Ha, Wa, Hb, Wb] -> [B, C, Ha, Wa]: the mean over the support positions.
    static func meanOverSupportDims(_ x: Tensor) -> Tensor {
        let outer = x.shape[0] * x.shape[1] * x.shape[2] * x.shape[3]
        let inner = x.shape[4] * x.shape[5]
        return Tensor(shape: Array(x.shape[0..<4])) { out in
            x.withUnsafeBufferPointer { input in
                let scale = Float(inner)
                for i in 0..<outer {
                    var total: Float = 0
                    for s in 0..<inner { total += input[i * inner + s] }
                    out[i] = total / scale
                }
            }
        }
    }

    /// The 2-D decoder: conv, ReLU, conv, ReLU, bilinear upsampling (align_corners=True),
    /// conv, ReLU, conv: [B, 128, H, W] -> [B, 2, 2H', 2W'].
    ///
    /// As HSNet does, the upsampled size is twice the *width* in both directions (the maps are
    /// square whenever the image is).
    public func decode(_ encoded: Tensor) -> Tensor {
        var x = decoder[0].forward(encoded)
        ReLU.apply(to: &x)
        x = decoder[1].forward(x)
        ReLU.apply(to: &x)
        let side = 2 * x.shape[3]
        x = BilinearResize(outputHeight: side, outputWidth: side).forward(x)
        x = decoder[2].forward(x)
        ReLU.apply(to: &x)
        return decoder[3].forward(x)
    }

    /// The whole learner on the three pyramids [layer 4, layer 3, layer 2]: logits
    /// [B, 2, 2 Wa2, 2 Wa2]. `observe` sees `sqz4`, `sqz3`, `sqz2`, `mix43`, `mix432`, `encoded`.
    public func callAsFunction(_ pyramids: [Tensor], observe: ((String, Tensor) -> Void)? = nil) throws -> Tensor {
        precondition(pyramids.count == 3)
        var squeezed: [Tensor] = []
        for (layer, pyramid) in zip([4, 3, 2], pyramids) {
            squeezed.append(squeezingBlock(forLayer: layer).forward(pyramid))
            observe?("sqz\(layer)", squeezed.last!)
        }
        let encoded = try mix(squeezed4: squeezed[0], squeezed3: squeezed[1], squeezed2: squeezed[2], observe: observe)
        observe?("encoded", encoded)
        return decode(encoded)
    }
}

// MARK: Parameters by name

extension HPNLearner {
    /// Every parameter, named and ordered as `parameterShapes` (relative to `hpn_learner.`).
    public var namedParameters: [(name: String, tensor: Tensor)] {
        var named: [(name: String, tensor: Tensor)] = []
        let blocks = [encoderLayer4, encoderLayer3, encoderLayer2, encoderLayer4to3, encoderLayer3to2]
        for (spec, block) in zip(Self.blockSpecs(backbone: backboneKind), blocks) {
            for (i, (convolution, norm)) in zip(block.convolutions, block.norms).enumerated() {
                for (conv, layer) in [("conv1", convolution.conv1), ("conv2", convolution.conv2)] {
                    named.append(("\(spec.name).\(3 * i).\(conv).weight", layer.weight))
                    named.append(("\(spec.name).\(3 * i).\(conv).bias", layer.bias!))
                }
                named.append(("\(spec.name).\(3 * i + 1).weight", norm.weight))
                named.append(("\(spec.name).\(3 * i + 1).bias", norm.bias))
            }
        }
        for (spec, conv) in zip(Self.decoderSpecs, decoder) {
            named.append(("\(spec.name).weight", conv.weight))
            named.append(("\(spec.name).bias", conv.bias!))
        }
        return named
    }
}
