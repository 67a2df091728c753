import Foundation
import HSNetCore
import TensorCore
import XCTest

/// Whole-model parity with the published PyTorch HSNet on det-fill weights (the fixtures'
/// README): one 1-shot episode with the frequency maskers, one 2-shot episode without.
final class HSNetEpisodeTests: XCTestCase {
    /// The reference differs from a float64 run by 3e-6 on the logits; another float32
    /// summation order lands within a few times that.
    static let logitTolerance = 1e-4
    /// Summary statistics of intermediates are compared relative to each tensor's scale
    /// (see `ReferenceStatistics.largestDeviation`): float32 reorderings move them by ~1e-6.
    static let statisticsTolerance = 1e-4

    func testEpisodeWithFrequencyMaskersMatchesReference() throws {
        let model = HSNetFixtures.model
        model.plugins.removeAll()
        let maskers = try XCTUnwrap(try model.installCheckpointMaskers(imageSize: 400), "checkpoint holds apm/acpa")
        XCTAssertEqual(maskers.amplitudePhase?.variant, .perChannel)
        XCTAssertEqual(model.plugins[.layer4Query].map(\.kind), ["apm-m"])
        XCTAssertEqual(model.plugins[.layer4SupportMasked].map(\.kind), ["acpa"])
        defer { model.plugins.removeAll() }

        let statistics = try ReferenceStatistics.load(HSNetFixtures.url("hsnet/hsnet_apm_episode_stats.json"))
        let expected = try HSNetFixtures.tensors("hsnet/hsnet_apm_episode_outputs.safetensors")
        var compared = Set<String>()
        var deviations: [String] = []
        var intermediates: [String: Tensor] = [:]
        let logits = try model.predict(
            query: HSNetFixtures.image("query"), supports: HSNetFixtures.image("support"),
            supportMasks: HSNetFixtures.mask("support_mask").reshaped([1, 400, 400])
        ) { name, tensor in
            if ["corr.0", "encoded"].contains(name) { intermediates[name] = tensor }
            guard let reference = statistics[name] else { return }
            compared.insert(name)
            let (what, error) = reference.largestDeviation(of: tensor)
            if !(error <= Self.statisticsTolerance) { deviations.append("\(name): \(what) off by \(error)") }
        }
        // Every intermediate the reference recorded was seen: 13 taps per image, the masked
        // layer-4 taps, 3 pyramids, 3 squeezed, 2 mixed, encoded, logits.
        XCTAssertEqual(compared, Set(statistics.keys), "intermediates not produced: \(Set(statistics.keys).subtracting(compared).sorted())")
        XCTAssertEqual(compared.count, 26 + 6 + 3 + 3 + 2 + 2)
        XCTAssertTrue(deviations.isEmpty, deviations.joined(separator: "; "))

        let logitError = relativeMaxError(logits, try XCTUnwrap(expected["logits"]))
        XCTAssertLessThan(logitError, Self.logitTolerance)
        let correlationError = relativeMaxError(try XCTUnwrap(intermediates["corr.0"]), try XCTUnwrap(expected["corr_l4"]))
        XCTAssertLessThan(correlationError, 1e-5)
        let encodedError = relativeMaxError(try XCTUnwrap(intermediates["encoded"]), try XCTUnwrap(expected["encoded"]))
        XCTAssertLessThan(encodedError, Self.logitTolerance)
        print("HSNet+APM/ACPA episode: logits \(logitError), corr_l4 \(correlationError), encoded \(encodedError) (max |a-b| / max |b|)")
    }

    func testTwoShotEpisodeWithoutPluginsMatchesReference() throws {
        let model = HSNetFixtures.model
        model.plugins.removeAll()
        let expected = try HSNetFixtures.tensors("hsnet/hsnet_plain_2shot.safetensors")
        // The query doubles as the second support image, with its own mask.
        let supports = HSNetFixtures.concatenated([try HSNetFixtures.image("support"), try HSNetFixtures.image("query")])
        let masks = HSNetFixtures.concatenated([try HSNetFixtures.mask("support_mask").reshaped([1, 400, 400]),
                                                try HSNetFixtures.mask("query_mask").reshaped([1, 400, 400])])
        let logits = try model.predict(query: HSNetFixtures.image("query"), supports: supports, supportMasks: masks)
        XCTAssertEqual(logits.shape, [2, 2, 400, 400])

        let sampled = HSNetFixtures.subsampled(logits, step: 4)
        for shot in 0..<2 {
            let plane = 2 * 100 * 100
            let ours = Tensor(shape: [1, 2, 100, 100], scalars: Array(sampled.scalars[(shot * plane)..<((shot + 1) * plane)]))
            let error = relativeMaxError(ours, try XCTUnwrap(expected["logits_shot\(shot)_stride4"]))
            XCTAssertLessThan(error, Self.logitTolerance, "shot \(shot)")
            print("HSNet 2-shot episode, shot \(shot): logits \(error)")
        }
        // The reference vote; its smallest foreground-background margin is 1e-4, far above
        // our logit error, so the masks must agree pixel for pixel.
        let vote = try ShotVote.mask(logits)
        let reference = try XCTUnwrap(expected["vote"])
        XCTAssertEqual(vote.shape, reference.shape)
        XCTAssertEqual(zip(vote.scalars, reference.scalars).filter { $0 != $1 }.count, 0)
        XCTAssertEqual(vote.sum(), reference.sum())
        XCTAssertGreaterThan(reference.sum(), 0)
    }
}
