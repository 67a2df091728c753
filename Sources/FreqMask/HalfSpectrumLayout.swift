/// Where each frequency of a real H x W plane lives in our half-spectrum buffers.
///
/// A real plane's spectrum is Hermitian: F(-k) = conj F(k). FFTW's real transforms store only
/// the columns k2 = 0 ... W/2 ("half spectrum", H x (W/2+1)); we keep each plane's half spectrum
/// in `slotsPerPlane` interleaved complex slots, padded to a multiple of the vector width so that kernels run whole
/// vectors with no tail. Every slot k also stands for its mirror -k, which the half spectrum
/// does not store unless k sits in a self-mirrored column (k2 = 0, or k2 = W/2 for even W).
struct HalfSpectrumLayout {
    let height: Int
    let width: Int
    let halfWidth: Int
    let slotsPerPlane: Int
    /// Number of real slots (H x (W/2+1)); slots past it are padding.
    var occupiedSlots: Int { height * halfWidth }

    /// 1 where the mirror -k is *not* stored separately (so a slot's mirror terms count),
    /// 0 in self-mirrored columns and padding.
    let mirrorWeight: FloatBuffer
    /// 0 at self-conjugate frequencies (k = -k: DC and Nyquist points), whose Hermitian part
    /// is real; 1 elsewhere; 0 in padding.
    let imaginaryWeight: FloatBuffer
    /// For each occupied slot, the position within a mask plane [H, W] that multiplies the
    /// slot's own frequency and its mirror's: masks are stored fftshifted, so frequency
    /// (k1, k2) reads mask position ((k1 + H/2) mod H, (k2 + W/2) mod W).
    let maskPositionOwn: [Int]
    let maskPositionMirror: [Int]

    init(height: Int, width: Int) {
        self.height = height
        self.width = width
        halfWidth = width / 2 + 1
        let occupied = height * halfWidth
        slotsPerPlane = (occupied + FloatVector.scalarCount - 1) / FloatVector.scalarCount * FloatVector.scalarCount
        var mirror = [Float](repeating: 0, count: slotsPerPlane)
        var imaginary = [Float](repeating: 0, count: slotsPerPlane)
        for k1 in 0..<height {
            for k2 in 0..<halfWidth {
                let slot = k1 * halfWidth + k2
                let selfMirroredColumn = k2 == 0 || (width % 2 == 0 && k2 == width / 2)
                mirror[slot] = selfMirroredColumn ? 0 : 1
                let selfConjugate = selfMirroredColumn && (k1 == 0 || (height % 2 == 0 && k1 == height / 2))
                imaginary[slot] = selfConjugate ? 0 : 1
            }
        }
        mirrorWeight = FloatBuffer(mirror)
        imaginaryWeight = FloatBuffer(imaginary)
        let position = { (k1: Int, k2: Int) in ((k1 + height / 2) % height) * width + (k2 + width / 2) % width }
        let halfWidth = self.halfWidth
        maskPositionOwn = (0..<occupied).map { position($0 / halfWidth, $0 % halfWidth) }
        maskPositionMirror = (0..<occupied).map { position((height - $0 / halfWidth) % height, (width - $0 % halfWidth) % width) }
    }
}

/// Float storage owned by a class and used through its pointer, so that worker threads can
/// read and write disjoint parts of it without Swift's array exclusivity and copy-on-write.
final class FloatBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    /// Zero-filled storage.
    convenience init(count: Int) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    /// Storage the caller fills completely before reading it.
    init(uninitializedCount count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
    }

    convenience init(_ values: [Float]) {
        self.init(count: values.count)
        pointer.update(from: values, count: values.count)
    }

    deinit { pointer.deallocate() }
}
