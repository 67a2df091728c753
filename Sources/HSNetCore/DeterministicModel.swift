import TensorCore

extension HSNet {
    /// HSNet with every backbone and learner parameter set by the det-fill rule of the
    /// reference fixtures (`detFill`): pseudo-random values of the right scale, the same on
    /// every machine. What the benchmarks and the fixture tests run on; no maskers installed.
    public static func withDeterministicWeights() throws -> HSNet {
        let learner = HPNLearner.parameterShapes.map { (name: "hpn_learner." + $0.name, tensor: detFill(name: "hpn_learner." + $0.name, shape: $0.shape)) }
        return try HSNet(stateDict: deterministicBackboneStateDict + learner, source: "deterministic weights")
    }

    /// The det-fill backbone as a checkpoint holds it (`backbone.*`, BatchNorm unfolded).
    public static var deterministicBackboneStateDict: [(name: String, tensor: Tensor)] {
        ResNet50Backbone.parameterShapes.map { (name: "backbone." + $0.name, tensor: detFill(name: "backbone." + $0.name, shape: $0.shape)) }
    }
}
