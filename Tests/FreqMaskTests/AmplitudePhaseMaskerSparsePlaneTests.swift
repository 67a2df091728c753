@testable import FreqMask
import ReferenceParity
import TensorCore
import XCTest

/// The masker on sparse planes whose spectrum is exactly real and negative away from the
/// self-conjugate frequencies, where torch's angle is +pi at both mirrors (see
/// `AmplitudePhaseMasker`), against the published module
/// (scripts/fixtures/apm_sparse_planes.py), through both plane transforms; and its backward
/// there against finite differences.
final class AmplitudePhaseMaskerSparsePlaneTests: XCTestCase {
    let sizes = ["3x3", "4x4", "4x6", "12x12", "13x13"]

    /// Forward and every gradient against the float64 reference; each bound is
    /// `ParityBound.referenceMultiple` (10) times the published code's own float32 error on that
    /// output, as in `AmplitudePhaseMaskerTests`: the transforms' sums are FFT trees or direct
    /// DFT rows of at most 13 terms, and APM-S's mask gradients sum over 2 x 6 planes
    /// (sqrt(12) < 10). The fixture's Hermitian-angle output lies 0.1 to 0.4 from the published
    /// one (relative), some 10^5 bounds: the test tells the two treatments apart.
    func testSparsePlanesMatchPublishedModuleThroughBothTransforms() throws {
        let fixture = try ReferenceFixture(Fixtures.directory.appendingPathComponent("apm_sparse_planes.safetensors"))
        let t = fixture.tensor
        for size in sizes {
            let x = try t("x." + size)
            for variant in ["m", "s"] {
                let tag = variant + "." + size
                for transform in ["direct DFT", "FFTW"] {
                    let masker = try AmplitudePhaseMasker(maskAmplitude: t("mask_amplitude." + tag),
                                                          maskPhase: t("mask_phase." + tag))
                    if transform == "FFTW" { masker.smallDFT = nil }
                    XCTAssertEqual(masker.smallDFT == nil, transform == "FFTW")
                    let (y, tape) = try masker.forwardForTraining(x)
                    var gradients: [String: Tensor] = [:]
                    let gradX = masker.backward(try t("grad_y." + size), tape: tape, parameterGradients: &gradients)
                    let checks = [
                        try fixture.output("y." + tag).check(y),
                        try fixture.output("y." + tag).check(try masker(x)),
                        try fixture.output("grad_x." + tag).check(gradX),
                        try fixture.output("grad_mask_amplitude." + tag).check(try XCTUnwrap(gradients["mask_amplitude"])),
                        try fixture.output("grad_mask_phase." + tag).check(try XCTUnwrap(gradients["mask_phase"])),
                    ]
                    for check in checks {
                        print("APM sparse \(tag) \(transform) \(check)")
                        XCTAssertTrue(check.passed, "\(tag) \(transform): \(check)")
                    }
                    let hermitian = try fixture.output("y." + tag).check(try t("y_hermitian." + tag))
                    XCTAssertGreaterThan(hermitian.error, 1000 * checks[0].bound, "\(tag): the fixture does not tell the Hermitian angle apart")
                }
            }
        }
    }

    /// Planes [2, 4, 4, 6], negative values: in each image one value at (0, 0) (every F(k) real
    /// and negative), one at the centre (2, 3) (F(k) = x (-1)^(k1 + k2), real everywhere), two in
    /// row 0 at (0, 1) and (0, 3) (real in the columns 0 and 3), and a dense plane.
    func sparsePlanes(random: inout TestRandom) -> Tensor {
        var x = random.tensor([2, 4, 4, 6]).scalars
        let positions: [[Int]?] = [[0], [2 * 6 + 3], [1, 3], nil, [0], [2 * 6 + 3], [1, 3], nil]
        for (plane, nonZero) in positions.enumerated() {
            guard let nonZero else { continue }
            for i in 0..<24 { x[plane * 24 + i] = 0 }
            for (index, i) in nonZero.enumerated() { x[plane * 24 + i] = -0.6 - 0.3 * Float(index + plane % 3) }
        }
        return Tensor(shape: [2, 4, 4, 6], scalars: x)
    }

    func testFindsTheRealNegativeSlotsOfSparsePlanesOnly() throws {
        var random = TestRandom(seed: 7)
        let x = sparsePlanes(random: &random)
        let layout = HalfSpectrumLayout(height: 4, width: 6)
        x.withUnsafeBufferPointer { input in
            let counts = (0..<8).map { AmplitudePhaseMasker.realNegativeSlots(input.baseAddress! + $0 * 24, layout: layout).count }
            // Half spectra of 4 x 4 slots, four of them self-conjugate ((0, 0), (0, 3), (2, 0),
            // (2, 3)) and never counted. (0, 0): the other 12. The centre: the 8 with k1 + k2
            // even, less (0, 0) and (2, 0). (0, 1) and (0, 3): column 0 (sum of two negative
            // values; column 3 has minus that sum, positive), less (0, 0) and (2, 0). Dense: none.
            XCTAssertEqual(counts, [12, 6, 2, 0, 12, 6, 2, 0])
        }
    }

    func testBackwardOnSparsePlanesMatchesFiniteDifferences() throws {
        var random = TestRandom(seed: 8)
        let x = sparsePlanes(random: &random)
        for variant in AmplitudePhaseMasker.Variant.allCases {
            for direct in [true, false] {
                let maskShape = [1, variant == .perChannel ? 4 : 1, 4, 6]
                let masker = try AmplitudePhaseMasker(maskAmplitude: random.tensor(maskShape, scale: 2),
                                                      maskPhase: random.tensor(maskShape, scale: 2))
                if !direct { masker.smallDFT = nil }
                let gradOutput = random.tensor(x.shape)
                let loss = { (input: Tensor) throws -> Double in dot(try masker(input), gradOutput) }
                let (_, tape) = try masker.forwardForTraining(x)
                var gradients: [String: Tensor] = [:]
                let gradX = masker.backward(gradOutput, tape: tape, parameterGradients: &gradients)
                let epsilon: Float = 1e-2
                // The input direction moves the non-zero values of the sparse planes only, so the
                // pattern of exactly real coefficients (and torch's +pi at both mirrors) stays and
                // no coefficient comes near the branch cut (their nearest is 0.86 rad away). The
                // dense planes stay put: a random step could carry one of their coefficients
                // across the cut (AmplitudePhaseMaskerGradientTests steers around it there).
                var directionValues = random.tensor(x.shape).scalars
                for i in 0..<x.count where x.scalars[i] == 0 || [3, 7].contains(i / 24) { directionValues[i] = 0 }
                let direction = Tensor(shape: x.shape, scalars: directionValues)
                let numeric = (try loss(x + epsilon * direction) - loss(x - epsilon * direction)) / Double(2 * epsilon)
                let analytic = dot(gradX, direction)
                // As in AmplitudePhaseMaskerGradientTests: float32 losses of ~200 terms, rounding
                // noise / (2 epsilon) ~1e-4 of the derivative, truncation ~epsilon^2.
                XCTAssertEqual(numeric, analytic, accuracy: 2e-3 * max(1, abs(analytic)), "input, \(variant) direct \(direct)")
                try assertMaskGradientsMatchFiniteDifferences(masker, gradients: gradients, loss: { try loss(x) },
                                                               random: &random, "\(variant) direct \(direct)")
            }
        }
    }
}
