import Foundation
import TensorCore

/// Adaptive channel phase attention (ACPA) of "Lightweight Frequency Masker for Cross-Domain
/// Few-Shot Semantic Segmentation" (NeurIPS 2024):
///
///     y = x * sigmoid(W2 relu(W1 avgpool(angle(fft2(x)))))
///
/// with W1 [8, C] (`phase_attn.0.weight`) and W2 [C, 8] (`phase_attn.2.weight`), no biases;
/// the hidden width is 8 whatever C is.
///
/// The pooled phase of a real plane. x is real, so its spectrum is Hermitian,
/// F(-k) = conj F(k), and angle(F(-k)) = -angle(F(k)): in the mean over all H x W frequencies
/// every frequency cancels against its mirror, except along the self-mirrored columns
/// (k2 = 0, and k2 = W/2 for even W), where we add the angles up. Those columns are the 1D
/// DFTs of the plane's row sums (and alternating row sums), so the pooled phase costs
/// O(H * W + H^2) per plane instead of a full 2D transform and H * W atan2.
///
/// The same symmetry makes the gradient that flows back through the phase path exactly zero:
/// d angle(F(k)) / dx + d angle(F(-k)) / dx = 0 for every pair, and at self-conjugate
/// frequencies F is real for every real x, so its angle is piecewise constant. The input
/// gradient is therefore the direct product's alone, dL/dx = dL/dy * attention; the tests check
/// this against the published module and by finite differences through the whole forward.
public final class ChannelPhaseAttention: FeaturePlugin {
    public static let hiddenWidth = 8

    public let channels: Int
    public private(set) var firstWeight: Tensor
    public private(set) var secondWeight: Tensor

    /// Fresh weights as torch's `nn.Linear` default: uniform in +-1/sqrt(fan_in), drawn from
    /// `generator` (first W1 row-major, then W2).
    public init(channels: Int, generator: inout SeededGenerator) {
        precondition(channels > 0, "channel count must be positive")
        self.channels = channels
        let hidden = Self.hiddenWidth
        let firstBound = 1 / Float(channels).squareRoot()
        let secondBound = 1 / Float(hidden).squareRoot()
        firstWeight = Tensor(shape: [hidden, channels],
                             scalars: (0..<(hidden * channels)).map { _ in generator.uniform(-firstBound, firstBound) })
        secondWeight = Tensor(shape: [channels, hidden],
                              scalars: (0..<(hidden * channels)).map { _ in generator.uniform(-secondBound, secondBound) })
    }

    public init(firstWeight: Tensor, secondWeight: Tensor) throws {
        let hidden = Self.hiddenWidth
        guard firstWeight.rank == 2, firstWeight.shape[0] == hidden, firstWeight.shape[1] > 0 else {
            throw InputError("phase_attn.0.weight has shape \(firstWeight.shapeDescription), expected [\(hidden), C]")
        }
        channels = firstWeight.shape[1]
        guard secondWeight.shape == [channels, hidden] else {
            throw InputError("phase_attn.2.weight has shape \(secondWeight.shapeDescription), expected [\(channels), \(hidden)] to match phase_attn.0.weight \(firstWeight.shapeDescription)")
        }
        self.firstWeight = firstWeight
        self.secondWeight = secondWeight
    }

    public var kind: String { "acpa" }

    public var parameters: [(name: String, value: Tensor)] {
        [("phase_attn.0.weight", firstWeight), ("phase_attn.2.weight", secondWeight)]
    }

    public func setParameter(_ name: String, to value: Tensor) throws {
        switch name {
        case "phase_attn.0.weight":
            try checkShape(value, of: name, expected: firstWeight.shape)
            firstWeight = value
        case "phase_attn.2.weight":
            try checkShape(value, of: name, expected: secondWeight.shape)
            secondWeight = value
        default:
            throw InputError("channel phase attention has no parameter \"\(name)\" (it has phase_attn.0.weight, phase_attn.2.weight)")
        }
    }

    // MARK: - Forward

    final class Tape: PluginTape {
        let input: Tensor
        /// [N, C] pooled phases, [N, 8] hidden pre-activations, [N, C] attention weights.
        let pooled: [Float], hidden: [Float], attention: [Float]

        init(input: Tensor, pooled: [Float], hidden: [Float], attention: [Float]) {
            self.input = input
            self.pooled = pooled
            self.hidden = hidden
            self.attention = attention
        }
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try forwardForTraining(x).output
    }

    public func forwardForTraining(_ x: Tensor) throws -> (output: Tensor, tape: PluginTape) {
        try validate(x)
        let (batch, height, width) = (x.shape[0], x.shape[2], x.shape[3])
        let planeSize = height * width
        let pooled = pooledPhase(x)
        let hiddenWidth = Self.hiddenWidth
        var hidden = [Float](repeating: 0, count: batch * hiddenWidth)
        var attention = [Float](repeating: 0, count: batch * channels)
        for n in 0..<batch {
            for j in 0..<hiddenWidth {
                var total: Float = 0
                for c in 0..<channels { total += firstWeight.scalars[j * channels + c] * pooled[n * channels + c] }
                hidden[n * hiddenWidth + j] = total
            }
            for c in 0..<channels {
                var total: Float = 0
                for j in 0..<hiddenWidth { total += secondWeight.scalars[c * hiddenWidth + j] * max(hidden[n * hiddenWidth + j], 0) }
                attention[n * channels + c] = sigmoid(total)
            }
        }
        let output = Tensor(shape: x.shape, unsafeUninitialized: { out in
            x.withUnsafeBufferPointer { input in
                for plane in 0..<(batch * channels) {
                    let weight = attention[plane]
                    for i in (plane * planeSize)..<((plane + 1) * planeSize) { out[i] = input[i] * weight }
                }
            }
        })
        return (output, Tape(input: x, pooled: pooled, hidden: hidden, attention: attention))
    }

