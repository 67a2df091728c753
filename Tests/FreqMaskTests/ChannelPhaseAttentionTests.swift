@testable import FreqMask
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

    /// Sparse planes (masked support taps of 3 x 3 and 4 x 4 layer-4 planes, one to three
    /// non-zero values) whose spectra are real at frequencies other than the self-conjugate
    /// ones: a negative one there counts pi at k and at its mirror. The fixture keeps only
    /// planes whose published float32 and float64 values agree (scripts/fixtures/acpa_sparse_planes.py).
    func testSparsePlanesMatchPublishedModule() throws {
        let fixture = try ReferenceFixture(Fixtures.directory.appendingPathComponent("acpa_sparse_planes.safetensors"))
        let attention = try ChannelPhaseAttention(firstWeight: fixture.tensor("w1"), secondWeight: fixture.tensor("w2"))
        for size in ["3x3", "4x4", "3x4"] {
            let x = try fixture.tensor("x." + size)
            // The pooled phases are multiples of pi / (H W): counted, they carry one rounding
            // of that product; the published mean of H W angles a few more. 1e-6 is far below
            // one step (pi / 16 = 0.2), the size of any miscount.
            let expected = try fixture.tensor("pooled." + size)
            let pooled = attention.pooledPhase(x)
            XCTAssertLessThan(zip(pooled, expected.scalars).map { abs($0 - $1) }.max()!, 1e-6, size)
            // Bound: ParityBound.multiple(longestSum:) x the published code's own float32
            // error; the longest sums are the first linear layer's 48 terms.
            let check = try fixture.output("y." + size).check(try attention(x), longestSum: 48)
            print("ACPA sparse \(size): \(check)")
            XCTAssertTrue(check.passed, "\(size): \(check)")
        }
    }
}
