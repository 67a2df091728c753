import FreqMask
import TensorCore

/// The maskers written literally as the published formulas, with the general FFT and the
/// all-axes shifts and no shortcut, to check the fast kernels on sizes the fixtures do not
/// cover (even sizes, where Nyquist frequencies are their own mirrors).
enum LiteralMaskers {
    /// Re(ifft2(ifftshift(polar(sigmoid(Ma) |F|, sigmoid(Mp) angle(F))))), F = fftshift(fft2(x)),
    /// shifting every axis, the masks broadcast over the batch (and channels for APM-S).
    static func amplitudePhase(_ x: Tensor, maskAmplitude: Tensor, maskPhase: Tensor) -> Tensor {
        let spectrum = FrequencyShift.fftshift(FFT2D.forward(ComplexTensor(real: x)))
        let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var masked = spectrum.interleaved
        for n in 0..<batch {
            for c in 0..<channels {
                for i in 0..<(height * width) {
                    let flat = (n * channels + c) * height * width + i
                    let maskFlat = (maskAmplitude.shape[1] == 1 ? 0 : c) * height * width + i
                    let re = Double(spectrum.interleaved[2 * flat]), im = Double(spectrum.interleaved[2 * flat + 1])
                    let magnitude = (re * re + im * im).squareRoot() * Double(sigmoid(maskAmplitude.scalars[maskFlat]))
                    let phase = atan2(im, re) * Double(sigmoid(maskPhase.scalars[maskFlat]))
                    masked[2 * flat] = Float(magnitude * cos(phase))
                    masked[2 * flat + 1] = Float(magnitude * sin(phase))
                }
            }
        }
        let restored = FFT2D.inverse(FrequencyShift.ifftshift(ComplexTensor(shape: x.shape, interleaved: masked)))
        return restored.real
    }

    /// mean over H, W of angle(fft2(x)), [N, C].
    static func pooledPhase(_ x: Tensor) -> [Double] {
        let spectrum = FFT2D.forward(ComplexTensor(real: x))
        let planeSize = x.shape[2] * x.shape[3]
        return (0..<(x.shape[0] * x.shape[1])).map { plane in
            var total = 0.0
            for i in 0..<planeSize {
                let flat = plane * planeSize + i
                total += atan2(Double(spectrum.interleaved[2 * flat + 1]), Double(spectrum.interleaved[2 * flat]))
            }
            return total / Double(planeSize)
        }
    }
}

extension LiteralMaskers {
    /// A direction d for finite differences of the masker at x that moves no frequency across
    /// the branch cut of angle(): the masker scales angle(F) by sigmoid(Mp) < 1, so its output
    /// jumps when some F(k) crosses the negative real axis, and a random step would sometimes
    /// straddle that jump. d keeps the frequencies of a random direction except those of x
    /// that lie within 0.3 rad of the cut or have |F| < 1 (with their mirrors, so d stays real).
    static func directionAvoidingBranchCut(at x: Tensor, random: inout TestRandom) -> Tensor {
        let spectrum = FFT2D.forward(ComplexTensor(real: x))
        var direction = FFT2D.forward(ComplexTensor(real: random.tensor(x.shape))).interleaved
        let (height, width) = (x.shape[2], x.shape[3])
        for plane in 0..<(x.shape[0] * x.shape[1]) {
            for k1 in 0..<height {
                for k2 in 0..<width {
                    let flat = (plane * height + k1) * width + k2
                    let re = Double(spectrum.interleaved[2 * flat]), im = Double(spectrum.interleaved[2 * flat + 1])
                    guard abs(atan2(im, re)) > Double.pi - 0.3 || (re * re + im * im) < 1 else { continue }
                    let mirror = (plane * height + (height - k1) % height) * width + (width - k2) % width
                    for index in [flat, mirror] { direction[2 * index] = 0; direction[2 * index + 1] = 0 }
                }
            }
        }
        return FFT2D.inverse(ComplexTensor(shape: x.shape, interleaved: direction)).real
    }
}

#if canImport(Glibc)
import Glibc
#endif
