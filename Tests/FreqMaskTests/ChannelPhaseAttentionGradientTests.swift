import FreqMask
import TensorCore
import XCTest

final class ChannelPhaseAttentionGradientTests: XCTestCase {
    /// The pooled phase equals the mean of the full spectrum's angles, on odd and even sizes,
    /// and so does the attention built on it.
    func testPooledPhaseEqualsMeanAngleOfFullSpectrum() throws {
        var random = TestRandom(seed: 3)
        for shape in [[2, 8, 13, 13], [1, 8, 8, 10], [2, 8, 6, 7], [1, 8, 5, 4], [1, 8, 1, 1]] {
            var generator = SeededGenerator(seed: 5)
            let attention = ChannelPhaseAttention(channels: shape[1], generator: &generator)
            let x = random.tensor(shape, scale: 2)
            let pooled = LiteralMaskers.pooledPhase(x)
            // Literal forward: sigmoid(W2 relu(W1 pooled)) per image.
            var expected = x
            let planeSize = shape[2] * shape[3]
            for n in 0..<shape[0] {
                let hidden = (0..<8).map { j in
                    max(0, (0..<shape[1]).reduce(0.0) { $0 + Double(attention.firstWeight.scalars[j * shape[1] + $1]) * pooled[n * shape[1] + $1] })
                }
                for c in 0..<shape[1] {
                    let score = (0..<8).reduce(0.0) { $0 + Double(attention.secondWeight.scalars[c * 8 + $1]) * hidden[$1] }
                    let weight = Float(1 / (1 + exp(-score)))
                    for i in 0..<planeSize { expected.scalars[(n * shape[1] + c) * planeSize + i] *= weight }
                }
            }
            // Sums of 8 terms, a sigmoid and one product per element on each side: a few
            // float32 roundings (u = 6e-8) of the output's scale; 1e-6 is 16 u.
            XCTAssertLessThan(relativeMaxError(try attention(x), expected), 1e-6, "\(shape)")
        }
    }

    /// Finite differences through the whole forward, phase path included: the analytic
    /// gradient (direct path only, the phase path being exactly zero) must agree. Small planes
    /// give pooled phases of order 1 (up to 4 pi / HW), so the hidden units sit far from the
    /// ReLU's kink; each plane is drawn so that none of its self-conjugate sums (whose signs
    /// set the pooled phase) is near zero, so no step flips one.
    func testBackwardMatchesFiniteDifferences() throws {
        var random = TestRandom(seed: 4)
        for shape in [[3, 16, 2, 2], [2, 16, 3, 4], [2, 16, 4, 3], [2, 16, 1, 2]] {
            var generator = SeededGenerator(seed: 9)
            let attention = ChannelPhaseAttention(channels: shape[1], generator: &generator)
            let (height, width) = (shape[2], shape[3])
            var planes: [Float] = []
            for _ in 0..<(shape[0] * shape[1]) {
                var plane: [Float]
                repeat {
                    plane = (0..<(height * width)).map { _ in 2 * random.symmetric() }
                } while Self.selfConjugateSums(plane, height: height, width: width).contains { abs($0) < 0.5 }
                planes += plane
            }
            let x = Tensor(shape: shape, scalars: planes)
            let gradOutput = random.tensor(shape)
            let loss = { (input: Tensor) throws -> Double in dot(try attention(input), gradOutput) }
            let (_, tape) = try attention.forwardForTraining(x)
            var gradients: [String: Tensor] = [:]
            let gradX = attention.backward(gradOutput, tape: tape, parameterGradients: &gradients)
            let epsilon: Float = 1e-2
            let direction = random.tensor(shape)
            let numeric = (try loss(x + epsilon * direction) - loss(x - epsilon * direction)) / Double(2 * epsilon)
            // The loss sums at most 3 x 16 x 12 float32 outputs of order 1: rounding noise of
            // about sqrt(576) u = 1.5e-6, divided by 2 epsilon = 2e-2, is 1e-4; the truncation,
            // epsilon^2 times the third derivative (order 1 away from the ReLU's kink), is
            // another 1e-4. 1e-3 is a few times their sum.
            XCTAssertEqual(numeric, dot(gradX, direction), accuracy: 1e-3 * max(1, abs(numeric)), "input \(shape)")
            // Pooled phases reach pi here, so a weight step moves the hidden units a lot more
            // than an input step does: take a smaller one.
            let weightEpsilon: Float = 2e-3
            // Rows of W1 whose hidden unit lies near the ReLU's kink for some image stay still.
            let pooled = LiteralMaskers.pooledPhase(x)
            let channels = shape[1]
            let rowsNearKink = (0..<ChannelPhaseAttention.hiddenWidth).filter { j in
                (0..<shape[0]).contains { n in
                    abs((0..<channels).reduce(0.0) { $0 + Double(attention.firstWeight.scalars[j * channels + $1]) * pooled[n * channels + $1] }) < 0.05
                }
            }
            for (name, original) in attention.parameters {
                var step = random.tensor(original.shape)
                if name == "phase_attn.0.weight" {
                    for j in rowsNearKink { for c in 0..<channels { step.scalars[j * channels + c] = 0 } }
                }
                try attention.setParameter(name, to: original + weightEpsilon * step)
                let plus = try loss(x)
                try attention.setParameter(name, to: original - weightEpsilon * step)
                let minus = try loss(x)
                try attention.setParameter(name, to: original)
                let analytic = dot(gradients[name]!, step)
                XCTAssertGreaterThan(abs(analytic), 1e-2, "the check must see a gradient, \(name) \(shape)")
                // As for the input: rounding noise over the step plus truncation, each ~1e-4.
                XCTAssertEqual((plus - minus) / Double(2 * weightEpsilon), analytic, accuracy: 1e-3 * max(1, abs(analytic)), "\(name) \(shape)")
            }
        }
    }

