import FreqMask
import TensorCore
import XCTest

final class AmplitudePhaseMaskerTests: XCTestCase {
    /// Forward and every gradient of the published masker on the fixture, for one fixture file.
    func checkFixture(_ name: String, variant: AmplitudePhaseMasker.Variant) throws {
        let fixture = try Fixtures.safetensors(name)
        let t = { (key: String) in try fixture.tensor(key, in: name) }
        let masker = try AmplitudePhaseMasker(maskAmplitude: t("mask_amplitude"), maskPhase: t("mask_phase"))
        XCTAssertEqual(masker.variant, variant)

        let (y, tape) = try masker.forwardForTraining(t("x"))
        XCTAssertLessThan(relativeMaxError(y, try t("y")), 1e-5, "y")
        XCTAssertLessThan(relativeMaxError(try masker(t("x")), try t("y")), 1e-5, "inference y")

        var gradients: [String: Tensor] = [:]
        let gradX = masker.backward(try t("grad_y"), tape: tape, parameterGradients: &gradients)
        XCTAssertLessThan(relativeMaxError(gradX, try t("grad_x")), 1e-5, "grad_x")
        XCTAssertLessThan(relativeMaxError(gradients["mask_amplitude"]!, try t("grad_mask_amplitude")), 1e-5, "grad amplitude")
        XCTAssertLessThan(relativeMaxError(gradients["mask_phase"]!, try t("grad_mask_phase")), 1e-5, "grad phase")
    }

    func testPerChannelMaskerMatchesReferenceFixture() throws {
        try checkFixture("apm_m_module.safetensors", variant: .perChannel)
    }

    func testSharedMaskerWithOddSizesMatchesReferenceFixture() throws {
        try checkFixture("apm_s_odd_module.safetensors", variant: .shared)
    }
}
