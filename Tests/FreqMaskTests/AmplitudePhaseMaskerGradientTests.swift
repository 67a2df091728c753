import FreqMask
import TensorCore
import XCTest

/// The masker against its literal formula on even and odd sizes, and its backward against
/// finite differences.
final class AmplitudePhaseMaskerGradientTests: XCTestCase {
    let shapes: [[Int]] = [[2, 6, 8, 10], [3, 5, 7, 6], [1, 4, 4, 4], [2, 3, 9, 5], [1, 2, 1, 6]]

    func randomMasker(_ variant: AmplitudePhaseMasker.Variant, shape: [Int], random: inout TestRandom) throws -> AmplitudePhaseMasker {
        let maskShape = [1, variant == .perChannel ? shape[1] : 1, shape[2], shape[3]]
        return try AmplitudePhaseMasker(maskAmplitude: random.tensor(maskShape, scale: 2),
                                        maskPhase: random.tensor(maskShape, scale: 2))
    }

    func testForwardEqualsLiteralFormulaOnEvenAndOddSizes() throws {
        var random = TestRandom(seed: 1)
        for shape in shapes {
            for variant in AmplitudePhaseMasker.Variant.allCases {
                let masker = try randomMasker(variant, shape: shape, random: &random)
                let x = random.tensor(shape, scale: 3)
                let expected = LiteralMaskers.amplitudePhase(x, maskAmplitude: masker.maskAmplitude, maskPhase: masker.maskPhase)
                // Both sides are float32 transforms (ours a direct DFT or FFTW, the literal one
                // FFTW) of planes of at most 90 points: each lies within about sqrt(n) u = 6e-7
                // of the exact output relative to its scale, so 2e-6 covers both with room.
                XCTAssertLessThan(relativeMaxError(try masker(x), expected), 2e-6, "\(variant) \(shape)")
            }
        }
    }

    func testBackwardMatchesFiniteDifferences() throws {
        var random = TestRandom(seed: 2)
        for shape in shapes {
            for variant in AmplitudePhaseMasker.Variant.allCases {
                let masker = try randomMasker(variant, shape: shape, random: &random)
                let x = random.tensor(shape, scale: 2)
                let gradOutput = random.tensor(shape)
                let loss = { (input: Tensor) throws -> Double in dot(try masker(input), gradOutput) }
                let (_, tape) = try masker.forwardForTraining(x)
                var gradients: [String: Tensor] = [:]
                let gradX = masker.backward(gradOutput, tape: tape, parameterGradients: &gradients)

                let direction = LiteralMaskers.directionAvoidingBranchCut(at: x, random: &random)
                let epsilon: Float = 1e-2
                let numeric = (try loss(x + epsilon * direction) - loss(x - epsilon * direction)) / Double(2 * epsilon)
                let analytic = dot(gradX, direction)
                // Float32 finite differences: the loss is a sum of ~10^3 terms, so its rounding
                // noise divided by 2 epsilon is ~1e-4 of the derivative; truncation is ~epsilon^2.
                XCTAssertEqual(numeric, analytic, accuracy: 2e-3 * max(1, abs(analytic)), "input, \(variant) \(shape)")

                try assertMaskGradientsMatchFiniteDifferences(masker, gradients: gradients, loss: { try loss(x) },
                                                               random: &random, "\(variant) \(shape)")
            }
        }
    }

    func testZeroInputGivesZeroGradientsNotNaN() throws {
        // |F| = 0 everywhere: abs and angle pass zero gradients there, as torch's do.
        let masker = AmplitudePhaseMasker(variant: .perChannel, channels: 3, height: 4, width: 5)
        let x = Tensor(zeros: [2, 3, 4, 5])
        let (y, tape) = try masker.forwardForTraining(x)
        XCTAssertEqual(y.scalars, x.scalars)
        var gradients: [String: Tensor] = [:]
        let gradX = masker.backward(Tensor(repeating: 1, shape: x.shape), tape: tape, parameterGradients: &gradients)
        XCTAssertTrue(gradX.isFinite)
        XCTAssertEqual(gradients["mask_amplitude"]!.absoluteMax(), 0)
        XCTAssertEqual(gradients["mask_phase"]!.absoluteMax(), 0)
    }

    func testFreshMaskerStartsAtOne() {
        let masker = AmplitudePhaseMasker(variant: .shared, channels: 64, height: 13, width: 13)
        XCTAssertEqual(masker.maskAmplitude.shape, [1, 1, 13, 13])
        XCTAssertTrue(masker.maskAmplitude.scalars.allSatisfy { $0 == 1 })
        XCTAssertTrue(masker.maskPhase.scalars.allSatisfy { $0 == 1 })
        XCTAssertEqual(AmplitudePhaseMasker(variant: .perChannel, channels: 64, height: 13, width: 13).maskPhase.shape, [1, 64, 13, 13])
    }

    func testBadInputsAreExplained() throws {
        let masker = AmplitudePhaseMasker(variant: .perChannel, channels: 4, height: 6, width: 6)
        XCTAssertThrowsError(try masker(Tensor(zeros: [1, 4, 6, 7]))) { XCTAssertTrue("\($0)".contains("6 x 6"), "\($0)") }
        XCTAssertThrowsError(try masker(Tensor(zeros: [1, 3, 6, 6]))) { XCTAssertTrue("\($0)".contains("3 channels"), "\($0)") }
        XCTAssertThrowsError(try masker(Tensor(zeros: [4, 6, 6])))
        var x = Tensor(zeros: [1, 4, 6, 6])
        x.scalars[17] = .nan
        XCTAssertThrowsError(try masker(x)) { XCTAssertTrue("\($0)".contains("index 17"), "\($0)") }
        XCTAssertThrowsError(try AmplitudePhaseMasker(maskAmplitude: Tensor(zeros: [1, 4, 6, 6]), maskPhase: Tensor(zeros: [1, 4, 6, 5])))
        XCTAssertThrowsError(try masker.setParameter("mask_phase", to: Tensor(zeros: [1, 1, 6, 6]))) {
            XCTAssertTrue("\($0)".contains("[1, 4, 6, 6]"), "\($0)")
        }
    }
}
