import TensorCore

extension HPNLearner {
    /// A learner as PyTorch initialises a fresh one (HSNet's training starts there): every
    /// convolution's weight and bias uniform in ±1/sqrt(fan_in) (torch's default, Kaiming
    /// uniform with a = sqrt(5)), GroupNorm's weight 1 and bias 0. The draws come from a
    /// SplitMix64 stream per parameter, seeded by `seed` and the parameter's name, so a run is
    /// the same on every machine (not the same numbers as torch's generator).
    public static func freshlyInitialized(seed: UInt64, backbone depth: BackboneKind = .resnet50) throws -> HPNLearner {
        let parameterShapes = parameterShapes(backbone: depth)
        let parameters = parameterShapes.map { entry -> (name: String, tensor: Tensor) in
            let isNorm = entry.shape.count == 1 && !entry.name.contains(".conv") && !entry.name.hasPrefix("decoder")
            if isNorm {
                return (entry.name, Tensor(repeating: entry.name.hasSuffix(".weight") ? 1 : 0, shape: entry.shape))
            }
            // A bias has the fan-in of its convolution's weight.
            let weightName = entry.name.hasSuffix(".bias") ? String(entry.name.dropLast(4)) + "weight" : entry.name
            let weightShape = parameterShapes.first { $0.name == weightName }!.shape
            let bound = 1 / Float(weightShape.dropFirst().reduce(1, *)).squareRoot()
            var generator = SeededGenerator(seed: seed ^ fnv1a64(entry.name))
            return (entry.name, Tensor(shape: entry.shape, scalars: (0..<entry.shape.reduce(1, *)).map { _ in
                generator.uniform(-bound, bound)
            }))
        }
        return try HPNLearner(stateDict: parameters, prefix: "", backbone: depth, source: "fresh initialisation")
    }
}
