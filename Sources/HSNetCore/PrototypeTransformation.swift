import Foundation
import TensorCore

/// PATNet's pyramid-anchored transformation (Lei et al., ECCV 2022, `Transformation_Feature`):
/// before the correlation, the query and the masked support taps of one shot are both
/// multiplied by Pᵀ, where P = pinv(Ĉ) R̂ maps the support's own foreground/background
/// prototypes onto learned domain-agnostic anchors.
///
/// Per tap: Ĉ [2 x C] holds the support's background and foreground prototypes (rows, in that
/// order), R̂ [2 x C] the weight of the reference layer of the tap's backbone layer
/// (`reference_layer1` for layer 2's 512 channels, `2` for layer 3, `3` for layer 4; their
/// biases are never used), each row divided by its norm + 1e-6. Pᵀx = R̂ᵀ (pinv(Ĉ)ᵀ x): the
/// product is formed through the 2-row middle, never as the C x C matrix P.
public struct PrototypeTransformation {
    /// The reference weights [2, C] by backbone layer (2, 3, 4).
    public private(set) var references: [Int: Tensor]

    /// PATNet's epsilon in the prototype divisions and the row normalisations.
    public static let epsilon: Float = 1e-6

    /// Creates the transformation; each weight must be [2, channels of its layer].
    public init(references: [Int: Tensor], source: String = "PATNet") throws {
        for layer in 2...4 {
            let channels = ResNetBackbone.layerChannels[layer - 1]
            guard let weight = references[layer] else {
                throw InputError("\(source): missing \(Self.parameterName(layer: layer))")
            }
            guard weight.shape == [2, channels] else {
                throw InputError("\(source): \(Self.parameterName(layer: layer)) has shape \(weight.shapeDescription), expected [2, \(channels)]")
            }
        }
        self.references = references
    }

    /// The checkpoint name of the reference weight of backbone layer `layer` (2, 3, 4).
    public static func parameterName(layer: Int) -> String { "reference_layer\(layer - 1).weight" }

    /// The weights under their checkpoint names.
    public var namedParameters: [(name: String, tensor: Tensor)] {
        (2...4).map { (Self.parameterName(layer: $0), references[$0]!) }
    }

    // MARK: Prototypes

    /// The background and foreground prototypes [2, C] of every tap of one support image, as
    /// PATNet's `mask_feature`: the mask (bilinearly resized, align_corners=True, as the
    /// masking resizes it) weights the positions, sum(x m) / (sum m + 1e-6), and 1 - m for the
    /// background. Sums run in double precision.
    public static func prototypes(of taps: [Tensor], mask: Tensor) -> [[Float]] {
        precondition(mask.rank == 2)
        let image = mask.reshaped([1, 1, mask.shape[0], mask.shape[1]])
        var planes: [[Int]: Tensor] = [:]
        return taps.map { tap in
            let (c, h, w) = (tap.shape[1], tap.shape[2], tap.shape[3])
            let plane = planes[[h, w]] ?? BilinearResize(outputHeight: h, outputWidth: w).forward(image)
            planes[[h, w]] = plane
            let n = h * w
            return plane.withUnsafeBufferPointer { m in
                var foregroundArea = 0.0, backgroundArea = 0.0
                for i in 0..<n {
                    foregroundArea += Double(m[i])
                    backgroundArea += Double(1 - m[i])
                }
                let (fDivisor, bDivisor) = (foregroundArea + Double(epsilon), backgroundArea + Double(epsilon))
                var rows = [Float](repeating: 0, count: 2 * c)
                tap.withUnsafeBufferPointer { x in
                    rows.withUnsafeMutableBufferPointer { out in
                        let base = out.baseAddress!
                        parallelFor(c, minimumChunk: max(1, 16_384 / max(n, 1))) { range in
                            for channel in range {
                                let row = x.baseAddress! + channel * n
                                var foreground = 0.0, background = 0.0
                                for i in 0..<n {
                                    foreground += Double(row[i] * m[i])
                                    background += Double(row[i] * (1 - m[i]))
                                }
                                base[channel] = Float(background / bDivisor)
                                base[c + channel] = Float(foreground / fDivisor)
                            }
                        }
                    }
                }
                return rows
            }
        }
    }

