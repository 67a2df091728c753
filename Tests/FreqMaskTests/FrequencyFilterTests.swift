import FreqMask
import Foundation
import TensorCore
import XCTest

final class FrequencyFilterTests: XCTestCase {
    /// cos(2 pi (f1 i / H + f2 j / W) + phase) on an H x W plane, as [1, 1, H, W].
    func sinusoid(height: Int, width: Int, f1: Int, f2: Int, phase: Double = 0) -> Tensor {
        Tensor(shape: [1, 1, height, width], scalars: (0..<(height * width)).map { index in
            let (i, j) = (index / width, index % width)
            return Float(cos(2 * Double.pi * (Double(f1 * i) / Double(height) + Double(f2 * j) / Double(width)) + phase))
        })
    }

    func largest(_ t: Tensor) -> Double { t.scalars.map { Double(abs($0)) }.max() ?? 0 }

    /// A pure sinusoid at radius sqrt(f1² + f2²) passes a filter that keeps that radius and
    /// vanishes through one that does not, on odd and even plane sizes. The transforms are
    /// float32: what passes is equal to 1e-5 of the unit amplitude, what is removed below it.
    func testSinusoidsPassOrAreRemovedByRadius() throws {
        for (height, width) in [(12, 10), (13, 9), (8, 8), (7, 11)] {
            for (f1, f2) in [(1, 0), (0, 2), (2, 1), (3, 3)] {
                let x = sinusoid(height: height, width: width, f1: f1, f2: f2)
                let radius = (Double(f1 * f1 + f2 * f2)).squareRoot()
                let bands: [FrequencyBand] = [.lowPass(radius: radius), .lowPass(radius: radius - 0.5),
                                              .highPass(radius: radius - 0.5), .highPass(radius: radius),
                                              .bandPass(inner: radius - 0.5, outer: radius + 0.5), .bandPass(inner: radius, outer: radius + 1)]
                for band in bands where band.validateQuietly(height: height, width: width) {
                    for part in [SpectrumPart.amplitude, .both] {
                        let filter = try FrequencyFilter(band: band, part: part, height: height, width: width)
                        let y = try filter(x)
                        let label = "\(band) \(part) on \(height)x\(width), frequency (\(f1), \(f2))"
                        if band.keeps(radius: radius) {
                            XCTAssertLessThan(relativeMaxError(y, x), 1e-5, label)
                        } else {
                            XCTAssertLessThan(largest(y), 1e-5, label)
                        }
                    }
                }
            }
        }
    }

    /// Filtering the phase keeps every amplitude and sets the removed frequencies' phase to 0:
    /// a shifted cosine comes back unshifted, while kept frequencies keep their phase.
    func testPhaseFilterZeroesThePhaseOfRemovedFrequencies() throws {
        let (height, width) = (9, 12)
        let x = sinusoid(height: height, width: width, f1: 2, f2: 1, phase: 0.7)
        let removing = try FrequencyFilter(band: .lowPass(radius: 1), part: .phase, height: height, width: width)
        XCTAssertLessThan(relativeMaxError(try removing(x), sinusoid(height: height, width: width, f1: 2, f2: 1)), 1e-5)
        let keeping = try FrequencyFilter(band: .lowPass(radius: 3), part: .phase, height: height, width: width)
        XCTAssertLessThan(relativeMaxError(try keeping(x), x), 1e-5)
    }

    func testBadRadiiAndPlanesAreInputErrors() {
        // A 13 x 13 plane reaches radius sqrt(6² + 6²) = 8.49.
        XCTAssertThrowsError(try FrequencyFilter(band: .lowPass(radius: 9), part: .both, height: 13, width: 13)) { error in
            XCTAssertTrue("\(error)".contains("low-pass r <= 9: the radius must lie in [0, 8.49)"), "\(error)")
        }
        XCTAssertThrowsError(try FrequencyFilter(band: .highPass(radius: -1), part: .both, height: 13, width: 13))
        XCTAssertThrowsError(try FrequencyFilter(band: .bandPass(inner: 3, outer: 2), part: .both, height: 13, width: 13))
        XCTAssertThrowsError(try FrequencyFilter(band: .lowPass(radius: .nan), part: .both, height: 13, width: 13))
        let filter = try! FrequencyFilter(band: .lowPass(radius: 2), part: .both, height: 13, width: 13)
        XCTAssertThrowsError(try filter(Tensor(zeros: [1, 4, 12, 13]))) { error in
            XCTAssertTrue("\(error)".contains("expected [N, C, 13, 13]"), "\(error)")
        }
        XCTAssertTrue(filter.parameters.isEmpty)
    }
}

extension FrequencyBand {
    func validateQuietly(height: Int, width: Int) -> Bool {
        (try? validate(height: height, width: width)) != nil
    }
}
