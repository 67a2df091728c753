import CFFTW
import Foundation
import TensorCore

/// FFTW plans, created once per shape and reused.
///
/// FFTW's planner is not thread-safe, so every plan is made under one lock; executing a plan
/// with FFTW's new-array functions is thread-safe, so workers share plans and bring their own
/// buffers. All buffers handed to a plan come from `AlignedBuffer` (FFTW's allocator), so they
/// have the alignment the plan was made for.
public final class FFTPlans: @unchecked Sendable {
    public static let shared = FFTPlans()

    private let lock = NSLock()
    private var plans: [Key: OpaquePointer] = [:]

    enum Kind: Hashable { case realToHalf, halfToReal, complexForward, complexInverse }

    struct Key: Hashable {
        let kind: Kind
        let height: Int
        let width: Int
        let planes: Int
        /// Distance in complex numbers between consecutive planes of a half spectrum.
        let spectrumStride: Int
    }

    private func plan(_ key: Key, make: () -> OpaquePointer?) -> OpaquePointer {
        lock.lock()
        defer { lock.unlock() }
        if let existing = plans[key] { return existing }
        guard let made = make() else {
            fatalError("FFTW could not plan a \(key.kind) transform of \(key.planes) x \(key.height) x \(key.width)")
        }
        plans[key] = made
        return made
    }

    /// Forward real-to-complex 2D transforms of `planes` real H x W planes (contiguous), into
    /// interleaved half spectra [H, W/2+1], each plane `spectrumStride` complex numbers apart.
    /// (Interleaved spectra transform about 1.6x faster than split ones at these sizes.)
    func realToHalf(height: Int, width: Int, planes: Int, spectrumStride: Int) -> OpaquePointer {
        let key = Key(kind: .realToHalf, height: height, width: width, planes: planes, spectrumStride: spectrumStride)
        return plan(key) {
            let input = AlignedBuffer(count: planes * height * width)
            let spectrum = AlignedBuffer(count: 2 * planes * spectrumStride)
            var n = [Int32(height), Int32(width)]
            return spectrum.pointer.withMemoryRebound(to: fftwf_complex.self, capacity: planes * spectrumStride) { out in
                fftwf_plan_many_dft_r2c(2, &n, Int32(planes), input.pointer, nil, 1, Int32(height * width),
                                        out, nil, 1, Int32(spectrumStride), UInt32(FFTW_MEASURE))
            }
        }
    }

    /// Inverse (unnormalised) complex-to-real 2D transforms from interleaved Hermitian half
    /// spectra laid out as `realToHalf` writes them. FFTW overwrites the spectrum it reads.
    func halfToReal(height: Int, width: Int, planes: Int, spectrumStride: Int) -> OpaquePointer {
        let key = Key(kind: .halfToReal, height: height, width: width, planes: planes, spectrumStride: spectrumStride)
        return plan(key) {
            let output = AlignedBuffer(count: planes * height * width)
            let spectrum = AlignedBuffer(count: 2 * planes * spectrumStride)
            var n = [Int32(height), Int32(width)]
            return spectrum.pointer.withMemoryRebound(to: fftwf_complex.self, capacity: planes * spectrumStride) { input in
                fftwf_plan_many_dft_c2r(2, &n, Int32(planes), input, nil, 1, Int32(spectrumStride),
                                        output.pointer, nil, 1, Int32(height * width), UInt32(FFTW_MEASURE))
            }
        }
    }

    /// Complex-to-complex 2D transforms on interleaved (re, im) planes, forward (e^-i) or
    /// inverse (e^+i), unnormalised.
    func complex(height: Int, width: Int, planes: Int, inverse: Bool) -> OpaquePointer {
        let key = Key(kind: inverse ? .complexInverse : .complexForward, height: height, width: width,
                      planes: planes, spectrumStride: height * width)
        return plan(key) {
            let input = AlignedBuffer(count: 2 * planes * height * width)
            let output = AlignedBuffer(count: 2 * planes * height * width)
            var n = [Int32(height), Int32(width)]
            let plane = Int32(height * width)
            return input.pointer.withMemoryRebound(to: fftwf_complex.self, capacity: planes * height * width) { i in
                output.pointer.withMemoryRebound(to: fftwf_complex.self, capacity: planes * height * width) { o in
                    fftwf_plan_many_dft(2, &n, Int32(planes), i, nil, 1, plane, o, nil, 1, plane,
                                        inverse ? FFTW_BACKWARD : FFTW_FORWARD, UInt32(FFTW_ESTIMATE))
                }
            }
        }
    }
}

/// A float buffer from FFTW's allocator (SIMD-aligned), freed with it.
final class AlignedBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = max(count, 1)
        guard let raw = fftwf_malloc(MemoryLayout<Float>.stride * self.count) else {
            fatalError("out of memory allocating \(count) floats")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: self.count)
        pointer.initialize(repeating: 0, count: self.count)
    }

    deinit { fftwf_free(pointer) }
}
