/// A storage record of a torch zip archive (`<prefix>/data/<key>`), as its persistent id
/// `('storage', storage_class, key, location, numel)` describes it.
public struct TorchStorageReference: Equatable, Sendable {
    /// The record's name inside `<prefix>/data/`.
    public let key: String
    /// The element type the storage was saved as (`uint8` for an untyped storage).
    public let dtype: TorchDType
    /// Number of elements of `dtype` the record holds.
    public let elementCount: Int
    /// The device it was saved from ("cpu", "cuda:0"); the bytes are read the same either way.
    public let location: String

    public var byteCount: Int { elementCount * dtype.byteCount }
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a view of `shape` with `strides`
/// (in elements) starting `storageOffset` elements into a storage. Its data are read only when
/// it is loaded, so listing a checkpoint costs no more than reading its pickle.
public struct TorchTensorReference: Equatable, Sendable {
    public let storage: TorchStorageReference
    public let dtype: TorchDType
    public let storageOffset: Int
    public let shape: [Int]
    public let strides: [Int]
    /// Set when torch saved a lazily negated view (`metadata = {'neg': True}`): the stored
    /// values are those before the negation.
    public let isNegated: Bool

    public var elementCount: Int { shape.reduce(1, *) }

    /// Row-major and dense: element i is at storageOffset + i.
    public var isContiguous: Bool {
        var expected = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) where shape[axis] != 1 {
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }

    /// One past the largest storage index the view touches (`storageOffset` for an empty tensor).
    /// Sizes and strides were checked against overflow when the reference was built.
    public var storageEnd: Int {
        if shape.contains(0) { return storageOffset }
        var last = storageOffset
        for (size, stride) in zip(shape, strides) { last += (size - 1) * stride }
        return last + 1
    }

    /// Checks sizes and strides: non-negative and small enough that index arithmetic cannot overflow.
    static func validate(offset: Int, shape: [Int], strides: [Int]) -> String? {
        guard shape.count == strides.count else {
            return "size has \(shape.count) dimensions but stride has \(strides.count)"
        }
        guard offset >= 0, shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
            return "negative storage offset, size or stride"
        }
        // An empty tensor such as [0, 2^62, 2^62] has no elements, but its other sizes
        // multiplied (as `isContiguous` does, from the last axis) would overflow.
        guard InputLimits.product(shape.map { max($0, 1) }) != nil else { return "size too large" }
        var count = 1
        var end = offset
        for (size, stride) in zip(shape, strides) {
            let (newCount, countOverflow) = count.multipliedReportingOverflow(by: size)
            let (span, spanOverflow) = stride.multipliedReportingOverflow(by: max(size - 1, 0))
            let (newEnd, endOverflow) = end.addingReportingOverflow(span)
            guard !countOverflow, !spanOverflow, !endOverflow, newEnd < Int.max / 16 else {
                return "size or stride too large"
            }
            count = newCount
            end = newEnd
        }
        return nil
    }
}
