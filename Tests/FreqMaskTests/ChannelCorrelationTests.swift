import FreqMask
import Foundation
import TensorCore
import XCTest

final class ChannelCorrelationTests: XCTestCase {
    func correlation(_ rows: [[Float]]) -> ChannelCorrelationOfImage {
        let flat = rows.flatMap { $0 }
        return flat.withUnsafeBufferPointer { ChannelCorrelationOfImage($0, channels: rows.count, positions: rows[0].count) }
    }

    func testIdenticalAndOppositeChannelsCorrelateFully() {
        var random = TestRandom(seed: 1)
        let base = (0..<50).map { _ in random.symmetric() }
        let image = correlation([base, base.map { 3 * $0 + 1 }, base.map { -$0 }])
        // Up to float32 rounding of the covariance (sums of 50 terms).
        XCTAssertEqual(Double(image.r(0, 1)), 1, accuracy: 1e-6)
        XCTAssertEqual(Double(image.r(0, 2)), -1, accuracy: 1e-6)
        XCTAssertEqual(image.figures.meanAbsR, 1, accuracy: 1e-6)
        XCTAssertEqual(image.figures.fractionAbsROverHalf, 1)
        // Three copies of one direction: one effective channel.
        XCTAssertEqual(image.figures.participationRatio, 1, accuracy: 1e-5)
    }

