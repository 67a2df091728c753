import Foundation
import TensorCore
import XCTest

/// The running mean fine-tuning's loss is read by.
final class RunningMeanTests: XCTestCase {
    let losses: [Float] = [0.9, 0.5, 0.7, 0.3, 0.6, 0.2, 0.4, 0.1]

    func testLastAndFirstAreMeansOfTheEndsWindows() throws {
        XCTAssertEqual(try XCTUnwrap(RunningMean.last(losses, window: 3)), (0.2 + 0.4 + 0.1) / 3, accuracy: 1e-7)
        XCTAssertEqual(try XCTUnwrap(RunningMean.first(losses, window: 3)), (0.9 + 0.5 + 0.7) / 3, accuracy: 1e-7)
        // Fewer values than the window: all of them.
        XCTAssertEqual(try XCTUnwrap(RunningMean.last([0.5, 0.25], window: 10)), 0.375)
        XCTAssertEqual(try XCTUnwrap(RunningMean.first([0.5, 0.25], window: 10)), 0.375)
        // A window below 1 counts as one value.
        XCTAssertEqual(RunningMean.last(losses, window: 0), Double(Float(0.1)))
        XCTAssertNil(RunningMean.last([], window: 4))
        XCTAssertNil(RunningMean.first([], window: 4))
    }

    func testSeriesIsTheLastMeanOfEveryPrefix() throws {
        for window in [1, 2, 3, 8, 20] {
            let series = RunningMean.series(losses, window: window)
            XCTAssertEqual(series.count, losses.count)
            for k in losses.indices {
                XCTAssertEqual(series[k], try XCTUnwrap(RunningMean.last(Array(losses[...k]), window: window)), accuracy: 1e-12,
                               "window \(window), step \(k)")
            }
        }
        XCTAssertEqual(RunningMean.series([], window: 3), [])
    }

    func testASeriesThatCyclesWithThePairsIsFlatOverAWholePass() {
        // Three pairs of fixed losses dealt in turn: the mean over a pass is their mean at every full window.
        let cycling = (0..<30).map { [Float(0.2), 0.8, 0.5][$0 % 3] }
        let means = RunningMean.series(cycling, window: 3)
        for k in 2..<cycling.count { XCTAssertEqual(means[k], 0.5, accuracy: 1e-7) }
    }

    func testSeriesStaysLinearAndAccurateOverAMillionSteps() {
        let long = (0..<1_000_000).map { Float(1 + sin(Double($0) * 0.001)) }
        let started = Date()
        let means = RunningMean.series(long, window: 10_000)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "the sliding sum must not cost steps x window")
        XCTAssertEqual(means.last!, RunningMean.last(long, window: 10_000)!, accuracy: 1e-9)
    }
}
