@testable import FreqMask
import CFFTW
import TensorCore
import XCTest

/// The direct eight-plane DFT against FFTW's batched real plans (the layout it must match)
/// and against a double-precision DFT written out from the definition.
final class SmallPlaneDFTTests: XCTestCase {
    static let sizes = [(13, 13), (7, 9), (8, 10), (1, 6), (6, 1), (5, 4), (16, 16), (2, 2), (1, 1), (3, 2), (17, 23)]
    static let batches = [1, 7, 8, 9, 70]

    /// Max |a - b| over max |b| (the spectra's scale), so that near-zero entries do not
    /// dominate; float32 transforms of these sizes agree to about 1e-7 of the scale.
    /// The bound for `relativeError` of a float32 transform of random planes: each output is a
    /// sum of n products with rounded twiddles, off by about sqrt(n) u times the terms' rms,
    /// while the largest output of a random plane is some sqrt(n) times that rms or more; the
    /// ratio is a few u whatever the plane size, and 32 u (1.9e-6) covers it.
    static let transformBound = 32 * 0x1p-24

    func relativeError(_ a: [Float], _ b: [Double]) -> Double {
        precondition(a.count == b.count)
        let scale = max(b.map(abs).max() ?? 0, 1e-30)
        return zip(a, b).map { abs(Double($0) - $1) }.max()! / scale
    }

    /// Half spectra [planes][H][W/2+1] (interleaved, `stride` complex numbers per plane) of
    /// the planes, in double precision, from the definition.
    func directForward(_ x: [Float], height: Int, width: Int, planes: Int, stride: Int) -> [Double] {
        let halfWidth = width / 2 + 1
        var out = [Double](repeating: 0, count: 2 * planes * stride)
        for p in 0..<planes {
            for k1 in 0..<height {
                for k2 in 0..<halfWidth {
                    var re = 0.0, im = 0.0
                    for n1 in 0..<height {
                        for n2 in 0..<width {
                            let turns = Double(k1 * n1 % height) / Double(height) + Double(k2 * n2 % width) / Double(width)
                            let angle = -2 * Double.pi * turns
                            let value = Double(x[(p * height + n1) * width + n2])
                            re += value * cos(angle)
                            im += value * sin(angle)
                        }
                    }
                    out[2 * (p * stride + k1 * halfWidth + k2)] = re
                    out[2 * (p * stride + k1 * halfWidth + k2) + 1] = im
                }
            }
        }
        return out
    }

    /// FFTW's complex-to-real transform written out: complex inverse DFTs down the columns of
    /// the half spectrum, then for each row Re Y_0 + 2 sum_{0<k<W/2} Re(Y_k e^{+i..})
    /// (+ Re Y_{W/2} (-1)^n for even W).
    func directInverse(_ spectrum: [Float], height: Int, width: Int, planes: Int, stride: Int) -> [Double] {
        let halfWidth = width / 2 + 1
        var out = [Double](repeating: 0, count: planes * height * width)
        for p in 0..<planes {
            for n1 in 0..<height {
                for n2 in 0..<width {
                    var total = 0.0
                    for k2 in 0..<halfWidth {
                        var re = 0.0, im = 0.0
                        for k1 in 0..<height {
                            let angle = 2 * Double.pi * Double(k1 * n1 % height) / Double(height)
                            let slot = 2 * (p * stride + k1 * halfWidth + k2)
                            let (a, b) = (Double(spectrum[slot]), Double(spectrum[slot + 1]))
                            re += a * cos(angle) - b * sin(angle)
                            im += a * sin(angle) + b * cos(angle)
                        }
                        let angle = 2 * Double.pi * Double(k2 * n2 % width) / Double(width)
                        let term = re * cos(angle) - im * sin(angle)
                        let selfMirrored = k2 == 0 || (width % 2 == 0 && k2 == width / 2)
                        total += selfMirrored ? term : 2 * term
                    }
                    out[(p * height + n1) * width + n2] = total
                }
            }
        }
        return out
    }

