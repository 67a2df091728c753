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

    /// The backward of `prototypes(of:mask:)` for one tap [1, C, H, W]: from the gradient of
    /// the prototypes [2, C] (background row, foreground row), the tap's gradient
    /// dx[c, i] = dbg[c] (1 − m_i) / (Σ(1 − m) + ε) + dfg[c] m_i / (Σm + ε).
    public static func prototypesBackward(_ gradient: [Float], tapShape: [Int], mask: Tensor) -> Tensor {
        precondition(mask.rank == 2 && tapShape.count == 4 && gradient.count == 2 * tapShape[1])
        let (c, h, w) = (tapShape[1], tapShape[2], tapShape[3])
        let plane = BilinearResize(outputHeight: h, outputWidth: w).forward(mask.reshaped([1, 1, mask.shape[0], mask.shape[1]]))
        let m = plane.scalars
        var foregroundArea = 0.0, backgroundArea = 0.0
        for value in m {
            foregroundArea += Double(value)
            backgroundArea += Double(1 - value)
        }
        let foregroundWeights = m.map { Float(Double($0) / (foregroundArea + Double(epsilon))) }
        let backgroundWeights = m.map { Float(Double(1 - $0) / (backgroundArea + Double(epsilon))) }
        let n = h * w
        var out = [Float](repeating: 0, count: c * n)
        for channel in 0..<c {
            let (background, foreground) = (gradient[channel], gradient[c + channel])
            for i in 0..<n { out[channel * n + i] = background * backgroundWeights[i] + foreground * foregroundWeights[i] }
        }
        return Tensor(shape: tapShape, scalars: out)
    }

    /// The gradient of one support tap [1, C, H, W] through its prototypes, from the gradient of
    /// the pseudo-inverse of its transform (`TapTransform.backward`): back through
    /// `pseudoInverse`, `normalizedRows` and `prototypes(of:mask:)`.
    public static func tapGradientThroughPrototypes(prototypes rows: [Float], gradPseudoInverse: Tensor,
                                                    tapShape: [Int], mask: Tensor) -> Tensor {
        let normalized = normalizedRows(rows)
        let gradNormalized = pseudoInverseBackward(normalized, pseudoInverse: pseudoInverse(normalized),
                                                   gradient: gradPseudoInverse.scalars)
        return prototypesBackward(normalizedRowsBackward(rows, gradient: gradNormalized), tapShape: tapShape, mask: mask)
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

    /// The backward of `normalizedRows`: per row r with norm n = ‖r‖ and r̂ = r / (n + ε),
    /// dr = (dr̂ − r̂ (r̂ · dr̂) (n + ε) / n) / (n + ε). A zero row gets dr̂ / ε (its norm taken as
    /// having gradient 0 there; torch's sqrt of the sum of squares gives NaN at 0, and an
    /// empty-mask pair is never trained on).
    static func normalizedRowsBackward(_ rows: [Float], gradient: [Float]) -> [Float] {
        let c = rows.count / 2
        var out = [Float](repeating: 0, count: 2 * c)
        let eps = Double(epsilon)
        for r in 0..<2 {
            var sum = 0.0
            for j in 0..<c { sum += Double(rows[r * c + j]) * Double(rows[r * c + j]) }
            let norm = sum.squareRoot()
            let divisor = norm + eps
            guard norm > 0 else {
                for j in 0..<c { out[r * c + j] = Float(Double(gradient[r * c + j]) / eps) }
                continue
            }
            var dot = 0.0
            for j in 0..<c { dot += Double(rows[r * c + j]) / divisor * Double(gradient[r * c + j]) }
            for j in 0..<c {
                let hat = Double(rows[r * c + j]) / divisor
                out[r * c + j] = Float((Double(gradient[r * c + j]) - hat * dot * divisor / norm) / divisor)
            }
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

    /// The backward of `pseudoInverse`: dL/dA [2, C] from dL/dA⁺ `gradient` [C, 2], with X = A⁺,
    /// by the derivative of the Moore-Penrose inverse at constant rank (Golub and Pereyra),
    /// dX = −X dA X + X Xᵀ dAᵀ (I − A X) + (I − X A) dAᵀ Xᵀ X, whose adjoint is
    ///
    ///     dL/dA = −(X K)ᵀ + (I − A X) K Xᵀ + Xᵀ X (Ḡᵀ − K A),   K = Ḡᵀ X  [2 x 2],
    ///
    /// the formula torch's autograd applies to `pinverse` (the same for the rank-1 matrices of a
    /// zero prototype row, where A X is not the identity). All products go through 2 x 2
    /// matrices, in double.
    public static func pseudoInverseBackward(_ a: [Float], pseudoInverse x: [Float], gradient g: [Float]) -> [Float] {
        let c = a.count / 2
        precondition(x.count == 2 * c && g.count == 2 * c, "pseudo-inverse backward: sizes do not fit")
        // K = Ḡᵀ X, A X, Xᵀ X (2 x 2, row-major).
        var k = [Double](repeating: 0, count: 4), ax = k, xtx = k
        for j in 0..<c {
            let (x0, x1) = (Double(x[2 * j]), Double(x[2 * j + 1]))
            let (g0, g1) = (Double(g[2 * j]), Double(g[2 * j + 1]))
            let (a0, a1) = (Double(a[j]), Double(a[c + j]))
            k[0] += g0 * x0; k[1] += g0 * x1; k[2] += g1 * x0; k[3] += g1 * x1
            ax[0] += a0 * x0; ax[1] += a0 * x1; ax[2] += a1 * x0; ax[3] += a1 * x1
            xtx[0] += x0 * x0; xtx[1] += x0 * x1; xtx[2] += x1 * x0; xtx[3] += x1 * x1
        }
        // (I − A X) K, applied to Xᵀ below.
        let m = [(1 - ax[0]) * k[0] - ax[1] * k[2], (1 - ax[0]) * k[1] - ax[1] * k[3],
                 -ax[2] * k[0] + (1 - ax[3]) * k[2], -ax[2] * k[1] + (1 - ax[3]) * k[3]]
        var out = [Float](repeating: 0, count: 2 * c)
        for j in 0..<c {
            let (x0, x1) = (Double(x[2 * j]), Double(x[2 * j + 1]))
            let (a0, a1) = (Double(a[j]), Double(a[c + j]))
            // Column j of Ḡᵀ − K A.
            let d0 = Double(g[2 * j]) - (k[0] * a0 + k[1] * a1)
            let d1 = Double(g[2 * j + 1]) - (k[2] * a0 + k[3] * a1)
            for r in 0..<2 {
                let xk = x0 * k[r] + x1 * k[2 + r]                 // (X K)[j][r]
                let mxt = m[2 * r] * x0 + m[2 * r + 1] * x1         // ((I − A X) K Xᵀ)[r][j]
                let last = xtx[2 * r] * d0 + xtx[2 * r + 1] * d1    // (Xᵀ X (Ḡᵀ − K A))[r][j]
                out[r * c + j] = Float(-xk + mxt + last)
            }
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

        /// The backward of `apply` for the inputs `xs` that share this transform (a shot's query
        /// and support taps): with m = A⁺ᵀx and y = R̂ᵀm, dm = R̂ dy, dx = A⁺ dm, and the
        /// gradient of A⁺ [C, 2] summed over the inputs, Σ x dmᵀ.
        public func backward(inputs xs: [Tensor], gradOutputs: [Tensor]) -> (gradInputs: [Tensor], gradPseudoInverse: Tensor) {
            precondition(xs.count == gradOutputs.count)
            var gradInverse = Tensor(zeros: [channels, 2])
            let gradInputs = zip(xs, gradOutputs).map { x, g -> Tensor in
                precondition(g.shape == x.shape && x.shape[1] == channels, "prototype transformation backward: shapes do not fit")
                let positions = x.shape[2] * x.shape[3]
                let gradMiddle = matmul(reference, g.reshaped([channels, positions]))           // [2, HW]
                gradInverse.addScaled(matmul(x.reshaped([channels, positions]), gradMiddle, transposeB: true))
                return matmul(pseudoInverse, gradMiddle).reshaped(x.shape)
            }
            return (gradInputs, gradInverse)
        }
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
    /// R̂ (`normalizedRowsBackward`).
    func referenceGradient(layer: Int, normalizedGradient: Tensor) -> Tensor {
        let weight = references[layer]!
        return Tensor(shape: weight.shape, scalars: Self.normalizedRowsBackward(weight.scalars, gradient: normalizedGradient.scalars))
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

// MARK: Masker fine-tuning through the transformation

extension PrototypeTransformation {
    /// One shot's transformation of the taps a masker step recomputes, forward and backward.
    /// The prototypes come from the support taps after the `.support` plug-ins (APM), so the
    /// masker's gradient reaches those taps twice: through the masking, the `.masked` plug-ins
    /// and Pᵀx, and through the prototypes, the row normalisation and the pseudo-inverse in P.
    public struct ShotTape {
        let prototypes: [[Float]]
        let transforms: [TapTransform]
        let mask: Tensor
        /// The inputs of Pᵀx (the taps after every plug-in and the masking).
        private(set) var query: [Tensor] = []
        private(set) var support: [Tensor] = []

        /// Prototypes and transforms from `supportTaps` (the support's taps before the
        /// masking), `tapLayers[i]` being tap i's backbone layer, `mask` [H, W].
        public init(_ transformation: PrototypeTransformation, supportTaps: [Tensor], tapLayers: [Int], mask: Tensor) {
            prototypes = PrototypeTransformation.prototypes(of: supportTaps, mask: mask)
            transforms = transformation.transforms(prototypes: prototypes, tapLayers: tapLayers)
            self.mask = mask
        }

        /// Pᵀx of every query and (masked) support tap, in place, keeping the inputs.
        public mutating func apply(query: inout [Tensor], support: inout [Tensor]) {
            (self.query, self.support) = (query, support)
            query = zip(transforms, query).map { $0.apply($1) }
            support = zip(transforms, support).map { $0.apply($1) }
        }

        /// From the gradients of the transformed taps, in place, those of Pᵀx's inputs; returns
        /// the gradient of every support tap before the masking through the prototypes (to add
        /// after the masking's adjoint).
        public func backward(gradQuery: inout [Tensor], gradSupport: inout [Tensor]) -> [Tensor] {
            transforms.indices.map { t in
                let (inputs, gradInverse) = transforms[t].backward(inputs: [query[t], support[t]],
                                                                   gradOutputs: [gradQuery[t], gradSupport[t]])
                (gradQuery[t], gradSupport[t]) = (inputs[0], inputs[1])
                return PrototypeTransformation.tapGradientThroughPrototypes(
                    prototypes: prototypes[t], gradPseudoInverse: gradInverse, tapShape: support[t].shape, mask: mask)
            }
        }
    }
}

extension HSNet {
    /// PATNet's correlation operands of the taps at `indices` (fixed during masker
    /// fine-tuning: no plug-ins on their layers): Pᵀ of the query taps and of the masked
    /// support taps, from the raw support taps' prototypes. HSNet's taps are returned as given.
    func fixedShotOperands(indices: [Int], queryTaps: [Tensor], supportTaps: [Tensor], maskedSupport: [Tensor],
                           mask: Tensor) -> (query: [Tensor], support: [Tensor]) {
        let query = indices.map { queryTaps[$0] }, support = indices.map { maskedSupport[$0] }
        guard let transformation = prototypeTransformation else { return (query, support) }
        let layers = backbone.tapLayers
        var shot = PrototypeTransformation.ShotTape(transformation, supportTaps: indices.map { supportTaps[$0] },
                                                    tapLayers: indices.map { layers[$0] }, mask: mask)
        var (q, s) = (query, support)
        shot.apply(query: &q, support: &s)
        return (q, s)
    }
}
