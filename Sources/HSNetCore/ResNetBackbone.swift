import TensorCore

/// torchvision's ResNet-50 or ResNet-101 as HSNet uses it: a frozen feature extractor whose
/// BatchNorm runs in eval mode (folded into the convolutions at load time, eps 1e-5).
///
/// The stem (7x7 conv, BatchNorm, ReLU, 3x3 max-pool) and layer 1 run but are not tapped;
/// every bottleneck of layers 2, 3 and 4 gives one tap, its residual sum before the final ReLU
/// (HSNet's feature ids 4...): 4 taps of 512 channels at 1/8 of the image size, 6 (ResNet-50)
/// or 23 (ResNet-101) of 1024 at 1/16 and 3 of 2048 at 1/32.
public struct ResNetBackbone {
    /// Channels of each layer's output (and taps), the same at both depths.
    public static let layerChannels = [256, 512, 1024, 2048]

    public let depth: ResNetDepth
    /// conv1 with bn1 folded in.
    public var stem: Conv2d
    /// layer1 ... layer4.
    public var layers: [[Bottleneck]]

    public init(depth: ResNetDepth, stem: Conv2d, layers: [[Bottleneck]]) {
        precondition(layers.map(\.count) == depth.blockCounts, "a \(depth.name) has \(depth.blockCounts) bottlenecks per layer")
        self.depth = depth
        self.stem = stem
        self.layers = layers
    }

    /// The backbone layer of each tap (see `ResNetDepth.tapLayers`).
    public var tapLayers: [Int] { depth.tapLayers }

    /// The parameter names (relative to the backbone) and shapes, in torchvision's order,
    /// `num_batches_tracked` excluded.
    public static func parameterShapes(depth: ResNetDepth) -> [(name: String, shape: [Int])] {
        var shapes: [(name: String, shape: [Int])] = [("conv1.weight", [64, 3, 7, 7])]
        for field in ["weight", "bias", "running_mean", "running_var"] { shapes.append(("bn1.\(field)", [64])) }
        var inputChannels = 64
        for (layer, count) in depth.blockCounts.enumerated() {
            let planes = 64 << layer
            for block in 0..<count {
                let blockShapes = Bottleneck.parameterShapes(inputChannels: inputChannels, planes: planes, projects: block == 0)
                shapes += blockShapes.map { ("layer\(layer + 1).\(block).\($0.0)", $0.1) }
                inputChannels = 4 * planes
            }
        }
        return shapes
    }

    /// Reads every backbone parameter under `prefix`; nil when any is missing or misshapen.
    static func load(from reader: StateDictReader, prefix: String, depth: ResNetDepth) -> ResNetBackbone? {
        let stem = foldedConv(reader, prefix + "conv1", prefix + "bn1", shape: [64, 3, 7, 7], stride: 2, padding: 3)
        var layers: [[Bottleneck]] = []
        var complete = stem != nil
        var inputChannels = 64
        for (layer, count) in depth.blockCounts.enumerated() {
            let planes = 64 << layer
            var blocks: [Bottleneck] = []
            for block in 0..<count {
                let stride = (block == 0 && layer > 0) ? 2 : 1
                if let loaded = Bottleneck.load(from: reader, prefix: prefix + "layer\(layer + 1).\(block).",
                                                inputChannels: inputChannels, planes: planes, stride: stride) {
                    blocks.append(loaded)
                } else {
                    complete = false
                }
                inputChannels = 4 * planes
            }
            layers.append(blocks)
        }
        guard complete, let stem else { return nil }
        return ResNetBackbone(depth: depth, stem: stem, layers: layers)
    }

    /// A bias-free convolution followed by an eval-mode BatchNorm, folded into one convolution.
    static func foldedConv(_ reader: StateDictReader, _ conv: String, _ norm: String,
                           shape: [Int], stride: Int, padding: Int) -> Conv2d? {
        let channels = [shape[0]]
        let weight = reader.take(conv + ".weight", shape: shape)
        let gamma = reader.take(norm + ".weight", shape: channels)
        let beta = reader.take(norm + ".bias", shape: channels)
        let mean = reader.take(norm + ".running_mean", shape: channels)
        let variance = reader.take(norm + ".running_var", shape: channels)
        reader.ignore(norm + ".num_batches_tracked")
        guard let weight, let gamma, let beta, let mean, let variance else { return nil }
        return Conv2d(weight: weight, bias: nil, stride: stride, padding: padding)
            .foldingBatchNorm(weight: gamma, bias: beta, runningMean: mean, runningVar: variance, eps: 1e-5)
    }

    /// Spatial size of the taps of layers 2, 3 and 4 for an image of `height` x `width`:
    /// the stem halves twice (stride-2 conv, stride-2 max-pool), each later layer once more.
    public static func tapSizes(imageHeight height: Int, imageWidth width: Int) -> [Int: (height: Int, width: Int)] {
        func halve(_ n: Int) -> Int { (n - 1) / 2 + 1 }  // k=3,p=1,s=2 and k=7,p=3,s=2 alike
        var (h, w) = (halve(halve(height)), halve(halve(width)))
        var sizes: [Int: (height: Int, width: Int)] = [:]
        for layer in 2...4 {
            (h, w) = (halve(h), halve(w))
            sizes[layer] = (h, w)
        }
        return sizes
    }

    /// The taps of `image` [N, 3, H, W] (13 or 30), in order (layer 2 first).
    public func features(_ image: Tensor) -> [Tensor] {
        var x = stem.forward(image)
        ReLU.apply(to: &x)
        x = MaxPool2d(kernelSize: 3, stride: 2, padding: 1).forward(x)
        var taps: [Tensor] = []
        taps.reserveCapacity(tapLayers.count)
        let blockTotal = depth.blockCounts.reduce(0, +)
        var blockIndex = 0
        for (layer, blocks) in layers.enumerated() {
            for block in blocks {
                var sum = block.residualSum(x)
                blockIndex += 1
                if layer > 0 { taps.append(sum) }
                if blockIndex < blockTotal {
                    ReLU.apply(to: &sum)
                    x = sum
                }
            }
        }
        return taps
    }
}