    /// `rows` [2, C] with each row divided by its norm + 1e-6 (a zero row stays zero).
    static func normalizedRows(_ rows: [Float]) -> [Float] {
        let c = rows.count / 2
        var out = rows
        for r in 0..<2 {
            var sum = 0.0
            for j in 0..<c { sum += Double(rows[r * c + j]) * Double(rows[r * c + j]) }
            let divisor = Float(sum.squareRoot()) + epsilon
            for j in 0..<c { out[r * c + j] = rows[r * c + j] / divisor }
        }
        return out
    }

    // MARK: Pseudo-inverse

    /// The Moore-Penrose pseudo-inverse [C, 2] of a 2-row matrix `a` [2, C], as
    /// `torch.pinverse` (SVD, singular values at most 1e-15 times the largest treated as 0)
    /// computes it, in closed form through the 2 x 2 Gram matrix G = A Aᵀ (in double):
    ///
    /// - rank 2 (σ₂ > 1e-15 σ₁, i.e. det G > 1e-30 λ₁²): A⁺ = Aᵀ G⁻¹;
    /// - rank 1 (a zero prototype row: an empty or a full support mask): A⁺ = Aᵀ u uᵀ / λ₁
    ///   with u the top eigenvector of G, which is Aᵀ / ‖A‖² for one zero row;
    /// - zero: A⁺ = 0.
    public static func pseudoInverse(_ a: [Float]) -> [Float] {
        let c = a.count / 2
        var p = 0.0, q = 0.0, r = 0.0
        for j in 0..<c {
            let (x, y) = (Double(a[j]), Double(a[c + j]))
            p += x * x
            q += x * y
            r += y * y
        }
        let half = (p - r) / 2
        let largest = (p + r) / 2 + (half * half + q * q).squareRoot()
        var out = [Float](repeating: 0, count: 2 * c)
        guard largest > 0 else { return out }
        let determinant = p * r - q * q
        if determinant > 1e-30 * largest * largest {
            for j in 0..<c {
                let (x, y) = (Double(a[j]), Double(a[c + j]))
                out[2 * j] = Float((r * x - q * y) / determinant)
                out[2 * j + 1] = Float((p * y - q * x) / determinant)
            }
            return out
        }
        // The top eigenvector of [[p, q], [q, r]], from the better-conditioned row.
        var (u0, u1) = p >= r ? (largest - r, q) : (q, largest - p)
        if u0 == 0 && u1 == 0 { (u0, u1) = p >= r ? (1, 0) : (0, 1) }
        let length = (u0 * u0 + u1 * u1).squareRoot()
        (u0, u1) = (u0 / length, u1 / length)
        for j in 0..<c {
            let projection = (Double(a[j]) * u0 + Double(a[c + j]) * u1) / largest
            out[2 * j] = Float(projection * u0)
            out[2 * j + 1] = Float(projection * u1)
        }
        return out
    }

    // MARK: Forward

    /// One tap's transformation for one shot: pinv(Ĉ) [C, 2] and R̂ [2, C].
    public struct TapTransform {
        public let channels: Int
        /// pinv(Ĉ), [C, 2] row-major.
        public let pseudoInverse: Tensor
        /// R̂, [2, C].
        public let reference: Tensor

        /// Pᵀ x for `x` [1, C, H, W], with the 2-row middle pinv(Ĉ)ᵀ x [2, H W] it went through.
        public func applyKeepingMiddle(_ x: Tensor) -> (output: Tensor, middle: Tensor) {
            precondition(x.rank == 4 && x.shape[0] == 1 && x.shape[1] == channels,
                         "prototype transformation of \(channels) channels applied to \(x.shapeDescription)")
            let flat = x.reshaped([channels, x.shape[2] * x.shape[3]])
            let middle = matmul(pseudoInverse, flat, transposeA: true)
            return (matmul(reference, middle, transposeA: true).reshaped(x.shape), middle)
        }

        public func apply(_ x: Tensor) -> Tensor { applyKeepingMiddle(x).output }
    }

    /// The transforms of every tap from the support's prototypes (`prototypes(of:mask:)`);
    /// `tapLayers[i]` is tap i's backbone layer.
    public func transforms(prototypes: [[Float]], tapLayers: [Int]) -> [TapTransform] {
        var normalizedReferences: [Int: Tensor] = [:]
        for (layer, weight) in references {
            normalizedReferences[layer] = Tensor(shape: weight.shape, scalars: Self.normalizedRows(weight.scalars))
        }
        return zip(prototypes, tapLayers).map { rows, layer in
            let c = rows.count / 2
            let inverse = Self.pseudoInverse(Self.normalizedRows(rows))
            return TapTransform(channels: c, pseudoInverse: Tensor(shape: [c, 2], scalars: inverse),
                                reference: normalizedReferences[layer]!)
        }
    }
}

