import FreqMask
import TensorCore
import XCTest

final class FFT2DTests: XCTestCase {
    func testForwardEqualsDirectDFTAndInverseRestores() {
        var random = TestRandom(seed: 6)
        for (height, width) in [(4, 6), (5, 3), (13, 13), (1, 7)] {
            let x = ComplexTensor(shape: [2, height, width], interleaved: (0..<(4 * height * width)).map { _ in random.symmetric() })
            let spectrum = FFT2D.forward(x)
            for plane in 0..<2 {
                for k1 in 0..<height {
                    for k2 in 0..<width {
                        var re = 0.0, im = 0.0
                        for h in 0..<height {
                            for w in 0..<width {
                                let angle = -2 * Double.pi * (Double(k1 * h) / Double(height) + Double(k2 * w) / Double(width))
                                let flat = (plane * height + h) * width + w
                                let (a, b) = (Double(x.interleaved[2 * flat]), Double(x.interleaved[2 * flat + 1]))
                                re += a * cos(angle) - b * sin(angle)
                                im += a * sin(angle) + b * cos(angle)
                            }
                        }
                        let flat = (plane * height + k1) * width + k2
                        // FFTW's float32 transform of n <= 169 points of magnitude <= sqrt(2):
                        // an FFT's error is about log2(n) u times the input's norm,
                        // 8 x 6e-8 x sqrt(2 x 169) = 1e-5; 1e-4 is 10 times that.
                        XCTAssertEqual(Double(spectrum.interleaved[2 * flat]), re, accuracy: 1e-4)
                        XCTAssertEqual(Double(spectrum.interleaved[2 * flat + 1]), im, accuracy: 1e-4)
                    }
                }
            }
            let restored = FFT2D.inverse(spectrum)
            // There and back: twice the transform's error, 2 log2(n) u of values below
            // sqrt(2), about 1e-6; 1e-5 is 10 times that.
            for i in 0..<x.interleaved.count { XCTAssertEqual(restored.interleaved[i], x.interleaved[i], accuracy: 1e-5) }
        }
    }

    func testShiftsOnOddAndEvenSizes() {
        let odd = Tensor(shape: [5], scalars: [0, 1, 2, 3, 4])
        XCTAssertEqual(FrequencyShift.fftshift(odd).scalars, [3, 4, 0, 1, 2])
        XCTAssertEqual(FrequencyShift.ifftshift(odd).scalars, [2, 3, 4, 0, 1])
        let even = Tensor(shape: [4], scalars: [0, 1, 2, 3])
        XCTAssertEqual(FrequencyShift.fftshift(even).scalars, [2, 3, 0, 1])
        XCTAssertEqual(FrequencyShift.ifftshift(even).scalars, [2, 3, 0, 1])
        let grid = Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(FrequencyShift.fftshift(grid).scalars, [5, 3, 4, 2, 0, 1])
        XCTAssertEqual(FrequencyShift.fftshift(grid, axes: [1]).scalars, [2, 0, 1, 5, 3, 4])
        XCTAssertEqual(FrequencyShift.ifftshift(FrequencyShift.fftshift(grid)), grid)
    }
}

#if canImport(Glibc)
import Glibc
#endif