    func fftwForward(_ x: [Float], height: Int, width: Int, planes: Int, stride: Int) -> [Float] {
        let plan = FFTPlans.shared.realToHalf(height: height, width: width, planes: planes, spectrumStride: stride)
        let input = AlignedBuffer(count: x.count)
        input.pointer.update(from: x, count: x.count)
        let spectrum = AlignedBuffer(count: 2 * planes * stride)
        spectrum.pointer.withMemoryRebound(to: fftwf_complex.self, capacity: planes * stride) {
            fftwf_execute_dft_r2c(plan, input.pointer, $0)
        }
        return Array(UnsafeBufferPointer(start: spectrum.pointer, count: 2 * planes * stride))
    }

    func fftwInverse(_ s: [Float], height: Int, width: Int, planes: Int, stride: Int) -> [Float] {
        let plan = FFTPlans.shared.halfToReal(height: height, width: width, planes: planes, spectrumStride: stride)
        let spectrum = AlignedBuffer(count: s.count)
        spectrum.pointer.update(from: s, count: s.count)
        let output = AlignedBuffer(count: planes * height * width)
        spectrum.pointer.withMemoryRebound(to: fftwf_complex.self, capacity: planes * stride) {
            fftwf_execute_dft_c2r(plan, $0, output.pointer)
        }
        return Array(UnsafeBufferPointer(start: output.pointer, count: planes * height * width))
    }

    /// Runs the direct DFT on a copy and returns the output; slots past H (W/2+1) in each
    /// plane's spectrum start at `padding` so that the test sees whether they were touched.
    func smallForward(_ dft: SmallPlaneDFT, _ x: [Float], planes: Int, stride: Int, padding: Float) -> [Float] {
        var spectrum = [Float](repeating: padding, count: 2 * planes * stride)
        let scratch = dft.makeScratch()
        x.withUnsafeBufferPointer { input in
            spectrum.withUnsafeMutableBufferPointer { out in
                dft.forward(input.baseAddress!, to: out.baseAddress!, planes: planes, spectrumStride: stride, scratch: scratch)
            }
        }
        return spectrum
    }

