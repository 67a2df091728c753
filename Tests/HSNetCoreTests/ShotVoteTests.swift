import HSNetCore
import TensorCore
import XCTest

/// The k-shot vote on constructed logits.
final class ShotVoteTests: XCTestCase {
    /// Logits [K, 2, 1, W] from per-shot foreground decisions: (background, foreground) =
    /// (0, 1) for a 1, (1, 0) for a 0, (0.5, 0.5) for a tie marked -1.
    func logits(_ decisions: [[Int]]) -> Tensor {
        let width = decisions[0].count
        var scalars: [Float] = []
        for shot in decisions {
            scalars += shot.map { $0 == 1 ? 0 : ($0 == 0 ? 1 : 0.5) }
            scalars += shot.map { $0 == 1 ? 1 : ($0 == 0 ? 0 : 0.5) }
        }
        return Tensor(shape: [decisions.count, 2, 1, width], scalars: scalars)
    }

    func testOneShotIsTheArgmaxWithTiesToBackground() throws {
        let mask = try ShotVote.mask(logits([[1, 0, -1, 1]]))
        XCTAssertEqual(mask.shape, [1, 4])
        XCTAssertEqual(mask.scalars, [1, 0, 0, 1])
    }

    func testVotesAreThresholdedAtHalfTheTopVote() throws {
        // Votes per pixel: 3, 2, 1, 0, 2 -> top 3, threshold 1.5.
        let decisions = [[1, 1, 1, 0, 0], [1, 1, 0, 0, 1], [1, 0, 0, 0, 1]]
        XCTAssertEqual(try ShotVote.votes(logits(decisions)), [3, 2, 1, 0, 2])
        XCTAssertEqual(try ShotVote.mask(logits(decisions)).scalars, [1, 1, 0, 0, 1])
        // Top vote 2 of 4 shots: a single vote reaches half of it.
        let weak = [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]]
        XCTAssertEqual(try ShotVote.mask(logits(weak)).scalars, [1, 1, 0])
        // Top vote 4 of 5: two votes are needed.
        let strong = [[1, 1, 0], [1, 1, 0], [1, 0, 1], [1, 0, 0], [0, 0, 0]]
        XCTAssertEqual(try ShotVote.mask(logits(strong)).scalars, [1, 1, 0])
    }

    func testNoForegroundAnywhereGivesAnEmptyMask() throws {
        // The top vote counts as at least 1, so zero votes never reach the threshold.
        XCTAssertEqual(try ShotVote.mask(logits([[0, 0], [0, -1]])).scalars, [0, 0])
    }

    func testBadShapesAreInputErrors() {
        XCTAssertThrowsError(try ShotVote.mask(Tensor(zeros: [2, 3, 4, 4]))) { error in
            XCTAssertTrue((error as? InputError)?.message.contains("[2, 3, 4, 4], expected [shots, 2, height, width]") == true, "\(error)")
        }
        XCTAssertThrowsError(try ShotVote.mask(Tensor(zeros: [2, 4, 4])))
    }
}
