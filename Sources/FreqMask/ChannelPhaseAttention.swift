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
/// F(-k) = conj F(k), and angle(F(-k)) = -angle(F(k)) wherever F(k) is not real: in the mean
/// over all H x W frequencies such a pair cancels. A real coefficient has angle 0 when positive
/// and pi when negative (angle's branch cut, taken from the positive side: torch's FFT leaves
/// an exactly vanishing imaginary part +0), and its mirror is the same real number, so both
/// count pi. So avgpool(angle(fft2(x))) = pi * (number of frequencies k with F(k) real and
/// negative) / (H * W), exactly, with no transform. F(k) = sum_n x_n e^{-2 pi i t(k, n) / (H W)},
/// t = (k1 n1 W + k2 n2 H) mod H W, is real for generic values exactly when every non-zero
/// position n has t in {0, H W / 2}; F(k) is then sum_n ±x_n. For every plane that is true
/// of the self-conjugate frequencies (k = -k: the DC term, and for even H or W the Nyquist
/// terms (H/2, 0), (0, W/2), (H/2, W/2)); a plane with non-zero values at (0, 1) and (1, 0)
/// has no other real ones. A sparse plane can: a masked support tap whose only non-zero value
/// sits at the centre of a 3 x 3 plane has F(k) = x_c e^{-2 pi i (k1 + k2) / 3}, real at
/// (0, 0), (1, 2) and (2, 1), so its pooled phase is 3 pi / 9 when x_c < 0, not pi / 9. PyTorch
/// sums the full spectrum's angles and lands on these values up to rounding noise of about
/// 1e-8 on 3 x 3 and 4 x 4 planes (HSNet's layer 4 at 96 x 96 and 128 x 128); on larger sparse
/// planes pocketfft leaves rounding noise in place of the exact zeros, so its pooled phase
/// there depends on the sign of that noise, and this exact value is the one it approximates.
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

    /// The weights sigmoid(W2 relu(W1 avgpool(angle(fft2(x))))) the attention gives each
    /// channel of each image of `x`, [N * C] (image-major).
    public func channelWeights(_ x: Tensor) throws -> [Float] {
        (try forwardForTraining(x).tape as! Tape).attention
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
                attention.withUnsafeBufferPointer { weights in
                    let (source, destination) = (input.baseAddress!, out.baseAddress!)
                    parallelFor(batch * channels, minimumChunk: 256) { planes in
                        for plane in planes {
                            scale(source + plane * planeSize, by: weights[plane], into: destination + plane * planeSize, count: planeSize)
                        }
                    }
                }
            }
        })
        return (output, Tape(input: x, pooled: pooled, hidden: hidden, attention: attention))
    }

    /// avgpool(angle(fft2(x))) for every plane, [N * C] (see the type's documentation).
    func pooledPhase(_ x: Tensor) -> [Float] {
        let (height, width) = (x.shape[2], x.shape[3])
        let planes = x.shape[0] * x.shape[1]
        let planeSize = height * width
        let evenHeight = height % 2 == 0, evenWidth = width % 2 == 0
        let step = Float.pi / Float(planeSize)
        var pooled = [Float](repeating: 0, count: planes)
        x.withUnsafeBufferPointer { input in
            pooled.withUnsafeMutableBufferPointer { out in
                let outBase = out.baseAddress!
                parallelFor(planes, minimumChunk: 256) { range in
                    var nonZero: [Int] = []
                    for plane in range {
                        let base = input.baseAddress! + plane * planeSize
                        // Non-zero values at (0, 1) and (1, 0) leave only the self-conjugate
                        // frequencies real (the dense planes of every unmasked tap).
                        if (width == 1 || base[1] != 0) && (height == 1 || base[width] != 0) {
                            outBase[plane] = Float(Self.negativeSelfConjugateTerms(base, height: height, width: width,
                                                                                   evenHeight: evenHeight, evenWidth: evenWidth)) * step
                        } else {
                            outBase[plane] = Float(Self.negativeRealTerms(base, height: height, width: width, nonZero: &nonZero)) * step
                        }
                    }
                }
            }
        }
        return pooled
    }

    /// How many self-conjugate frequencies (DC, and the Nyquist ones of even sides) have a
    /// negative coefficient: signed sums of the plane's values.
    private static func negativeSelfConjugateTerms(_ base: UnsafePointer<Float>, height: Int, width: Int,
                                                   evenHeight: Bool, evenWidth: Bool) -> Int {
        var negative = sum(base, count: height * width) < 0 ? 1 : 0
        if evenHeight || evenWidth {
            // The Nyquist terms: sums alternating over rows, columns, or both.
            var rows: Double = 0, columns: Double = 0, both: Double = 0
            for h in 0..<height {
                var rowSum: Float = 0, rowAlternating: Float = 0
                for w in 0..<width {
                    let value = base[h * width + w]
                    rowSum += value
                    rowAlternating += w & 1 == 0 ? value : -value
                }
                let rowSign: Double = h & 1 == 0 ? 1 : -1
                rows += rowSign * Double(rowSum)
                columns += Double(rowAlternating)
                both += rowSign * Double(rowAlternating)
            }
            if evenHeight, rows < 0 { negative += 1 }
            if evenWidth, columns < 0 { negative += 1 }
            if evenHeight, evenWidth, both < 0 { negative += 1 }
        }
        return negative
    }

    /// How many frequencies k have an exactly real, negative coefficient on a sparse plane
    /// (`ExactlyRealTerms`); about H W steps per plane. `nonZero` is working memory.
    private static func negativeRealTerms(_ base: UnsafePointer<Float>, height: Int, width: Int, nonZero: inout [Int]) -> Int {
        ExactlyRealTerms.nonZeroPositions(base, count: height * width, into: &nonZero)
        var negative = 0
        for k1 in 0..<height {
            for k2 in 0..<width {
                if let value = ExactlyRealTerms.realValue(k1: k1, k2: k2, base, height: height, width: width, nonZero: nonZero),
                   value < 0 {
                    negative += 1
                }
            }
        }
        return negative
    }

    /// destination = source * factor, eight lanes at a time.
    @inline(__always)
    private func scale(_ source: UnsafePointer<Float>, by factor: Float, into destination: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(source + i).loadUnaligned(as: SIMD8<Float>.self) * factor
            UnsafeMutableRawPointer(destination + i).storeBytes(of: v, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { destination[i] = source[i] * factor; i += 1 }
    }

    /// sum of a * b over `count` floats, eight lanes at a time.
    @inline(__always)
    private func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            lanes = lanes.addingProduct(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self),
                                        UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self))
            i += 8
        }
        var total = lanes.sum()
        while i < count { total += a[i] * b[i]; i += 1 }
        return total
    }

    /// The sum of `count` floats, eight lanes at a time.
    @inline(__always)
    private static func sum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            lanes += UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var total = lanes.sum()
        while i < count { total += values[i]; i += 1 }
        return total
    }

    func validate(_ x: Tensor) throws {
        guard x.rank == 4, x.shape[0] > 0, x.shape[1] == channels, x.shape[2] > 0, x.shape[3] > 0 else {
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
                    gradScores.withUnsafeMutableBufferPointer { scores in
                        let (source, gradient, destination, scoresBase) = (input.baseAddress!, g.baseAddress!, out.baseAddress!, scores.baseAddress!)
                        parallelFor(batch * channels, minimumChunk: 256) { planes in
                            for plane in planes {
                                let offset = plane * planeSize
                                let weight = tape.attention[plane]
                                scale(gradient + offset, by: weight, into: destination + offset, count: planeSize)
                                let gradAttention = dotProduct(gradient + offset, source + offset, count: planeSize)
                                scoresBase[plane] = gradAttention * weight * (1 - weight)
                            }
                        }
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
