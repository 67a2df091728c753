import TensorCore

/// HSNet's frozen feature extractor, whichever network it is (`BackboneKind`): it gives the
/// taps the correlation pyramids are built from, layer 2 first, and has no backward (HSNet
/// never trains it).
public enum Backbone {
    case resnet(ResNetBackbone)
    case vgg(VGGBackbone)

    public var kind: BackboneKind {
        switch self {
        case .resnet(let network): return BackboneKind(network.depth)
        case .vgg: return .vgg16
        }
    }

    /// The ResNet, when the backbone is one.
    public var resnet: ResNetBackbone? {
        if case .resnet(let network) = self { return network }
        return nil
    }

    /// The VGG-16, when the backbone is one.
    public var vgg: VGGBackbone? {
        if case .vgg(let network) = self { return network }
        return nil
    }

    /// The backbone layer of each tap (see `BackboneKind.tapLayers`).
    public var tapLayers: [Int] { kind.tapLayers }

    /// The taps of `image` [N, 3, H, W], in order (layer 2 first).
    public func features(_ image: Tensor) -> [Tensor] {
        switch self {
        case .resnet(let network): return network.features(image)
        case .vgg(let network): return network.features(image)
        }
    }

    /// Loads the backbone from a state dict, with every name under `prefix` (`backbone.` inside
    /// an HSNet checkpoint, empty for torchvision's ImageNet file, whose classifier is
    /// accepted and ignored). The kind is recognised from the names. Every problem is
    /// reported in one `InputError`.
    public init(stateDict: [(name: String, tensor: Tensor)], prefix: String = "", source: String = "state dict") throws {
        let kind = BackboneKind.recognised(in: stateDict.lazy.map(\.name), prefix: prefix)
        let reader = try StateDictReader(stateDict, source: source)
        let backbone = Self.load(from: reader, prefix: prefix, kind: kind)
        Self.ignoreClassifier(reader, prefix: prefix, kind: kind)
        try reader.finish(what: "a \(kind.name) backbone")
        self = backbone!
    }

    /// Reads every backbone parameter under `prefix`; nil when any is missing or misshapen.
    static func load(from reader: StateDictReader, prefix: String, kind: BackboneKind) -> Backbone? {
        if let depth = kind.resnetDepth {
            return ResNetBackbone.load(from: reader, prefix: prefix, depth: depth).map { .resnet($0) }
        }
        return VGGBackbone.load(from: reader, prefix: prefix).map { .vgg($0) }
    }

    /// torchvision's files, and HSNet's checkpoints, which keep torchvision's whole network
    /// as the backbone, carry the unused ImageNet classifier too (`fc.*` of a ResNet,
    /// `classifier.*` of a VGG).
    static func ignoreClassifier(_ reader: StateDictReader, prefix: String, kind: BackboneKind) {
        _ = reader.takeAll(prefix: prefix + (kind == .vgg16 ? "classifier." : "fc."))
    }

    /// The parameter names (relative to the backbone) and shapes, in torchvision's order,
    /// the classifier and `num_batches_tracked` excluded.
    public static func parameterShapes(kind: BackboneKind) -> [(name: String, shape: [Int])] {
        if let depth = kind.resnetDepth { return ResNetBackbone.parameterShapes(depth: depth) }
        return VGGBackbone.parameterShapes()
    }
}
