import TensorCore

extension HSNet {
    /// HSNet with every backbone and learner parameter set by the det-fill rule of the
    /// reference fixtures (`detFill`): pseudo-random values of the right scale, the same on
    /// every machine. What the benchmarks and the fixture tests run on; no maskers installed.
    public static func withDeterministicWeights(backbone depth: BackboneKind = .resnet50) throws -> HSNet {
        try HSNet(stateDict: deterministicStateDict(backbone: depth), source: "deterministic weights")
    }

    /// The det-fill model as a checkpoint holds it (`backbone.*` with BatchNorm unfolded,
    /// `hpn_learner.*`).
    public static func deterministicStateDict(backbone depth: BackboneKind) -> [(name: String, tensor: Tensor)] {
        let learner = HPNLearner.parameterShapes(backbone: depth).map {
            (name: "hpn_learner." + $0.name, tensor: detFill(name: "hpn_learner." + $0.name, shape: $0.shape))
        }
        return deterministicBackboneStateDict(depth: depth) + learner
    }

    /// The det-fill backbone as a checkpoint holds it (`backbone.*`, BatchNorm unfolded).
    public static func deterministicBackboneStateDict(depth: BackboneKind) -> [(name: String, tensor: Tensor)] {
        Backbone.parameterShapes(kind: depth).map { (name: "backbone." + $0.name, tensor: detFill(name: "backbone." + $0.name, shape: $0.shape)) }
    }
}

extension HSNet {
    /// PATNet with det-fill weights: the det-fill HSNet plus `reference_layer1..3` (weights
    /// and the unused biases) by the same rule, as `scripts/fixtures/patnet_references.py`
    /// builds the published model.
    public static func withDeterministicPATNetWeights(backbone depth: ResNetDepth = .resnet50) throws -> HSNet {
        try HSNet(stateDict: deterministicStateDict(backbone: BackboneKind(depth)) + deterministicReferenceLayers(),
                  source: "deterministic weights")
    }

    /// `reference_layer1..3.weight` [2, 512 / 1024 / 2048] and `.bias` [2], det-fill.
    public static func deterministicReferenceLayers() -> [(name: String, tensor: Tensor)] {
        (1...3).flatMap { index -> [(name: String, tensor: Tensor)] in
            let channels = ResNetBackbone.layerChannels[index]
            return [(name: "reference_layer\(index).weight", tensor: detFill(name: "reference_layer\(index).weight", shape: [2, channels])),
                    (name: "reference_layer\(index).bias", tensor: detFill(name: "reference_layer\(index).bias", shape: [2]))]
        }
    }
}
