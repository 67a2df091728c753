import TensorCore

/// `fftshift` and `ifftshift`: circular rolls that move the zero frequency to the centre and
/// back. `fftshift` rolls each chosen axis by floor(n/2), `ifftshift` by -floor(n/2); for odd n
/// they differ, and each undoes the other.
///
/// The published maskers call torch's shifts without `dim`, which rolls *every* axis, batch and
/// channel included; pass all axes to reproduce that.
public enum FrequencyShift {
    public static func fftshift(_ x: ComplexTensor, axes: [Int]? = nil) -> ComplexTensor {
        roll(x, axes: axes ?? Array(0..<x.shape.count), forward: true)
    }

    public static func ifftshift(_ x: ComplexTensor, axes: [Int]? = nil) -> ComplexTensor {
        roll(x, axes: axes ?? Array(0..<x.shape.count), forward: false)
    }

    public static func fftshift(_ x: Tensor, axes: [Int]? = nil) -> Tensor {
        let shifted = roll(ComplexTensor(real: x), axes: axes ?? Array(0..<x.rank), forward: true)
        return shifted.real
    }

    public static func ifftshift(_ x: Tensor, axes: [Int]? = nil) -> Tensor {
        let shifted = roll(ComplexTensor(real: x), axes: axes ?? Array(0..<x.rank), forward: false)
        return shifted.real
    }

    /// The amount each axis of size `n` moves: fftshift moves element i to (i + n/2) mod n.
    @inlinable
    public static func shift(forSize n: Int, forward: Bool) -> Int {
        forward ? n / 2 : (n - n / 2) % max(n, 1)
    }

    private static func roll(_ x: ComplexTensor, axes: [Int], forward: Bool) -> ComplexTensor {
        let shape = x.shape
        let rank = shape.count
        var shifts = [Int](repeating: 0, count: rank)
        for axis in axes {
            precondition(axis >= 0 && axis < rank, "axis \(axis) out of range for shape \(shape)")
            shifts[axis] = shift(forSize: shape[axis], forward: forward)
        }
        var strides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
        var result = [Float](repeating: 0, count: x.interleaved.count)
        var index = [Int](repeating: 0, count: rank)
        for flat in 0..<x.count {
            var destination = 0
            for d in 0..<rank { destination += ((index[d] + shifts[d]) % shape[d]) * strides[d] }
            result[2 * destination] = x.interleaved[2 * flat]
            result[2 * destination + 1] = x.interleaved[2 * flat + 1]
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return ComplexTensor(shape: shape, interleaved: result)
    }
}
