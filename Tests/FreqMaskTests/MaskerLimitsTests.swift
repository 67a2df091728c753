import FreqMask
import TensorCore
import XCTest

/// Masker sizes are checked one by one and multiplied with overflow checks before anything is
/// allocated; a masker holding a NaN or an infinity is refused when it is built.
final class MaskerLimitsTests: XCTestCase {
    func testSizesAreCheckedBeforeTheirProductIsFormed() throws {
        XCTAssertNoThrow(try MaskerLimits.check(channels: 2048, height: 13, width: 13, perChannel: true))
        // The largest sides with one plane (APM-S) fit; with 65536 planes (APM-M) they do not.
        let side = MaskerLimits.maximumSide
        XCTAssertNoThrow(try MaskerLimits.check(channels: MaskerLimits.maximumChannels, height: side, width: side, perChannel: false))
        XCTAssertThrowsError(try MaskerLimits.check(channels: MaskerLimits.maximumChannels, height: side, width: side, perChannel: true))
        // ACPA alone depends on C only.
        XCTAssertNoThrow(try MaskerLimits.check(channels: MaskerLimits.maximumChannels, height: side, width: side, perChannel: true,
                                                amplitudePhase: false))
        for (c, h, w) in [(1 << 32, 1 << 32, 1), (1, Int.max, Int.max), (0, 1, 1), (1, -1, 1), (Int.min, 1, 1)] {
            XCTAssertThrowsError(try MaskerLimits.check(channels: c, height: h, width: w, perChannel: true), "\(c) x \(h) x \(w)")
        }
    }

    func testNonFiniteParametersAreBlamedOnTheirTensor() throws {
        var amplitude = Tensor(repeating: 1, shape: [1, 1, 2, 2])
        amplitude.scalars[3] = .nan
        let ones = Tensor(repeating: 1, shape: [1, 1, 2, 2])
        XCTAssertThrowsError(try MaskerState(stateDict: ["apm.mask_amplitude": amplitude, "apm.mask_phase": ones])) { error in
            XCTAssertEqual((error as? InputError)?.message, "tensor apm.mask_amplitude holds a non-finite value (nan) at flat index 3")
        }
        var generator = SeededGenerator(seed: 0)
        var weights = ChannelPhaseAttention(channels: 3, generator: &generator).parameters.map(\.value)
        weights[1].scalars[0] = .infinity
        XCTAssertThrowsError(try MaskerState(stateDict: ["acpa.phase_attn.0.weight": weights[0], "acpa.phase_attn.2.weight": weights[1]])) { error in
            XCTAssertEqual((error as? InputError)?.message, "tensor acpa.phase_attn.2.weight holds a non-finite value (inf) at flat index 0")
        }
    }

    func testFeaturesWithoutValuesAreRefused() throws {
        let shared = AmplitudePhaseMasker(variant: .shared, channels: 1, height: 3, width: 3)
        var generator = SeededGenerator(seed: 0)
        let attention = ChannelPhaseAttention(channels: 2, generator: &generator)
        for shape in [[1, 0, 3, 3], [0, 2, 3, 3]] {
            XCTAssertThrowsError(try shared(Tensor(zeros: shape)), "\(shape)")
        }
        XCTAssertThrowsError(try attention(Tensor(zeros: [0, 2, 3, 3])))
    }
}
