import FreqMask
import ReferenceParity
import TensorCore
import XCTest

final class AmplitudePhaseMaskerTests: XCTestCase {
    /// Forward and every gradient of the published masker on the fixture, for one fixture file,
    /// against its float64 reference; each bound is `ParityBound.referenceMultiple` times the
    /// published code's own float32 error on that output (the transforms' sums are FFT trees,
    /// and the mask gradients sum over a batch of two).
    func checkFixture(_ name: String, variant: AmplitudePhaseMasker.Variant) throws {
        let fixture = try ReferenceFixture(Fixtures.directory.appendingPathComponent(name))
        let t = fixture.tensor
        let masker = try AmplitudePhaseMasker(maskAmplitude: t("mask_amplitude"), maskPhase: t("mask_phase"))
        XCTAssertEqual(masker.variant, variant)

        let (y, tape) = try masker.forwardForTraining(t("x"))
        var gradients: [String: Tensor] = [:]
        let gradX = masker.backward(try t("grad_y"), tape: tape, parameterGradients: &gradients)
        let checks = [
            try fixture.output("y").check(y),
            try fixture.output("y").check(try masker(t("x"))),
            try fixture.output("grad_x").check(gradX),
            try fixture.output("grad_mask_amplitude").check(try XCTUnwrap(gradients["mask_amplitude"])),
            try fixture.output("grad_mask_phase").check(try XCTUnwrap(gradients["mask_phase"])),
        ]
        for check in checks {
            print("APM \(name) \(check)")
            XCTAssertTrue(check.passed, "\(check)")
        }
    }

    func testPerChannelMaskerMatchesReferenceFixture() throws {
        try checkFixture("apm_m_module.safetensors", variant: .perChannel)
    }

    func testSharedMaskerWithOddSizesMatchesReferenceFixture() throws {
        try checkFixture("apm_s_odd_module.safetensors", variant: .shared)
    }
}
