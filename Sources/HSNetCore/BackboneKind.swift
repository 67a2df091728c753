import TensorCore

/// The backbones HSNet is published with (`--backbone resnet50 | resnet101` in its code), as
/// the rest of the model sees them: which backbone layer (2, 3 or 4: HSNet's three
/// correlation pyramids) each tap belongs to, how many channels those taps have and how large
/// they are for an image. Everything that depends on the backbone asks this, never a
/// particular network.
public enum BackboneKind: String, CaseIterable, Sendable {
    case resnet50
    case resnet101

    /// "ResNet-50", as papers and torchvision's documentation write it.
    public var name: String { resnetDepth.name }

    /// The ResNet depth of a ResNet backbone.
    public var resnetDepth: ResNetDepth {
        switch self {
        case .resnet50: return .resnet50
        case .resnet101: return .resnet101
        }
    }

    public init(_ depth: ResNetDepth) {
        switch depth {
        case .resnet50: self = .resnet50
        case .resnet101: self = .resnet101
        }
    }

    /// The backbone layer of each tap, in the order the taps come (layer 2 first).
    public var tapLayers: [Int] { resnetDepth.tapLayers }

    /// Taps of `layer` (2, 3 or 4): the channels of the correlation pyramid HSNet builds from
    /// that layer, and so the input channels of the learner's squeezing block for it.
    public func tapCount(layer: Int) -> Int { tapLayers.filter { $0 == layer }.count }

    /// Channels of every tap of `layer` (2, 3 or 4).
    public func channels(layer: Int) -> Int { ResNetBackbone.layerChannels[layer - 1] }

    /// Spatial size of the taps of `layer` (2, 3 or 4) for an image of `height` x `width`.
    public func featureSize(layer: Int, imageHeight height: Int, imageWidth width: Int) -> (height: Int, width: Int) {
        ResNetBackbone.tapSizes(imageHeight: height, imageWidth: width)[layer]!
    }

    /// How an error names every kind: "ResNet-50 or ResNet-101".
    public static var namesList: String {
        let names = allCases.map(\.name)
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }

    /// The smallest image side whose layer-4 taps are not empty.
    public var minimumImageSize: Int { 16 }

    /// The backbone whose parameters `names` hold under `prefix` (`backbone.` in an HSNet
    /// checkpoint, empty in torchvision's file). Judged from names only, so that a damaged
    /// file is reported against the parameters of the backbone it was meant to be.
    public static func recognised(in names: some Sequence<String>, prefix: String) -> BackboneKind {
        BackboneKind(ResNetDepth.recognised(in: names, prefix: prefix))
    }
}
