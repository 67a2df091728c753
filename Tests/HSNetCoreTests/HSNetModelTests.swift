import HSNetCore
import ReferenceParity
import TensorCore
import XCTest

/// The model's episode-level behaviour beyond the reference fixtures: input checks, odd
/// sizes, backbone passes side by side.
final class HSNetModelTests: XCTestCase {
    func testEpisodeInputsAreChecked() throws {
        let model = HSNetFixtures.model
        let image = Tensor(zeros: [1, 3, 64, 64])
        let cases: [(Tensor, Tensor, Tensor, String)] = [
            (Tensor(zeros: [3, 64, 64]), image, Tensor(zeros: [1, 64, 64]), "query image tensor has shape [3, 64, 64], expected [1, 3, height, width]"),
            (image, Tensor(zeros: [1, 1, 64, 64]), Tensor(zeros: [1, 64, 64]), "support image tensor has shape [1, 1, 64, 64]"),
            (image, Tensor(zeros: [1, 3, 64, 32]), Tensor(zeros: [1, 64, 32]), "support images are 64 x 32, the query is 64 x 64"),
            (image, Tensor(zeros: [2, 3, 64, 64]), Tensor(zeros: [1, 64, 64]), "support mask tensor has shape [1, 64, 64], expected [2, 64, 64]"),
            (Tensor(zeros: [1, 3, 8, 8]), Tensor(zeros: [1, 3, 8, 8]), Tensor(zeros: [1, 8, 8]), "query image is 8 x 8, HSNet with a ResNet-50 backbone needs at least 16 x 16"),
        ]
        for (query, supports, masks, expected) in cases {
            XCTAssertThrowsError(try model.predict(query: query, supports: supports, supportMasks: masks)) { error in
                XCTAssertTrue((error as? InputError)?.message.hasPrefix(expected) == true, "\(error)")
            }
        }
    }

    func testSmallNonSquareEpisodeRuns() throws {
        // 64 x 96: layer-4 taps are 2 x 3; every pyramid still squeezes to matching support dims.
        let model = HSNetFixtures.model
        model.plugins.removeAll()
        var generator = SeededGenerator(seed: 7)
        let query = Tensor(shape: [1, 3, 64, 96], scalars: (0..<(3 * 64 * 96)).map { _ in generator.uniform(-1, 1) })
        let support = Tensor(shape: [1, 3, 64, 96], scalars: (0..<(3 * 64 * 96)).map { _ in generator.uniform(-1, 1) })
        let mask = Tensor(shape: [1, 64, 96], scalars: (0..<(64 * 96)).map { ($0 % 96) < 40 ? 1 : 0 })
        let logits = try model.predict(query: query, supports: support, supportMasks: mask)
        XCTAssertEqual(logits.shape, [1, 2, 64, 96])
        XCTAssertTrue(logits.isFinite)
    }

    func testImagesSideBySideGiveTheSameTaps() throws {
        let statistics = try ReferenceStatistics.load(HSNetFixtures.url("hsnet/hsnet_apm_episode_stats.float64.json"))
        var generator = SeededGenerator(seed: 11)
        let images = (0..<3).map { _ in
            Tensor(shape: [1, 3, 64, 48], scalars: (0..<(3 * 64 * 48)).map { _ in generator.uniform(-1, 1) })
        }
        let together = HSNetFixtures.model.features(of: images)
        XCTAssertEqual(together.count, 3)
        for (image, taps) in zip(images, together) {
            let alone = HSNetFixtures.model.features(of: image)
            XCTAssertEqual(taps.map(\.shape), alone.map(\.shape))
            // Only the BLAS threading differs: equal up to summation order. Each evaluation
            // lies within the parity multiple of the network's own float32 error on that tap
            // (the published code's, measured on the reference episode), so the two lie
            // within twice that of each other.
            for (t, (a, b)) in zip(taps, alone).enumerated() {
                let reference = try XCTUnwrap(statistics["query_feat.\(t)"])
                let bound = 2 * reference.bound(longestSum: HSNetEpisodeTests.longestSum)
                XCTAssertLessThan(relativeMaxError(a, b), bound, "tap \(t)")
            }
        }
    }
}