    func testIndependentChannelsStayWithinTheSamplingSpread() {
        // For independent normal channels over P positions, |r| has mean sqrt(2 / (pi (P - 1)))
        // (to first order in 1/P) and standard deviation about 0.6 / sqrt(P); the mean over
        // 496 pairs then lies within 5 standard errors, 5 x 0.6 / sqrt(400 x 496) = 0.007,
        // of it with overwhelming probability (the draw is fixed, so the test is repeatable).
        var generator = SeededGenerator(seed: 3)
        // Box-Muller normals from the project's generator.
        func normal() -> Float {
            let u1 = Double(generator.next() >> 11) * 0x1p-53 + 0x1p-54, u2 = Double(generator.next() >> 11) * 0x1p-53
            return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
        let p = 400
        let rows = (0..<32).map { _ in (0..<p).map { _ in normal() } }
        let figures = correlation(rows).figures
        let expected = (2 / (Double.pi * Double(p - 1))).squareRoot()
        XCTAssertEqual(figures.meanAbsR, expected, accuracy: 0.007)
        XCTAssertEqual(figures.fractionAbsROverHalf, 0)
        // Near 32 effective channels: sampling noise on the variances and correlations lowers
        // it by about C / P relative, some 10 %.
        XCTAssertGreaterThan(figures.participationRatio, 26)
        XCTAssertLessThanOrEqual(figures.participationRatio, 32)
    }

    func testConstructedCovarianceGivesItsParticipationRatio() {
        // Orthogonal zero-mean channels (cosines of distinct whole frequencies over the
        // positions) with variances v: S is diagonal, so (tr S)^2 / tr(S^2) = (sum v)^2 / sum v^2.
        let p = 64
        let variances: [Double] = [4, 1, 1, 0.25, 9]
        let rows = variances.enumerated().map { k, v in
            (0..<p).map { t in Float((2 * v).squareRoot() * cos(2 * Double.pi * Double((k + 1) * t) / Double(p))) }
        }
        let image = correlation(rows)
        let total = variances.reduce(0, +), squares = variances.reduce(0) { $0 + $1 * $1 }
        XCTAssertEqual(image.figures.participationRatio, total * total / squares, accuracy: 1e-5)
        XCTAssertEqual(image.figures.meanAbsR, 0, accuracy: 1e-6)
    }

    func testConstantChannelsAreLeftOutAndCounted() {
        var random = TestRandom(seed: 4)
        let a = (0..<30).map { _ in random.symmetric() }
        let b = (0..<30).map { _ in random.symmetric() }
        let image = correlation([a, [Float](repeating: 2.5, count: 30), b, [Float](repeating: 0, count: 30)])
        XCTAssertEqual(image.figures.constantChannels, 2)
        XCTAssertEqual(image.varying, [true, false, true, false])
        XCTAssertTrue(image.r(0, 1).isNaN && image.r(1, 1).isNaN && image.r(3, 3).isNaN && image.r(2, 0) == image.r(0, 2))
        // One pair left: (a, b).
        XCTAssertEqual(image.figures.meanAbsR, Double(abs(image.r(0, 2))), accuracy: 1e-7)
        // A single position has no variance at all.
        let single = correlation([[1], [2]])
        XCTAssertEqual(single.figures.constantChannels, 2)
        XCTAssertTrue(single.figures.meanAbsR.isNaN)
    }

    /// Against NumPy in float64 on the same float32 maps (two images, each with a constant
    /// channel): the figures and the mean matrix. The covariance is a float32 GEMM of sums of
    /// 143 centred terms, some sqrt(143) u = 7e-7 relative; 1e-5 leaves room for r's division.
    func testFiguresAndMeanMatrixAgreeWithNumPy() throws {
        let fixture = try Fixtures.safetensors("channel_correlation_numpy.safetensors")
        let x = try fixture.tensor("x", in: "fixture")
        var accumulator = ChannelCorrelationAccumulator(channels: 48)
        try accumulator.add(x, name: "x")
        XCTAssertEqual(accumulator.images, 2)
        let figures = try fixture.tensor("figures", in: "fixture").scalars.map(Double.init)
        let mean = accumulator.meanFigures
        // Rows of `figures`: one per image; columns: mean |r|, fraction over 0.5, participation
        // ratio, constant channels. The set's figure is the mean over the two images.
        let expected: [Double] = (0..<4).map { column in (figures[column] + figures[4 + column]) / 2 }
        for (ours, numpy) in zip([mean.meanAbsR, mean.fractionAbsROverHalf, mean.participationRatio, mean.constantChannels], expected) {
            XCTAssertEqual(ours, numpy, accuracy: 1e-5 * max(1, abs(numpy)))
        }
        let matrix = accumulator.meanMatrix
        let reference = try fixture.tensor("mean_r", in: "fixture")
        var worst = 0.0
        for (a, b) in zip(matrix.scalars, reference.scalars) {
            XCTAssertEqual(a.isNaN, b.isNaN)
            if !a.isNaN { worst = max(worst, abs(Double(a) - Double(b))) }
        }
        XCTAssertLessThan(worst, 1e-5)
        print("channel correlation against NumPy: mean matrix max |difference| \(worst)")
    }

    func testImagesOfAnotherSizeOrWithNaNAreRefused() throws {
        var accumulator = ChannelCorrelationAccumulator(channels: 2)
        try accumulator.add(Tensor(shape: [1, 2, 2, 2], scalars: [1, 2, 3, 4, 4, 3, 2, 2]), name: "a.png layer4.0")
        XCTAssertThrowsError(try accumulator.add(Tensor(zeros: [1, 2, 3, 2]), name: "b.png layer4.0")) { error in
            XCTAssertTrue("\(error)".contains("b.png layer4.0: 3 x 2 positions, but earlier images had 4"), "\(error)")
        }
        XCTAssertThrowsError(try accumulator.add(Tensor(shape: [1, 2, 2, 2], scalars: [1, .nan, 3, 4, 4, 3, 2, 2]), name: "c.png"))
        XCTAssertThrowsError(try accumulator.add(Tensor(zeros: [1, 3, 2, 2]), name: "d.png"))
    }

    func testSpectralOrderingGroupsCorrelatedChannels() {
        // Two interleaved groups: even channels follow one source, odd channels another.
        var random = TestRandom(seed: 5)
        let s1 = (0..<80).map { _ in random.symmetric() }, s2 = (0..<80).map { _ in random.symmetric() }
        let rows = (0..<10).map { k in (0..<80).map { t in (k % 2 == 0 ? s1[t] : s2[t]) + 0.2 * random.symmetric() } }
        var accumulator = ChannelCorrelationAccumulator(channels: 10)
        accumulator.add(correlation(rows))
        let order = ChannelOrdering.spectral(accumulator.meanMatrix)
        XCTAssertEqual(Set(order), Set(0..<10))
        let firstHalf = Set(order.prefix(5).map { $0 % 2 })
        XCTAssertEqual(firstHalf.count, 1, "order \(order) mixes the groups")
        let pooled = ChannelOrdering.reorderedAndPooled(accumulator.meanMatrix, order: order, maximumSide: 4)
        XCTAssertEqual(pooled.side, 4)
        XCTAssertEqual(pooled.values.count, 16)
    }
}
