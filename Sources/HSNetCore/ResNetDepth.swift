import TensorCore

/// The two torchvision ResNets HSNet is published with (`--backbone resnet50 | resnet101` in
/// its code). They differ only in how many bottlenecks layer 3 stacks (6 or 23), and so in the
/// number of taps HSNet correlates: 13 or 30 (HSNet's feature ids 4...16 or 4...33).
public enum ResNetDepth: Int, CaseIterable, Sendable {
    case resnet50 = 50
    case resnet101 = 101

    /// "ResNet-50", as papers and torchvision's documentation write it.
    public var name: String { "ResNet-\(rawValue)" }

    /// Bottlenecks of layers 1 ... 4.
    public var blockCounts: [Int] {
        switch self {
        case .resnet50: return [3, 4, 6, 3]
        case .resnet101: return [3, 4, 23, 3]
        }
    }

    /// The backbone layer of each tap, in the order the taps come (layer 2 first): one tap per
    /// bottleneck of layers 2, 3 and 4.
    public var tapLayers: [Int] {
        (2...4).flatMap { layer in Array(repeating: layer, count: blockCounts[layer - 1]) }
    }

    /// Taps of `layer` (2, 3 or 4): the channels of the correlation pyramid HSNet builds from
    /// that layer, and so the input channels of the learner's squeezing block for it.
    public func tapCount(layer: Int) -> Int { blockCounts[layer - 1] }

    /// The depth of the ResNet whose parameters `names` hold under `prefix` (`backbone.` in an
    /// HSNet checkpoint, empty in torchvision's file): a bottleneck beyond layer 3's sixth
    /// (`layer3.6` ... `layer3.22`) means ResNet-101. Judged from names only, so that a
    /// damaged ResNet-101 file is reported against ResNet-101's parameters, not ResNet-50's.
    public static func recognised(in names: some Sequence<String>, prefix: String) -> ResNetDepth {
        let layer3 = prefix + "layer3."
        for name in names where name.hasPrefix(layer3) {
            if let block = Int(name.dropFirst(layer3.count).prefix { $0 != "." }), block >= ResNetDepth.resnet50.blockCounts[2] {
                return .resnet101
            }
        }
        return .resnet50
    }
}
