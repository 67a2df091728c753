import FreqMask
import ReferenceParity
import TensorCore
import XCTest

final class ChannelPhaseAttentionTests: XCTestCase {
    /// Forward and every gradient against the float64 reference; each bound is
    /// `ParityBound.multiple(longestSum:)` times the published code's own float32 error.
    func testMatchesReferenceFixture() throws {
        let fixture = try ReferenceFixture(Fixtures.directory.appendingPathComponent("acpa_module.safetensors"))
        let t = fixture.tensor
        let attention = try ChannelPhaseAttention(firstWeight: t("w1"), secondWeight: t("w2"))
        let (y, tape) = try attention.forwardForTraining(t("x"))
        var gradients: [String: Tensor] = [:]
        let gradX = attention.backward(try t("grad_y"), tape: tape, parameterGradients: &gradients)
        // The longest sums: the pooled mean over a 13 x 13 plane, and the first linear layer
        // over 64 channels.
        let longest = 13 * 13
        let checks = [
            try fixture.output("y").check(y, longestSum: longest),
            try fixture.output("grad_x").check(gradX, longestSum: longest),
            try fixture.output("grad_w1").check(try XCTUnwrap(gradients["phase_attn.0.weight"]), longestSum: longest),
            try fixture.output("grad_w2").check(try XCTUnwrap(gradients["phase_attn.2.weight"]), longestSum: longest),
        ]
        for check in checks {
            print("ACPA \(check)")
            XCTAssertTrue(check.passed, "\(check)")
        }
    }
}
