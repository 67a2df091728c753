/// Reductions over a whole tensor, accumulated in double precision so that the result does
/// not depend on the tensor's size more than it must.
extension Tensor {
    public func sum() -> Double {
        scalars.withUnsafeBufferPointer { buffer in
            var total = 0.0
            for value in buffer { total += Double(value) }
            return total
        }
    }

    public func mean() -> Double { count == 0 ? .nan : sum() / Double(count) }

    /// Population standard deviation (divides by n), as summary statistics use it.
    public func standardDeviation() -> Double {
        guard count > 0 else { return .nan }
        let m = mean()
        var total = 0.0
        for value in scalars { let d = Double(value) - m; total += d * d }
        return (total / Double(count)).squareRoot()
    }

    public func min() -> Float { scalars.min() ?? .nan }
    public func max() -> Float { scalars.max() ?? .nan }
    public func absoluteMax() -> Float { scalars.reduce(0) { Swift.max($0, abs($1)) } }
    public func squaredNorm() -> Double { scalars.reduce(0.0) { $0 + Double($1) * Double($1) } }

    /// Whether every element is finite (no NaN, no infinity): x - x is 0 for finite x and NaN
    /// otherwise, and a NaN survives any sum, so one vectorised pass decides.
    public var isFinite: Bool {
        scalars.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress
            let blocks = (buffer.count + 65_535) / 65_536
            var blockSums = [Float](repeating: 0, count: blocks)
            blockSums.withUnsafeMutableBufferPointer { sums in
                let sumsBase = sums.baseAddress!
                parallelFor(blocks, minimumChunk: 8) { range in
                    for block in range {
                        let start = block * 65_536, end = Swift.min(buffer.count, start + 65_536)
                        var lanes = SIMD8<Float>(repeating: 0)
                        var i = start
                        while i + 8 <= end {
                            let v = UnsafeRawPointer(base! + i).loadUnaligned(as: SIMD8<Float>.self)
                            lanes += v - v
                            i += 8
                        }
                        var rest: Float = 0
                        while i < end { rest += base![i] - base![i]; i += 1 }
                        sumsBase[block] = lanes.sum() + rest
                    }
                }
            }
            return blockSums.allSatisfy { $0 == 0 }
        }
    }

    /// The first non-finite element's flat index, if any.
    public func firstNonFiniteIndex() -> Int? {
        isFinite ? nil : scalars.firstIndex { !$0.isFinite }
    }
}

/// How far `actual` is from `expected`: max |a - e| / max |e| (0 when both are all zero).
public func relativeMaxError(_ actual: Tensor, _ expected: Tensor) -> Double {
    precondition(actual.shape == expected.shape,
                 "shape mismatch: \(actual.shapeDescription) vs \(expected.shapeDescription)")
    var maxDiff = 0.0
    var maxRef = 0.0
    for i in 0..<actual.count {
        maxDiff = Swift.max(maxDiff, abs(Double(actual.scalars[i]) - Double(expected.scalars[i])))
        maxRef = Swift.max(maxRef, abs(Double(expected.scalars[i])))
    }
    return maxRef == 0 ? maxDiff : maxDiff / maxRef
}

/// How far `actual` is from `expected` as vectors: ||a - e|| / ||e||.
public func relativeNormError(_ actual: Tensor, _ expected: Tensor) -> Double {
    precondition(actual.shape == expected.shape,
                 "shape mismatch: \(actual.shapeDescription) vs \(expected.shapeDescription)")
    var diff = 0.0
    var ref = 0.0
    for i in 0..<actual.count {
        let d = Double(actual.scalars[i]) - Double(expected.scalars[i])
        diff += d * d
        ref += Double(expected.scalars[i]) * Double(expected.scalars[i])
    }
    return ref == 0 ? diff.squareRoot() : (diff / ref).squareRoot()
}
