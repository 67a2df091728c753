import FreqMask
import TensorCore
import XCTest

final class ChannelPhaseAttentionTests: XCTestCase {
    func testMatchesReferenceFixture() throws {
        let name = "acpa_module.safetensors"
        let fixture = try Fixtures.safetensors(name)
        let t = { (key: String) in try fixture.tensor(key, in: name) }
        let attention = try ChannelPhaseAttention(firstWeight: t("w1"), secondWeight: t("w2"))
        let (y, tape) = try attention.forwardForTraining(t("x"))
        XCTAssertLessThan(relativeMaxError(y, try t("y")), 1e-5, "y")
        var gradients: [String: Tensor] = [:]
        let gradX = attention.backward(try t("grad_y"), tape: tape, parameterGradients: &gradients)
        XCTAssertLessThan(relativeMaxError(gradX, try t("grad_x")), 1e-5, "grad_x")
        XCTAssertLessThan(relativeMaxError(gradients["phase_attn.0.weight"]!, try t("grad_w1")), 1e-5, "grad_w1")
        XCTAssertLessThan(relativeMaxError(gradients["phase_attn.2.weight"]!, try t("grad_w2")), 1e-5, "grad_w2")
    }
}
