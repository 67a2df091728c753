import TensorCore

/// The backbones HSNet is published with (`--backbone vgg16 | resnet50 | resnet101` in its
/// code), as the rest of the model sees them: which backbone layer (2, 3 or 4: HSNet's three
/// correlation pyramids) each tap belongs to, how many channels those taps have and how large
/// they are for an image. Everything that depends on the backbone asks this, never a
/// particular network.
///
/// | kind      | taps of layers 2, 3, 4 | channels        | tap sides at 400 x 400 |
/// |-----------|------------------------|-----------------|------------------------|
/// | resnet50  | 4, 6, 3                | 512, 1024, 2048 | 50, 25, 13             |
/// | resnet101 | 4, 23, 3               | 512, 1024, 2048 | 50, 25, 13             |
/// | vgg16     | 3, 3, 1                | 512, 512, 512   | 50, 25, 12             |
public enum BackboneKind: String, CaseIterable, Sendable {
    case resnet50
    case resnet101
    case vgg16

    /// "ResNet-50", "VGG-16", as papers and torchvision's documentation write them.
    public var name: String {
        switch self {
        case .resnet50, .resnet101: return resnetDepth!.name
        case .vgg16: return "VGG-16"
        }
    }

    /// The ResNet depth of a ResNet backbone, nil for VGG-16.
    public var resnetDepth: ResNetDepth? {
        switch self {
        case .resnet50: return .resnet50
        case .resnet101: return .resnet101
        case .vgg16: return nil
        }
    }

    public init(_ depth: ResNetDepth) {
        switch depth {
        case .resnet50: self = .resnet50
        case .resnet101: self = .resnet101
        }
    }

    /// The backbone layer of each tap, in the order the taps come (layer 2 first): for a
    /// ResNet one tap per bottleneck of layers 2, 3 and 4; for VGG-16 HSNet's grouping of its
    /// feature ids (conv4_x, conv5_x, pool5: `VGGBackbone`).
    public var tapLayers: [Int] {
        switch self {
        case .resnet50, .resnet101: return resnetDepth!.tapLayers
        case .vgg16: return [2, 2, 2, 3, 3, 3, 4]
        }
    }

    /// Taps of `layer` (2, 3 or 4): the channels of the correlation pyramid HSNet builds from
    /// that layer, and so the input channels of the learner's squeezing block for it
    /// (HSNet's `reversed(nbottlenecks[-3:])`).
    public func tapCount(layer: Int) -> Int { tapLayers.filter { $0 == layer }.count }

    /// Channels of every tap of `layer` (2, 3 or 4).
    public func channels(layer: Int) -> Int {
        switch self {
        case .resnet50, .resnet101: return ResNetBackbone.layerChannels[layer - 1]
        case .vgg16: return 512
        }
    }

    /// Spatial size of the taps of `layer` (2, 3 or 4) for an image of `height` x `width`.
    public func featureSize(layer: Int, imageHeight height: Int, imageWidth width: Int) -> (height: Int, width: Int) {
        switch self {
        case .resnet50, .resnet101: return ResNetBackbone.tapSizes(imageHeight: height, imageWidth: width)[layer]!
        case .vgg16: return VGGBackbone.tapSizes(imageHeight: height, imageWidth: width)[layer]!
        }
    }

    /// The smallest image side whose layer-4 taps are not empty: a ResNet's strided
    /// convolutions round up (16 gives 1 x 1), VGG-16's five 2x2 pools round down (32 gives 1 x 1).
    public var minimumImageSize: Int {
        switch self {
        case .resnet50, .resnet101: return 16
        case .vgg16: return 32
        }
    }

    /// How an error names every kind: "ResNet-50, ResNet-101 or VGG-16".
    public static var namesList: String {
        let names = allCases.map(\.name)
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }

    /// The backbone whose parameters `names` hold under `prefix` (`backbone.` in an HSNet
    /// checkpoint, empty in torchvision's file): `features.*` is VGG's, otherwise a ResNet
    /// whose depth `ResNetDepth.recognised` tells. Judged from names only, so that a damaged
    /// file is reported against the parameters of the backbone it was meant to be.
    public static func recognised(in names: some Sequence<String>, prefix: String) -> BackboneKind {
        let features = prefix + "features."
        var resnetNames: [String] = []
        for name in names {
            if name.hasPrefix(features) { return .vgg16 }
            resnetNames.append(name)
        }
        return BackboneKind(ResNetDepth.recognised(in: resnetNames, prefix: prefix))
    }
}