    /// The plane's real spectrum values at self-conjugate frequencies: its plain sum and, for
    /// even sizes, its alternating sums over rows, columns and both.
    static func selfConjugateSums(_ plane: [Float], height: Int, width: Int) -> [Float] {
        var sums: [Float] = [0, 0, 0, 0]
        for h in 0..<height {
            for w in 0..<width {
                let value = plane[h * width + w]
                let rowSign: Float = h % 2 == 0 ? 1 : -1, columnSign: Float = w % 2 == 0 ? 1 : -1
                sums[0] += value
                sums[1] += rowSign * value
                sums[2] += columnSign * value
                sums[3] += rowSign * columnSign * value
            }
        }
        return [sums[0]] + (height % 2 == 0 ? [sums[1]] : []) + (width % 2 == 0 ? [sums[2]] : [])
            + (height % 2 == 0 && width % 2 == 0 ? [sums[3]] : [])
    }

    func testDefaultInitialisationIsTorchLinearRangeAndSeeded() {
        var a = SeededGenerator(seed: 11), b = SeededGenerator(seed: 11), c = SeededGenerator(seed: 12)
        let first = ChannelPhaseAttention(channels: 64, generator: &a)
        XCTAssertEqual(first.firstWeight.shape, [8, 64])
        XCTAssertEqual(first.secondWeight.shape, [64, 8])
        XCTAssertLessThanOrEqual(first.firstWeight.absoluteMax(), 1 / 8)  // 1/sqrt(64)
        XCTAssertLessThanOrEqual(first.secondWeight.absoluteMax(), 1 / Float(8).squareRoot())
        XCTAssertGreaterThan(first.firstWeight.absoluteMax(), 0.1)
        XCTAssertEqual(ChannelPhaseAttention(channels: 64, generator: &b).firstWeight, first.firstWeight)
        XCTAssertNotEqual(ChannelPhaseAttention(channels: 64, generator: &c).firstWeight, first.firstWeight)
    }

    func testBadInputsAreExplained() throws {
        var generator = SeededGenerator(seed: 0)
        let attention = ChannelPhaseAttention(channels: 4, generator: &generator)
        XCTAssertThrowsError(try attention(Tensor(zeros: [1, 5, 3, 3]))) { XCTAssertTrue("\($0)".contains("[N, 4, H, W]"), "\($0)") }
        XCTAssertThrowsError(try ChannelPhaseAttention(firstWeight: Tensor(zeros: [8, 4]), secondWeight: Tensor(zeros: [5, 8])))
        XCTAssertThrowsError(try ChannelPhaseAttention(firstWeight: Tensor(zeros: [4, 8]), secondWeight: Tensor(zeros: [8, 4])))
    }
}

#if canImport(Glibc)
import Glibc
#endif
