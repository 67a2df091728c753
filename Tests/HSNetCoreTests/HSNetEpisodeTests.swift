import Foundation
import HSNetCore
import ReferenceParity
import TensorCore
import XCTest

/// Whole-model parity with the published PyTorch HSNet on det-fill weights (the fixtures'
/// README): one 1-shot episode with the frequency maskers, one 2-shot episode without. Every
/// output and intermediate is compared with the published code's float64 result, within
/// `ParityBound.multiple(longestSum:)` times the published code's own float32 error on it.
final class HSNetEpisodeTests: XCTestCase {
    /// The longest single sum in the model: the 3 x 3 convolutions of ResNet-50's layer 4,
    /// 512 channels x 9 taps per output.
    static let longestSum = 512 * 9

    func testEpisodeWithFrequencyMaskersMatchesReference() throws {
        let model = HSNetFixtures.model
        model.plugins.removeAll()
        let maskers = try XCTUnwrap(try model.installCheckpointMaskers(imageSize: 400), "checkpoint holds apm/acpa")
        XCTAssertEqual(maskers.amplitudePhase?.variant, .perChannel)
        XCTAssertEqual(model.plugins[.layer4Query].map(\.kind), ["apm-m"])
        XCTAssertEqual(model.plugins[.layer4SupportMasked].map(\.kind), ["acpa"])
        defer { model.plugins.removeAll() }

        let statistics = try ReferenceStatistics.load(HSNetFixtures.url("hsnet/hsnet_apm_episode_stats.float64.json"))
        let expected = try ReferenceFixture(HSNetFixtures.url("hsnet/hsnet_apm_episode_outputs.safetensors"))
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
            if !(error <= reference.bound(longestSum: Self.longestSum)) {
                deviations.append("\(name): \(what) off by \(error), bound \(reference.bound(longestSum: Self.longestSum)) (reference's own error \(reference.referenceError))")
            }
        }
        // Every intermediate the reference recorded was seen: 13 taps per image, the masked
        // layer-4 taps, 3 pyramids, 3 squeezed, 2 mixed, encoded, logits.
        XCTAssertEqual(compared, Set(statistics.keys), "intermediates not produced: \(Set(statistics.keys).subtracting(compared).sorted())")
        XCTAssertEqual(compared.count, 26 + 6 + 3 + 3 + 2 + 2)
        XCTAssertTrue(deviations.isEmpty, deviations.joined(separator: "; "))

        let checks = [
            try expected.output("logits").check(logits, longestSum: Self.longestSum),
            try expected.output("corr_l4").check(try XCTUnwrap(intermediates["corr.0"]), longestSum: Self.longestSum),
            try expected.output("encoded").check(try XCTUnwrap(intermediates["encoded"]), longestSum: Self.longestSum),
        ]
        for check in checks {
            print("HSNet+APM/ACPA episode: \(check)")
            XCTAssertTrue(check.passed, "\(check)")
        }
    }

    func testTwoShotEpisodeWithoutPluginsMatchesReference() throws {
        let model = HSNetFixtures.model
        model.plugins.removeAll()
        let expected = try ReferenceFixture(HSNetFixtures.url("hsnet/hsnet_plain_2shot.safetensors"))
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
            let check = try expected.output("logits_shot\(shot)_stride4").check(ours, longestSum: Self.longestSum)
            XCTAssertTrue(check.passed, "shot \(shot): \(check)")
            print("HSNet 2-shot episode, shot \(shot): \(check)")
        }
        // The reference vote; its smallest foreground-background margin is 1e-4, far above
        // our logit error, so the masks must agree pixel for pixel.
        let vote = try ShotVote.mask(logits)
        let reference = try expected.tensor("vote")
        XCTAssertEqual(vote.shape, reference.shape)
        XCTAssertEqual(zip(vote.scalars, reference.scalars).filter { $0 != $1 }.count, 0)
        XCTAssertEqual(vote.sum(), reference.sum())
        XCTAssertGreaterThan(reference.sum(), 0)
    }
}