extension HSNet {
    /// The published name of the model: "PATNet" when it carries the prototype transformation.
    public var modelName: String { prototypeTransformation == nil ? "HSNet" : "PATNet" }
}

extension HSNet {
    /// PATNet's `reference_layer1..3.weight` (and their unused biases, [2] each) from a
    /// checkpoint, nil when it holds none (HSNet); misshapen or missing ones are reported by
    /// `reader` with the checkpoint's other problems.
    static func readPrototypeTransformation(_ stateDict: [(name: String, tensor: Tensor)],
                                            reader: StateDictReader) throws -> PrototypeTransformation? {
        guard SupportedModels.isPATNet(stateDict.map(\.name)) else { return nil }
        var references: [Int: Tensor] = [:]
        for layer in 2...4 {
            let name = PrototypeTransformation.parameterName(layer: layer)
            references[layer] = reader.take(name, shape: [2, ResNetBackbone.layerChannels[layer - 1]])
            // PATNet declares nn.Linear layers but uses only their weights.
            reader.ignore("reference_layer\(layer - 1).bias")
        }
        guard references.count == 3 else { return nil }
        return try PrototypeTransformation(references: references, source: reader.source)
    }
}

// MARK: Backward

extension PrototypeTransformation {
    /// The gradient of the reference weights [2, C] of one backbone layer from the gradient of
    /// R̂: through the row normalisation R̂ = R / (‖R‖ + 1e-6), per row
    /// dR = (dR̂ − R̂ (R̂ᵀdR̂) (‖R‖ + ε) / ‖R‖) / (‖R‖ + ε), and dR̂ / ε for a zero row (torch's
    /// norm has gradient 0 at 0).
    func referenceGradient(layer: Int, normalizedGradient: Tensor) -> Tensor {
        let weight = references[layer]!
        let c = weight.shape[1]
        var out = [Float](repeating: 0, count: 2 * c)
        let eps = Double(Self.epsilon)
        for r in 0..<2 {
            var sum = 0.0
            for j in 0..<c { sum += Double(weight.scalars[r * c + j]) * Double(weight.scalars[r * c + j]) }
            let norm = sum.squareRoot()
            let divisor = norm + eps
            guard norm > 0 else {
                for j in 0..<c { out[r * c + j] = Float(Double(normalizedGradient.scalars[r * c + j]) / eps) }
                continue
            }
            var dot = 0.0
            for j in 0..<c { dot += Double(weight.scalars[r * c + j]) / divisor * Double(normalizedGradient.scalars[r * c + j]) }
            for j in 0..<c {
                let hat = Double(weight.scalars[r * c + j]) / divisor
                out[r * c + j] = Float((Double(normalizedGradient.scalars[r * c + j]) - hat * dot * divisor / norm) / divisor)
            }
        }
        return Tensor(shape: [2, c], scalars: out)
    }

    /// Replaces the reference weights (after an optimiser step), checking their shapes.
    public mutating func setReferences(_ weights: [Int: Tensor]) throws {
        self = try PrototypeTransformation(references: weights, source: "the trained reference layers")
    }
}

