import Datasets
import Evaluation
import HSNetCore
import Imaging
import TensorCore
import XCTest

/// Episode counts and the benchmark score on hand-built masks, with the arithmetic written out.
final class SegmentationScoreTests: XCTestCase {
    func counts(_ intersection: (Int, Int), _ union: (Int, Int)) -> EpisodeCounts {
        EpisodeCounts(intersection: PixelCounts(background: intersection.0, foreground: intersection.1),
                      union: PixelCounts(background: union.0, foreground: union.1))
    }

    func testCountsOfOneEpisode() throws {
        // pixel:      0  1  2  3  4  5  6  7
        // predicted:  1  1  0  0  1  0  0  0   -> foreground {0, 1, 4}, 3 pixels
        // truth:      1  0  1  0  1  1  0  0   -> foreground {0, 2, 4, 5}, 4 pixels
        // foreground: intersection {0, 4} = 2, union {0, 1, 2, 4, 5} = 5
        // background: intersection {3, 6, 7} = 3, union {1, 2, 3, 5, 6, 7} = 6
        let predicted: [Float] = [1, 1, 0, 0, 1, 0, 0, 0]
        let truth: [Float] = [1, 0, 1, 0, 1, 1, 0, 0]
        let expected = counts((3, 2), (6, 5))
        XCTAssertEqual(try EpisodeCounts(predicted: predicted, truth: truth), expected)
        XCTAssertEqual(try EpisodeCounts(predicted: Tensor(shape: [2, 4], scalars: predicted),
                                         truth: Tensor(shape: [1, 2, 4], scalars: truth)), expected)
        XCTAssertEqual(try EpisodeCounts(predicted: GrayImage(width: 4, height: 2, pixels: predicted.map { UInt8($0) }),
                                         truth: GrayImage(width: 4, height: 2, pixels: truth.map { UInt8($0) })), expected)
        XCTAssertTrue(expected.isConsistent)
        // Swapping prediction and truth leaves intersection and union alone.
        XCTAssertEqual(try EpisodeCounts(predicted: truth, truth: predicted), expected)
    }

    func testMismatchedOrNonBinaryMasksAreErrors() {
        XCTAssertThrowsError(try EpisodeCounts(predicted: [0, 1, 1], truth: [0, 1])) { error in
            XCTAssertEqual((error as? InputError)?.message, "predicted mask has 3 pixels but the ground-truth mask has 2")
        }
        XCTAssertThrowsError(try EpisodeCounts(predicted: Tensor(zeros: [2, 3]), truth: Tensor(zeros: [3, 2]))) { error in
            XCTAssertEqual((error as? InputError)?.message, "predicted mask has shape [2, 3] but the ground-truth mask has shape [3, 2]")
        }
        XCTAssertThrowsError(try EpisodeCounts(predicted: GrayImage(width: 2, height: 1, pixels: [0, 1]),
                                               truth: GrayImage(width: 1, height: 2, pixels: [0, 1])))
        XCTAssertThrowsError(try EpisodeCounts(predicted: [0, 1, 0], truth: [0, 255, 0])) { error in
            XCTAssertEqual((error as? InputError)?.message, "ground-truth mask has value 255.0 at pixel 1, expected 0 or 1")
        }
        XCTAssertThrowsError(try EpisodeCounts(predicted: [0, 0.5], truth: [0, 1])) { error in
            XCTAssertEqual((error as? InputError)?.message, "predicted mask has value 0.5 at pixel 1, expected 0 or 1")
        }
    }

    func testScoreOfHandBuiltEpisodes() throws {
        var score = SegmentationScore()
        // Class 0, episode A: the eight pixels above, intersection [3, 2], union [6, 5].
        score.add(try EpisodeCounts(predicted: [1, 1, 0, 0, 1, 0, 0, 0], truth: [1, 0, 1, 0, 1, 1, 0, 0]), classIndex: 0)
        // Class 0, episode B: everything predicted, half of it true:
        // foreground intersection 2, union 4; background intersection 0, union 2.
        score.add(try EpisodeCounts(predicted: [1, 1, 1, 1], truth: [1, 1, 0, 0]), classIndex: 0)
        // Class 2: no foreground predicted nor present, so its foreground union is empty:
        // intersection [3, 0], union [3, 0]; its IoU is 0 / max(0, 1) = 0, not NaN.
        score.add(try EpisodeCounts(predicted: [0, 0, 0], truth: [0, 0, 0]), classIndex: 2)
        // Class 1 never occurs.

        // Class 0 sums: intersection [3 + 0, 2 + 2] = [3, 4], union [6 + 2, 5 + 4] = [8, 9].
        XCTAssertEqual(score.totals[0], SegmentationScore.ClassTotals(
            intersection: PixelCounts(background: 3, foreground: 4), union: PixelCounts(background: 8, foreground: 9), episodes: 2))
        XCTAssertEqual(score.classIndices, [0, 2])
        XCTAssertEqual(score.episodeCount, 3)
        XCTAssertEqual(try XCTUnwrap(score.iou(ofClass: 0)), 100 * 4 / 9.0, accuracy: 1e-12)
        XCTAssertEqual(score.iou(ofClass: 2), 0)
        XCTAssertNil(score.iou(ofClass: 1))
        // mIoU over the classes that occurred: (4/9 + 0) / 2 = 22.22 %.
        XCTAssertEqual(score.miou, 100 * (4 / 9.0 + 0) / 2, accuracy: 1e-12)
        // FB-IoU: sums over classes 0 and 2, intersection [3 + 3, 4 + 0] = [6, 4],
        // union [8 + 3, 9 + 0] = [11, 9]; (6/11 + 4/9) / 2 = 49.49 %.
        XCTAssertEqual(score.fbiou, 100 * (6 / 11.0 + 4 / 9.0) / 2, accuracy: 1e-12)
        XCTAssertEqual(score.fbiou, 49.494949494949495, accuracy: 1e-9)
    }

