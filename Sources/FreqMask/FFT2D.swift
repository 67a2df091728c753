import CFFTW
import Foundation
import TensorCore

/// A complex tensor: a shape and interleaved (re, im) float32 storage, row-major.
public struct ComplexTensor: Sendable, Equatable {
    public let shape: [Int]
    /// 2 * count floats: re, im, re, im, ...
    public var interleaved: [Float]

    public init(shape: [Int], interleaved: [Float]) {
        precondition(interleaved.count == 2 * shape.reduce(1, *), "complex storage does not fit \(shape)")
        self.shape = shape
        self.interleaved = interleaved
    }

    /// The real tensor embedded as a complex one (zero imaginary parts).
    public init(real: Tensor) {
        var storage = [Float](repeating: 0, count: 2 * real.count)
        for i in 0..<real.count { storage[2 * i] = real.scalars[i] }
        self.init(shape: real.shape, interleaved: storage)
    }

    public var count: Int { shape.reduce(1, *) }
    public var real: Tensor { Tensor(shape: shape, scalars: (0..<count).map { interleaved[2 * $0] }) }
    public var imaginary: Tensor { Tensor(shape: shape, scalars: (0..<count).map { interleaved[2 * $0 + 1] }) }

    /// Elementwise magnitude and phase, as torch's `abs` and `angle` (angle(0) = 0).
    public var magnitude: Tensor {
        Tensor(shape: shape, scalars: (0..<count).map { i -> Float in
            let re = interleaved[2 * i], im = interleaved[2 * i + 1]
            return (re * re + im * im).squareRoot()
        })
    }

    public var phase: Tensor {
        Tensor(shape: shape, scalars: (0..<count).map { i -> Float in
            Float(atan2(Double(interleaved[2 * i + 1]), Double(interleaved[2 * i])))
        })
    }
}

/// Two-dimensional discrete Fourier transforms over the last two dimensions, with torch's
/// default ("backward") normalisation: the forward transform is unscaled, the inverse divides
/// by H * W.
public enum FFT2D {
    /// `torch.fft.fft2(x)` for a tensor of rank 2 or more.
    public static func forward(_ x: ComplexTensor) -> ComplexTensor {
        transform(x, inverse: false)
    }

    /// `torch.fft.ifft2(x)`.
    public static func inverse(_ x: ComplexTensor) -> ComplexTensor {
        transform(x, inverse: true)
    }

    private static func transform(_ x: ComplexTensor, inverse: Bool) -> ComplexTensor {
        precondition(x.shape.count >= 2, "a 2D FFT needs at least two dimensions, got \(x.shape)")
        let height = x.shape[x.shape.count - 2]
        let width = x.shape[x.shape.count - 1]
        let planeSize = height * width
        let planes = planeSize == 0 ? 0 : x.count / planeSize
        guard planes > 0 else { return x }
        let plan = FFTPlans.shared.complex(height: height, width: width, planes: 1, inverse: inverse)
        let input = AlignedBuffer(count: 2 * planeSize)
        let output = AlignedBuffer(count: 2 * planeSize)
        var result = [Float](repeating: 0, count: x.interleaved.count)
        let scale: Float = inverse ? 1 / Float(planeSize) : 1
        x.interleaved.withUnsafeBufferPointer { source in
            for p in 0..<planes {
                input.pointer.update(from: source.baseAddress! + 2 * p * planeSize, count: 2 * planeSize)
                input.pointer.withMemoryRebound(to: fftwf_complex.self, capacity: planeSize) { i in
                    output.pointer.withMemoryRebound(to: fftwf_complex.self, capacity: planeSize) { o in
                        fftwf_execute_dft(plan, i, o)
                    }
                }
                for j in 0..<(2 * planeSize) { result[2 * p * planeSize + j] = output.pointer[j] * scale }
            }
        }
        return ComplexTensor(shape: x.shape, interleaved: result)
    }
}
