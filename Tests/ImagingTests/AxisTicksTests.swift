import Imaging
import XCTest

final class AxisTicksTests: XCTestCase {
    func testCoveringTicksAreRoundAndEnclose() {
        let ticks = AxisTicks.covering(0.3, 57.2, maxIntervals: 6)
        XCTAssertEqual(ticks.values, [0, 10, 20, 30, 40, 50, 60])
        XCTAssertEqual(ticks.labels, ["0", "10", "20", "30", "40", "50", "60"])
        let fine = AxisTicks.covering(0.3, 57.2, maxIntervals: 12)
        XCTAssertEqual(fine.step, 5)
        XCTAssertEqual(AxisTicks.covering(-0.13, 0.02, maxIntervals: 4).labels, ["-0.15", "-0.10", "-0.05", "0.00", "0.05"])
    }

    func testInsideTicksFollowATinySpan() {
        // Float bounds as they come from data: 0.733 is stored as 0.73299998.
        let ticks = AxisTicks.inside(Double(Float(0.729)), Double(Float(0.733)))
        XCTAssertEqual(ticks.labels, ["0.729", "0.730", "0.731", "0.732", "0.733"])
        // As many as room allows: five, not the three of step 1.
        XCTAssertEqual(AxisTicks.inside(-1, 1).labels, ["-1.0", "-0.5", "0.0", "0.5", "1.0"])
        XCTAssertEqual(AxisTicks.inside(0, 1).labels, ["0.0", "0.5", "1.0"])
        for (low, high) in [(0.0, 1e-6), (12345.0, 12345.5), (-3e7, 2e7), (0.05, 0.95)] {
            let count = AxisTicks.inside(low, high).values.count
            XCTAssertTrue((3...5).contains(count), "\(low)...\(high): \(count) ticks")
        }
        // Equal or broken bounds still give ticks.
        XCTAssertEqual(AxisTicks.inside(0.5, 0.5).labels, ["0.46", "0.48", "0.50", "0.52", "0.54"])
        XCTAssertFalse(AxisTicks.inside(.nan, 1).values.isEmpty)
    }

    func testNoNegativeZero() {
        let ticks = AxisTicks.covering(-1, 1, maxIntervals: 4)
        XCTAssertTrue(ticks.labels.contains("0.0"), "\(ticks.labels)")
        XCTAssertEqual(ticks.label(-1e-12), "0.0")
    }
}
