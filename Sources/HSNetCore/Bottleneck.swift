import TensorCore

/// One bottleneck block of torchvision's ResNet-50 and ResNet-101: 1x1 conv, 3x3 conv (carrying the block's
/// stride), 1x1 conv expanding the channels four times, each followed by BatchNorm; the first
/// block of a layer also projects its shortcut with a strided 1x1 conv and BatchNorm.
///
/// The backbone is frozen and its BatchNorm runs in eval mode, so each BatchNorm is folded into
/// the convolution before it when the block is loaded.
public struct Bottleneck {
    public var conv1: Conv2d
    public var conv2: Conv2d
    public var conv3: Conv2d
    public var downsample: Conv2d?

    public init(conv1: Conv2d, conv2: Conv2d, conv3: Conv2d, downsample: Conv2d?) {
        self.conv1 = conv1
        self.conv2 = conv2
        self.conv3 = conv3
        self.downsample = downsample
    }

    /// The block's output *before* its final ReLU: `bn3(conv3(...)) + shortcut`. HSNet taps
    /// this residual sum; the next block receives its ReLU.
    public func residualSum(_ x: Tensor) -> Tensor {
        var hidden = conv1.forward(x)
        ReLU.apply(to: &hidden)
        hidden = conv2.forward(hidden)
        ReLU.apply(to: &hidden)
        var sum = conv3.forward(hidden)
        hidden = Tensor(zeros: [0])  // released before the shortcut's convolution allocates
        if let downsample {
            Self.add(downsample.forward(x), to: &sum)
        } else {
            Self.add(x, to: &sum)
        }
        return sum
    }

    /// `sum += shortcut`, split over the cores (layer 1's maps hold 2.5 million floats).
    static func add(_ shortcut: Tensor, to sum: inout Tensor) {
        precondition(shortcut.shape == sum.shape, "residual shapes differ: \(shortcut.shapeDescription) vs \(sum.shapeDescription)")
        shortcut.withUnsafeBufferPointer { s in
            sum.withUnsafeMutableBufferPointer { out in
                let (source, target) = (s.baseAddress!, out.baseAddress!)
                parallelFor(out.count, minimumChunk: 1 << 16) { range in
                    for i in range { target[i] += source[i] }
                }
            }
        }
    }

    /// Names and shapes of the block's parameters relative to the block
    /// (`conv1.weight`, `bn1.running_mean`, ..., `downsample.1.bias`).
    static func parameterShapes(inputChannels: Int, planes: Int, projects: Bool) -> [(String, [Int])] {
        var shapes: [(String, [Int])] = []
        func batchNorm(_ name: String, _ channels: Int) {
            for field in ["weight", "bias", "running_mean", "running_var"] { shapes.append(("\(name).\(field)", [channels])) }
        }
        shapes.append(("conv1.weight", [planes, inputChannels, 1, 1]))
        batchNorm("bn1", planes)
        shapes.append(("conv2.weight", [planes, planes, 3, 3]))
        batchNorm("bn2", planes)
        shapes.append(("conv3.weight", [4 * planes, planes, 1, 1]))
        batchNorm("bn3", 4 * planes)
        if projects {
            shapes.append(("downsample.0.weight", [4 * planes, inputChannels, 1, 1]))
            batchNorm("downsample.1", 4 * planes)
        }
        return shapes
    }

    /// Loads the block under `prefix` (e.g. `backbone.layer2.0.`), folding each BatchNorm.
    /// Returns nil when a parameter is missing or misshapen (the reader records which).
    static func load(from reader: StateDictReader, prefix: String, inputChannels: Int, planes: Int, stride: Int) -> Bottleneck? {
        let projects = stride != 1 || inputChannels != 4 * planes
        let c1 = ResNetBackbone.foldedConv(reader, prefix + "conv1", prefix + "bn1",
                                             shape: [planes, inputChannels, 1, 1], stride: 1, padding: 0)
        let c2 = ResNetBackbone.foldedConv(reader, prefix + "conv2", prefix + "bn2",
                                             shape: [planes, planes, 3, 3], stride: stride, padding: 1)
        let c3 = ResNetBackbone.foldedConv(reader, prefix + "conv3", prefix + "bn3",
                                             shape: [4 * planes, planes, 1, 1], stride: 1, padding: 0)
        var projection: Conv2d?
        if projects {
            projection = ResNetBackbone.foldedConv(reader, prefix + "downsample.0", prefix + "downsample.1",
                                                     shape: [4 * planes, inputChannels, 1, 1], stride: stride, padding: 0)
            if projection == nil { return nil }
        }
        guard let c1, let c2, let c3 else { return nil }
        return Bottleneck(conv1: c1, conv2: c2, conv3: c3, downsample: projection)
    }
}