    func smallInverse(_ dft: SmallPlaneDFT, _ s: [Float], planes: Int, stride: Int) -> [Float] {
        var output = [Float](repeating: .nan, count: planes * dft.height * dft.width)
        let scratch = dft.makeScratch()
        s.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                dft.inverse(input.baseAddress!, to: out.baseAddress!, planes: planes, spectrumStride: stride, scratch: scratch)
            }
        }
        return output
    }

    /// Strides: the masker's padded one, and the tightest (H (W/2+1), no padding) where a
    /// plane's writes must not spill into the next plane.
    func strides(height: Int, width: Int) -> [Int] {
        let occupied = height * (width / 2 + 1)
        return Array(Set([HalfSpectrumLayout(height: height, width: width).slotsPerPlane, occupied, occupied + 3])).sorted()
    }

    func testForwardMatchesFFTWAndDirectDFT() {
        var random = TestRandom(seed: 41)
        for (height, width) in Self.sizes {
            let dft = SmallPlaneDFT(height: height, width: width)
            let occupied = height * (width / 2 + 1)
            for planes in Self.batches {
                for stride in strides(height: height, width: width) {
                    let x = (0..<(planes * height * width)).map { _ in random.symmetric() }
                    let ours = smallForward(dft, x, planes: planes, stride: stride, padding: 1234)
                    let reference = directForward(x, height: height, width: width, planes: planes, stride: stride)
                    let fftw = fftwForward(x, height: height, width: width, planes: planes, stride: stride)
                    // Compare occupied slots only; padding must be left as it was.
                    var oursOccupied = [Float](), referenceOccupied = [Double](), fftwOccupied = [Double]()
                    for p in 0..<planes {
                        for f in 0..<(2 * stride) {
                            let i = 2 * p * stride + f
                            if f < 2 * occupied {
                                oursOccupied.append(ours[i])
                                referenceOccupied.append(reference[i])
                                fftwOccupied.append(Double(fftw[i]))
                            } else {
                                XCTAssertEqual(ours[i], 1234, "padding written, \(height)x\(width) planes \(planes) stride \(stride)")
                            }
                        }
                    }
                    let label = "\(height)x\(width), \(planes) planes, stride \(stride)"
                    XCTAssertLessThan(relativeError(oursOccupied, referenceOccupied), Self.transformBound, label)
                    XCTAssertLessThan(relativeError(oursOccupied, fftwOccupied), Self.transformBound, label)
                }
            }
        }
    }

    /// Arbitrary half spectra (not Hermitian in the self-mirrored columns): FFTW ignores the
    /// parts that have no real inverse, and so must we.
    func testInverseMatchesFFTWAndDirectDFT() {
        var random = TestRandom(seed: 42)
        for (height, width) in Self.sizes {
            let dft = SmallPlaneDFT(height: height, width: width)
            for planes in Self.batches {
                for stride in strides(height: height, width: width) {
                    let s = (0..<(2 * planes * stride)).map { _ in random.symmetric() }
                    let ours = smallInverse(dft, s, planes: planes, stride: stride)
                    let reference = directInverse(s, height: height, width: width, planes: planes, stride: stride)
                    let fftw = fftwInverse(s, height: height, width: width, planes: planes, stride: stride)
                    let label = "\(height)x\(width), \(planes) planes, stride \(stride)"
                    XCTAssertLessThan(relativeError(ours, reference), Self.transformBound, label)
                    XCTAssertLessThan(relativeError(ours, fftw.map(Double.init)), Self.transformBound, label)
                }
            }
        }
    }

    func testRoundTripScalesByPlaneSize() {
        var random = TestRandom(seed: 43)
        for (height, width) in Self.sizes {
            let dft = SmallPlaneDFT(height: height, width: width)
            let stride = HalfSpectrumLayout(height: height, width: width).slotsPerPlane
            for planes in Self.batches {
                let x = (0..<(planes * height * width)).map { _ in random.symmetric() }
                let spectrum = smallForward(dft, x, planes: planes, stride: stride, padding: 0)
                let back = smallInverse(dft, spectrum, planes: planes, stride: stride)
                let expected = x.map { Double($0) * Double(height * width) }
                XCTAssertLessThan(relativeError(back, expected), Self.transformBound, "\(height)x\(width), \(planes) planes")
            }
        }
    }

    /// A unit impulse at (a, b) has spectrum e^{-2 pi i (k1 a / H + k2 b / W)}: checks every
    /// lane of a block separately, each plane holding its impulse somewhere else.
    func testImpulsesInEveryLane() {
        let (height, width) = (13, 13)
        let dft = SmallPlaneDFT(height: height, width: width)
        let planes = 11
        var x = [Float](repeating: 0, count: planes * height * width)
        for p in 0..<planes { x[p * height * width + (p * 37) % (height * width)] = 1 }
        let stride = HalfSpectrumLayout(height: height, width: width).slotsPerPlane
        let spectrum = smallForward(dft, x, planes: planes, stride: stride, padding: 0)
        for p in 0..<planes {
            let position = (p * 37) % (height * width)
            let (a, b) = (position / width, position % width)
            for k1 in 0..<height {
                for k2 in 0..<(width / 2 + 1) {
                    let angle = -2 * Double.pi * (Double(k1 * a) / Double(height) + Double(k2 * b) / Double(width))
                    let slot = 2 * (p * stride + k1 * (width / 2 + 1) + k2)
                    // One rounded twiddle per output: 16 u covers it.
                    XCTAssertEqual(Double(spectrum[slot]), cos(angle), accuracy: 1e-6)
                    XCTAssertEqual(Double(spectrum[slot + 1]), sin(angle), accuracy: 1e-6)
                }
            }
        }
    }

    /// Two threads sharing one transform, each with its own scratch, get the same answers as
    /// one thread.
    func testConcurrentUseWithSeparateScratch() {
        var random = TestRandom(seed: 44)
        let (height, width) = (13, 13)
        let dft = SmallPlaneDFT(height: height, width: width)
        let stride = HalfSpectrumLayout(height: height, width: width).slotsPerPlane
        let planes = 64
        let inputs = (0..<2).map { _ in (0..<(planes * height * width)).map { _ in random.symmetric() } }
        let expected = inputs.map { smallForward(dft, $0, planes: planes, stride: stride, padding: 0) }
        let results = FloatBuffer(count: 2 * 2 * planes * stride)
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            let scratch = dft.makeScratch()
            inputs[worker].withUnsafeBufferPointer { input in
                for _ in 0..<50 {
                    dft.forward(input.baseAddress!, to: results.pointer + worker * 2 * planes * stride,
                                planes: planes, spectrumStride: stride, scratch: scratch)
                }
            }
        }
        for worker in 0..<2 {
            let got = Array(UnsafeBufferPointer(start: results.pointer + worker * 2 * planes * stride, count: 2 * planes * stride))
            XCTAssertEqual(got, expected[worker])
        }
    }

    /// The masker picks the direct DFT for small planes and FFTW for larger ones, and the two
    /// paths give the same forward, input gradient and mask gradients.
    func testMaskerPathsAgree() throws {
        var random = TestRandom(seed: 45)
        XCTAssertNotNil(AmplitudePhaseMasker.makeSmallDFT(height: 13, width: 13))
        XCTAssertNotNil(AmplitudePhaseMasker.makeSmallDFT(height: 8, width: 8))
        XCTAssertNotNil(AmplitudePhaseMasker.makeSmallDFT(height: 1, width: AmplitudePhaseMasker.smallDFTLimit))
        XCTAssertNil(AmplitudePhaseMasker.makeSmallDFT(height: 13, width: AmplitudePhaseMasker.smallDFTLimit + 1))
        XCTAssertNil(AmplitudePhaseMasker.makeSmallDFT(height: AmplitudePhaseMasker.smallDFTLimit + 1, width: 13))
        XCTAssertNotNil(AmplitudePhaseMasker(variant: .perChannel, channels: 2, height: 13, width: 13).smallDFT)
        XCTAssertNil(AmplitudePhaseMasker(variant: .shared, channels: 2, height: 32, width: 32).smallDFT)
        for (height, width, channels) in [(13, 13, 70), (6, 5, 3), (1, 4, 9), (8, 8, 2), (17, 23, 9)] {
            let amplitude = random.tensor([1, channels, height, width])
            let phase = random.tensor([1, channels, height, width])
            let x = random.tensor([2, channels, height, width])
            let gradient = random.tensor([2, channels, height, width])
            let direct = try AmplitudePhaseMasker(maskAmplitude: amplitude, maskPhase: phase)
            let viaFFTW = try AmplitudePhaseMasker(maskAmplitude: amplitude, maskPhase: phase)
            direct.smallDFT = SmallPlaneDFT(height: height, width: width)
            viaFFTW.smallDFT = nil
            var results: [(output: Tensor, gradInput: Tensor, gradients: [String: Tensor])] = []
            for masker in [direct, viaFFTW] {
                let (output, tape) = try masker.forwardForTraining(x)
                var gradients: [String: Tensor] = [:]
                let gradInput = masker.backward(gradient, tape: tape, parameterGradients: &gradients)
                results.append((output, gradInput, gradients))
            }
            let label = "\(height)x\(width)x\(channels)"
            func close(_ a: Tensor, _ b: Tensor, _ what: String) {
                XCTAssertEqual(a.shape, b.shape)
                let scale = max(b.scalars.map(abs).max() ?? 0, 1e-30)
                let error = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max()! / scale
                // Two float32 pipelines (transform, polar map, inverse, and for the gradients
                // the same backwards), each a few transform errors (32 u, above) of the scale:
                // 1e-5 is 10 times the sum of both.
                XCTAssertLessThan(error, 1e-5, "\(what) \(label)")
            }
            close(results[0].output, results[1].output, "output")
            close(results[0].gradInput, results[1].gradInput, "input gradient")
            close(results[0].gradients["mask_amplitude"]!, results[1].gradients["mask_amplitude"]!, "amplitude gradient")
            close(results[0].gradients["mask_phase"]!, results[1].gradients["mask_phase"]!, "phase gradient")
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
