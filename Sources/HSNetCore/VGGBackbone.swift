import TensorCore

/// torchvision's VGG-16 `features` as HSNet uses it (`--backbone vgg16`): thirteen 3x3
/// convolutions with bias, each followed by a ReLU, in five blocks that each end in a 2x2
/// max-pool (floor mode, so a side halves with its remainder dropped). Frozen: no backward.
///
/// HSNet taps the feature ids 17, 19, 21, 24, 26, 28 and 30: the outputs of conv4_1..conv4_3
/// and conv5_1..conv5_3 before their ReLU (the published code clones a module's output before
/// the next module, the in-place ReLU, runs) and pool5's output, all 512 channels. They form
/// HSNet's three pyramids: layer 2 (conv4_x, 1/8 of the image), layer 3 (conv5_x, 1/16) and
/// layer 4 (pool5, 1/32), of 3, 3 and 1 taps.
public struct VGGBackbone {
    /// Index in `features` of each convolution, in order (the ReLU is at index + 1).
    public static let convolutionIndices = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    /// Output channels of each convolution.
    public static let convolutionChannels = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    /// The convolutions after whose ReLU a 2x2 max-pool follows (features 4, 9, 16, 23, 30).
    static let poolAfter: Set<Int> = [2, 7, 14, 21, 28]
    /// HSNet's `feat_ids` for VGG-16.
    public static let tapIndices = [17, 19, 21, 24, 26, 28, 30]

    /// The thirteen convolutions, `features.<index>` in order.
    public var convolutions: [Conv2d]

    public init(convolutions: [Conv2d]) {
        precondition(convolutions.map(\.outChannels) == Self.convolutionChannels, "a VGG-16 has 13 convolutions of \(Self.convolutionChannels) channels")
        self.convolutions = convolutions
    }

    /// The parameter names (relative to the backbone) and shapes, in torchvision's order, the
    /// classifier excluded.
    public static func parameterShapes() -> [(name: String, shape: [Int])] {
        var shapes: [(name: String, shape: [Int])] = []
        var inputChannels = 3
        for (index, channels) in zip(convolutionIndices, convolutionChannels) {
            shapes.append(("features.\(index).weight", [channels, inputChannels, 3, 3]))
            shapes.append(("features.\(index).bias", [channels]))
            inputChannels = channels
        }
        return shapes
    }

    /// Reads every convolution under `prefix`; nil when any is missing or misshapen.
    static func load(from reader: StateDictReader, prefix: String) -> VGGBackbone? {
        var convolutions: [Conv2d] = []
        var inputChannels = 3
        for (index, channels) in zip(convolutionIndices, convolutionChannels) {
            let weight = reader.take(prefix + "features.\(index).weight", shape: [channels, inputChannels, 3, 3])
            let bias = reader.take(prefix + "features.\(index).bias", shape: [channels])
            if let weight, let bias { convolutions.append(Conv2d(weight: weight, bias: bias, stride: 1, padding: 1)) }
            inputChannels = channels
        }
        guard convolutions.count == convolutionIndices.count else { return nil }
        return VGGBackbone(convolutions: convolutions)
    }

    /// Spatial size of the taps of layers 2, 3 and 4 for an image of `height` x `width`: the
    /// convolutions keep the size, each max-pool halves it (floor); layer 2 comes after three
    /// pools, layer 3 after four, layer 4 after five.
    public static func tapSizes(imageHeight height: Int, imageWidth width: Int) -> [Int: (height: Int, width: Int)] {
        [2: (height >> 3, width >> 3), 3: (height >> 4, width >> 4), 4: (height >> 5, width >> 5)]
    }

    /// The 7 taps of `image` [N, 3, H, W], in order (layer 2 first).
    public func features(_ image: Tensor) -> [Tensor] {
        let pool = MaxPool2d(kernelSize: 2, stride: 2, padding: 0)
        var taps: [Tensor] = []
        taps.reserveCapacity(Self.tapIndices.count)
        var x = image
        for (position, convolution) in convolutions.enumerated() {
            let index = Self.convolutionIndices[position]
            x = convolution.forward(x)
            if Self.tapIndices.contains(index) { taps.append(x) }
            ReLU.apply(to: &x)
            if Self.poolAfter.contains(index) {
                x = pool.forward(x)
                if Self.tapIndices.contains(index + 2) { taps.append(x) }
            }
        }
        return taps
    }
}