    /// avgpool(angle(fft2(x))) for every plane, [N * C], through the self-mirrored columns
    /// (see the type's documentation).
    func pooledPhase(_ x: Tensor) -> [Float] {
        let (height, width) = (x.shape[2], x.shape[3])
        let planes = x.shape[0] * x.shape[1]
        let planeSize = height * width
        // The columns k2 = 0 and, for even W, k2 = W/2: DFTs over h of
        // sum_w x[h, w] and sum_w (-1)^w x[h, w].
        let columns = width % 2 == 0 && width > 1 ? 2 : 1
        let cosine = (0..<(height * height)).map { cos(2 * Double.pi * Double(($0 / height) * ($0 % height) % height) / Double(height)) }
        let sine = (0..<(height * height)).map { -sin(2 * Double.pi * Double(($0 / height) * ($0 % height) % height) / Double(height)) }
        var pooled = [Float](repeating: 0, count: planes)
        x.withUnsafeBufferPointer { input in
            pooled.withUnsafeMutableBufferPointer { out in
                let outBase = out.baseAddress!
                parallelFor(planes, minimumChunk: 64) { range in
                    var rowSums = [Double](repeating: 0, count: height * columns)
                    for plane in range {
                        let base = input.baseAddress! + plane * planeSize
                        for h in 0..<height {
                            var plain = 0.0, alternating = 0.0
                            for w in 0..<width {
                                let value = Double(base[h * width + w])
                                plain += value
                                alternating += w % 2 == 0 ? value : -value
                            }
                            rowSums[h] = plain
                            if columns == 2 { rowSums[height + h] = alternating }
                        }
                        var angleSum = 0.0
                        for column in 0..<columns {
                            for k1 in 0..<height {
                                var re = 0.0, im = 0.0
                                for h in 0..<height {
                                    let s = rowSums[column * height + h]
                                    re += s * cosine[k1 * height + h]
                                    im += s * sine[k1 * height + h]
                                }
                                // Self-conjugate frequencies are real: their angle is 0 or pi.
                                if k1 == 0 || (height % 2 == 0 && k1 == height / 2) { im = 0 }
                                angleSum += atan2(im, re)
                            }
                        }
                        outBase[plane] = Float(angleSum / Double(planeSize))
                    }
                }
            }
        }
        return pooled
    }

    func validate(_ x: Tensor) throws {
        guard x.rank == 4, x.shape[1] == channels, x.shape[2] > 0, x.shape[3] > 0 else {
            throw InputError("channel phase attention input has shape \(x.shapeDescription), expected [N, \(channels), H, W]")
        }
        if let bad = x.firstNonFiniteIndex() {
            throw InputError("channel phase attention input holds a non-finite value (\(x.scalars[bad])) at flat index \(bad)")
        }
    }

    // MARK: - Backward

    /// dL/dx = dL/dy * attention (the phase path contributes exactly zero, see above);
    /// dL/dattention[n, c] = sum over the plane of dL/dy * x, then back through the sigmoid,
    /// W2, the ReLU and W1 to both weight matrices.
    public func backward(_ gradOutput: Tensor, tape: PluginTape,
                         parameterGradients: inout [String: Tensor]) -> Tensor {
        guard let tape = tape as? Tape else { preconditionFailure("tape from another plug-in") }
        let x = tape.input
        precondition(gradOutput.shape == x.shape, "gradient shape \(gradOutput.shapeDescription) differs from the forward's \(x.shapeDescription)")
        let batch = x.shape[0]
        let planeSize = x.shape[2] * x.shape[3]
        let hiddenWidth = Self.hiddenWidth
        var gradScores = [Float](repeating: 0, count: batch * channels)
        let gradInput = Tensor(shape: x.shape, unsafeUninitialized: { out in
            x.withUnsafeBufferPointer { input in
                gradOutput.withUnsafeBufferPointer { g in
                    for plane in 0..<(batch * channels) {
                        let weight = tape.attention[plane]
                        var gradAttention: Float = 0
                        for i in (plane * planeSize)..<((plane + 1) * planeSize) {
                            out[i] = g[i] * weight
                            gradAttention += g[i] * input[i]
                        }
                        gradScores[plane] = gradAttention * weight * (1 - weight)
                    }
                }
            }
        })
        var gradFirst = [Float](repeating: 0, count: hiddenWidth * channels)
        var gradSecond = [Float](repeating: 0, count: channels * hiddenWidth)
        for n in 0..<batch {
            for j in 0..<hiddenWidth {
                let preActivation = tape.hidden[n * hiddenWidth + j]
                var gradHidden: Float = 0
                for c in 0..<channels {
                    let gs = gradScores[n * channels + c]
                    gradSecond[c * hiddenWidth + j] += gs * max(preActivation, 0)
                    gradHidden += gs * secondWeight.scalars[c * hiddenWidth + j]
                }
                guard preActivation > 0 else { continue }
                for c in 0..<channels { gradFirst[j * channels + c] += gradHidden * tape.pooled[n * channels + c] }
            }
        }
        parameterGradients.accumulate("phase_attn.0.weight", Tensor(shape: firstWeight.shape, scalars: gradFirst))
        parameterGradients.accumulate("phase_attn.2.weight", Tensor(shape: secondWeight.shape, scalars: gradSecond))
        return gradInput
    }
}