    func testFBIoUIsTheRatioOfSumsNotTheMeanOfRatios() {
        var score = SegmentationScore()
        score.add(counts((1, 1), (1, 1)), classIndex: 0)   // IoUs 1 and 1
        score.add(counts((1, 1), (10, 10)), classIndex: 1) // IoUs 0.1 and 0.1
        // Summed: intersection [2, 2], union [11, 11]: FB-IoU = 2/11, while the mean of the
        // per-class ratios would be 0.55; mIoU is the mean of per-class ratios, (1 + 0.1) / 2.
        XCTAssertEqual(score.fbiou, 100 * 2 / 11.0, accuracy: 1e-12)
        XCTAssertEqual(score.miou, 100 * 1.1 / 2, accuracy: 1e-12)
    }

    func testEmptyScoreIsZero() {
        let score = SegmentationScore()
        XCTAssertEqual(score.miou, 0)
        XCTAssertEqual(score.fbiou, 0)
        XCTAssertEqual(score.classIndices, [])
    }

    /// Three shots' logits [3, 2, 2, 3] by hand, voted by `ShotVote.mask`, then counted.
    func testThreeShotVoteThenCount() throws {
        // Per-shot foreground decisions for the six pixels (row-major, 2 x 3), as
        // (background, foreground) logit pairs: (0, 2) for 1, (2, 0) for 0, (1, 1) a tie (0).
        let decisions: [[Int]] = [
            [1, 1, 0, 0, 1, -1],
            [1, 0, 0, 1, 1, 0],
            [1, 0, 1, -1, 1, 0],
        ]
        var scalars: [Float] = []
        for shot in decisions {
            scalars += shot.map { $0 == 1 ? 0 : ($0 == 0 ? 2 : 1) }   // background channel
            scalars += shot.map { $0 == 1 ? 2 : ($0 == 0 ? 0 : 1) }   // foreground channel
        }
        let logits = Tensor(shape: [3, 2, 2, 3], scalars: scalars)
        // Votes [3, 1, 1, 1, 3, 0] (ties count for background); top vote 3, so a pixel needs
        // 2 * vote >= 3, i.e. 2 votes: mask [1, 0, 0, 0, 1, 0].
        let mask = try ShotVote.mask(logits)
        XCTAssertEqual(mask.scalars, [1, 0, 0, 0, 1, 0])
        // Truth [1, 1, 0, 0, 0, 0]: foreground intersection {0} = 1, union {0, 1, 4} = 3;
        // background intersection {2, 3, 5} = 3, union {1, 2, 3, 4, 5} = 5.
        let truth = Tensor(shape: [1, 2, 3], scalars: [1, 1, 0, 0, 0, 0])
        let counted = try EpisodeCounts(predicted: mask, truth: truth)
        XCTAssertEqual(counted, counts((3, 1), (5, 3)))
        var score = SegmentationScore()
        score.add(counted, classIndex: 0)
        XCTAssertEqual(score.miou, 100 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(score.fbiou, 100 * (3 / 5.0 + 1 / 3.0) / 2, accuracy: 1e-12)
    }

    func testConsistencyOfCounts() {
        XCTAssertTrue(counts((3, 2), (6, 5)).isConsistent)
        XCTAssertFalse(counts((3, 2), (6, 6)).isConsistent, "the two pixel totals 3 + 6 and 2 + 6 disagree")
        XCTAssertFalse(counts((4, 2), (3, 5)).isConsistent, "intersection above union")
        XCTAssertFalse(counts((-1, 1), (2, 4)).isConsistent, "negative count (the totals -1 + 4 and 1 + 2 agree)")
    }
}
