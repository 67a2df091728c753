import Foundation

/// Turns a storage record's little-endian bytes, arriving in chunks of any size, into float32,
/// keeping only the elements in a window (the part of the storage some tensor views).
/// The bytes go straight into the destination array: no intermediate copy per tensor.
struct StorageDecoder {
    let dtype: TorchDType
    /// The window, in bytes from the start of the record.
    let windowStart: Int
    let windowEnd: Int
    let destination: UnsafeMutablePointer<Float>
    private var position = 0
    private(set) var written = 0
    /// An element split across two chunks.
    private var carry: (UInt64, UInt64) = (0, 0)
    private var carryCount = 0

    init(dtype: TorchDType, elements: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        precondition(dtype.isLoadable)
        self.dtype = dtype
        self.windowStart = elements.lowerBound * dtype.byteCount
        self.windowEnd = elements.upperBound * dtype.byteCount
        self.destination = destination
    }

    mutating func consume(_ chunk: UnsafeRawBufferPointer) {
        let chunkStart = position
        position += chunk.count
        let low = max(chunkStart, windowStart)
        let high = min(position, windowEnd)
        guard low < high, let base = chunk.baseAddress else { return }
        var bytes = UnsafeRawBufferPointer(start: base + (low - chunkStart), count: high - low)
        let size = dtype.byteCount
        if carryCount > 0 {
            let taken = min(size - carryCount, bytes.count)
            withUnsafeMutableBytes(of: &carry) { $0.baseAddress!.advanced(by: carryCount).copyMemory(from: bytes.baseAddress!, byteCount: taken) }
            carryCount += taken
            bytes = UnsafeRawBufferPointer(rebasing: bytes[taken...])
            if carryCount == size {
                withUnsafeBytes(of: carry) { decode($0, count: 1) }
                carryCount = 0
            }
        }
        let whole = bytes.count / size
        if whole > 0 { decode(bytes, count: whole) }
        let rest = bytes.count - whole * size
        if rest > 0 {
            withUnsafeMutableBytes(of: &carry) { $0.baseAddress!.copyMemory(from: bytes.baseAddress! + whole * size, byteCount: rest) }
            carryCount = rest
        }
    }

    private mutating func decode(_ bytes: UnsafeRawBufferPointer, count: Int) {
        guard let format = dtype.scalarFormat else { preconditionFailure("\(dtype) is not decoded to float32") }
        format.decode(bytes, count: count, into: destination + written)
        written += count
    }
}

/// Copies the view `shape`/`strides` starting at `offset` in `source` into `destination`, row-major.
/// The innermost axis runs in a plain loop; the outer axes step through an index counter.
func gatherStrided(from source: UnsafePointer<Float>, offset: Int, shape: [Int], strides: [Int],
                   into destination: UnsafeMutablePointer<Float>) {
    guard let innerCount = shape.last else {
        destination[0] = source[offset]
        return
    }
    let count = shape.reduce(1, *)
    guard count > 0 else { return }
    let innerStride = strides[strides.count - 1]
    let outerAxes = shape.count - 1
    var counter = [Int](repeating: 0, count: outerAxes)
    var base = offset
    var out = destination
    for _ in 0..<(count / innerCount) {
        var index = base
        for j in 0..<innerCount {
            out[j] = source[index]
            index += innerStride
        }
        out += innerCount
        var axis = outerAxes - 1
        while axis >= 0 {
            counter[axis] += 1
            base += strides[axis]
            if counter[axis] < shape[axis] { break }
            base -= strides[axis] * shape[axis]
            counter[axis] = 0
            axis -= 1
        }
    }
}