extension HSNet {
    /// PATNet's training step on one 1-shot episode, as its `train.py`: the mean two-class
    /// cross-entropy of the logits (resized to the mask's size) against `queryMask` [H, W]
    /// (0/1), and the gradients of every learner weight (`hpn_learner.*`) and of the three
    /// reference weights (`reference_layerN.weight`). The backbone is frozen and the
    /// prototypes come from its taps, so no gradient runs through the pseudo-inverse: R
    /// enters as Pᵀx = R̂ᵀ m with m = pinv(Ĉ)ᵀ x fixed, dR̂ = Σ m (dPᵀx)ᵀ over the taps of the
    /// layer and both images, from the correlation backward of every pyramid.
    public func patnetLossAndGradients(queryTaps: [Tensor], supportTaps: [Tensor], supportMask: Tensor, queryMask: Tensor) throws
        -> (loss: Float, gradients: [String: Tensor]) {
        guard let transformation = prototypeTransformation else {
            throw InputError("the model is HSNet: reference-layer gradients need PATNet (reference_layer1..3)")
        }
        if let slot = plugins.occupied.first?.slot {
            throw InputError("plug-in slot \(slot.name): PATNet is trained without plug-ins (its train.py); remove the maskers")
        }
        let layers = backbone.tapLayers
        guard queryTaps.count == layers.count, supportTaps.count == layers.count else {
            throw InputError("expected \(layers.count) backbone taps per image, got \(queryTaps.count) (query) and \(supportTaps.count) (support)")
        }
        let mask = supportMask.reshaped(Array(supportMask.shape.suffix(2)))
        let target = queryMask.reshaped(Array(queryMask.shape.suffix(2)))
        if let bad = target.scalars.first(where: { $0 != 0 && $0 != 1 }) {
            throw InputError("query mask holds \(bad); a training target must hold only 0 (background) and 1 (foreground)")
        }
        let transforms = transformation.transforms(prototypes: PrototypeTransformation.prototypes(of: supportTaps, mask: mask),
                                                   tapLayers: layers)
        var masked = supportTaps
        Self.maskSupportFeatures(&masked, mask: mask)
        var middles: [(query: Tensor, support: Tensor)] = []
        var queryOperands: [Hypercorrelation.Operand] = []
        var supportOperands: [Hypercorrelation.Operand] = []
        for t in layers.indices {
            let (q, qm) = transforms[t].applyKeepingMiddle(queryTaps[t])
            let (s, sm) = transforms[t].applyKeepingMiddle(masked[t])
            middles.append((qm, sm))
            queryOperands.append(Hypercorrelation.Operand(q, droppingZeroPositions: false))
            supportOperands.append(Hypercorrelation.Operand(s, droppingZeroPositions: true))
        }
        masked = []
        let groups = [4, 3, 2].map { layer in layers.indices.filter { layers[$0] == layer } }
        let pyramids = groups.map { taps in
            Hypercorrelation.pyramid(query: taps.map { queryOperands[$0] }, support: taps.map { supportOperands[$0] })
        }
        let (decoderLogits, tape) = try learner.forwardForTraining(pyramids: pyramids)
        let resize = BilinearResize(outputHeight: target.shape[0], outputWidth: target.shape[1])
        let (loss, gradLogits) = Self.crossEntropy(logits: resize.forward(decoderLogits), target: target)
        let gradDecoder = resize.backward(gradLogits, inputShape: decoderLogits.shape)
        var gradients: [String: Tensor] = [:]
        for (name, value) in learner.weightGradients(gradDecoder, tape: tape) { gradients[Self.learnerPrefix + name] = value }
        let pyramidGradients = learner.backwardToPyramids(gradDecoder, tape: tape, layers: [2, 3, 4])
        for (index, layer) in [4, 3, 2].enumerated() {
            let taps = groups[index]
            let (gq, gs) = Hypercorrelation.backward(pyramidGradients[layer]!, pyramid: pyramids[index],
                                                     query: taps.map { queryOperands[$0] }, support: taps.map { supportOperands[$0] })
            let channels = ResNetBackbone.layerChannels[layer - 1]
            var gradHat = Tensor(zeros: [2, channels])
            for (k, t) in taps.enumerated() {
                for (middle, grad) in [(middles[t].query, gq[k]), (middles[t].support, gs[k])] {
                    gradHat.addScaled(matmul(middle, grad.reshaped([channels, grad.count / channels]), transposeB: true))
                }
            }
            gradients[PrototypeTransformation.parameterName(layer: layer)] =
                transformation.referenceGradient(layer: layer, normalizedGradient: gradHat)
        }
        return (loss, gradients)
    }
}

extension PrototypeTransformation {
    /// Fresh reference weights as PATNet initialises them: Kaiming normal, fan_in, linear
    /// gain (standard deviation 1/sqrt(C)); the biases PATNet sets to 0 are never used. Normal
    /// draws by Box-Muller from a SplitMix64 stream per weight, seeded by `seed` and the
    /// weight's name (the same on every machine, not torch's numbers).
    public static func freshlyInitialized(seed: UInt64) throws -> PrototypeTransformation {
        var references: [Int: Tensor] = [:]
        for layer in 2...4 {
            let channels = ResNetBackbone.layerChannels[layer - 1]
            var generator = SeededGenerator(seed: seed ^ fnv1a64(parameterName(layer: layer)))
            let deviation = 1 / Double(channels).squareRoot()
            references[layer] = Tensor(shape: [2, channels], scalars: (0..<(2 * channels)).map { _ in
                let u1 = max(Double(generator.next() >> 11) * 0x1p-53, 0x1p-53)
                let u2 = Double(generator.next() >> 11) * 0x1p-53
                return Float(deviation * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
            })
        }
        return try PrototypeTransformation(references: references, source: "fresh initialisation")
    }
}
