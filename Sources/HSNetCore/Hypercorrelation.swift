import TensorCore

/// HSNet's hypercorrelation: for every backbone tap, the cosine similarity between every query
/// position and every support position, clamped at 0, stacked per layer into 4D pyramids.
///
/// A tap's query features `q` [C, Ha*Wa] and support features `s` [C, Hb*Wb] are divided by
/// their per-position L2 norms plus `normEpsilon`; the correlation is `max(0, q̂ᵀ ŝ)`, one GEMM.
/// The epsilon sits outside the square root, so a support position zeroed by the mask gets a
/// zero vector (0 / 1e-5), hence zero correlations: those columns are left out of the GEMM
/// and written as zeros, which gives exactly the same numbers for less work (at 400 x 400 a
/// typical mask keeps a fifth of the layer-2 support positions).
public enum Hypercorrelation {
    /// Added to the norm (not under the square root) before dividing.
    public static let normEpsilon: Float = 1e-5

    /// One image's feature map prepared for correlation: every position's channel vector
    /// divided by its norm plus `normEpsilon`, optionally without the positions whose vector
    /// is exactly zero. Built once per feature map; the query's serve every shot, and a
    /// backward pass finds here what it divides by.
    public struct Operand {
        public let channels: Int
        public let height: Int
        public let width: Int
        /// The positions kept, ascending (row-major in the H x W plane).
        public let kept: [Int]
        /// [channels, kept.count]: the normalised vectors of the kept positions, as columns.
        public let normalized: [Float]
        /// ‖x‖ of each kept position (the forward divided by ‖x‖ + ε).
        public let norms: [Float]

        public var positions: Int { height * width }
        public var isDense: Bool { kept.count == positions }

        /// Prepares batch element `batchIndex` of `feature` [B, C, H, W]; with
        /// `droppingZeroPositions`, positions whose vector is all zeros are left out.
        public init(_ feature: Tensor, batchIndex: Int = 0, droppingZeroPositions: Bool) {
            precondition(feature.rank == 4 && batchIndex < feature.shape[0],
                         "correlation operand needs a [B, C, H, W] feature, got \(feature.shapeDescription)")
            let (c, h, w) = (feature.shape[1], feature.shape[2], feature.shape[3])
            let n = h * w
            channels = c
            height = h
            width = w
            var sums = [Float](repeating: 0, count: n)
            var largest = [Float](repeating: 0, count: droppingZeroPositions ? n : 0)
            feature.withUnsafeBufferPointer { buffer in
                let x = buffer.baseAddress! + batchIndex * c * n
                sums.withUnsafeMutableBufferPointer { sumBuffer in
                    largest.withUnsafeMutableBufferPointer { largestBuffer in
                        let s = sumBuffer.baseAddress!
                        // (An empty array may still hand out a base address: test the flag.)
                        let m = droppingZeroPositions ? largestBuffer.baseAddress : nil
                        // Chunks of positions, all channels each: rows are read in contiguous runs.
                        parallelFor(n, minimumChunk: 128) { range in
                            for r in 0..<c {
                                let row = x + r * n
                                for j in range { s[j] += row[j] * row[j] }
                                if let m { for j in range { m[j] = max(m[j], abs(row[j])) } }
                            }
                            for j in range { s[j] = s[j].squareRoot() }
                        }
                    }
                }
            }
            let kept = droppingZeroPositions ? largest.indices.filter { largest[$0] != 0 } : Array(0..<n)
            let k = kept.count
            self.kept = kept
            norms = kept.map { sums[$0] }
            normalized = [Float](unsafeUninitializedCapacity: c * k) { out, initialized in
                feature.withUnsafeBufferPointer { buffer in
                    let x = buffer.baseAddress! + batchIndex * c * n
                    let target = out.baseAddress!
                    sums.withUnsafeBufferPointer { d in
                        kept.withUnsafeBufferPointer { columns in
                            parallelFor(c, minimumChunk: max(1, 32_768 / max(k, 1))) { rows in
                                for r in rows {
                                    let row = x + r * n
                                    let dst = target + r * k
                                    let eps = Hypercorrelation.normEpsilon
                                    if k == n {
                                        for j in 0..<n { dst[j] = row[j] / (d[j] + eps) }
                                    } else {
                                        for j in 0..<k { dst[j] = row[columns[j]] / (d[columns[j]] + eps) }
                                    }
                                }
                            }
                        }
                    }
                }
                initialized = c * k
            }
        }
    }

    /// The three pyramids, layer 4 first, as HSNet orders them: each
    /// [B, taps of that layer, Ha, Wa, Hb, Wb].
    ///
    /// `query` and `support` are the 13 taps of each image ([B, C, H, W] with equal B and C per
    /// tap); `tapLayers[i]` is tap i's backbone layer.
    public static func pyramids(query: [Tensor], support: [Tensor], tapLayers: [Int]) -> [Tensor] {
        precondition(query.count == support.count && query.count == tapLayers.count,
                     "hypercorrelation needs one query and one support feature per tap")
        return [4, 3, 2].map { layer in
            let taps = tapLayers.indices.filter { tapLayers[$0] == layer }
            return pyramid(query: taps.map { query[$0] }, support: taps.map { support[$0] })
        }
    }

    /// One pyramid from the taps of one layer: [B, taps, Ha, Wa, Hb, Wb].
    public static func pyramid(query: [Tensor], support: [Tensor]) -> Tensor {
        precondition(!query.isEmpty && query.count == support.count)
        let batch = query[0].shape[0]
        for t in query.indices {
            precondition(query[t].rank == 4 && support[t].rank == 4
                         && query[t].shape[0] == batch && support[t].shape[0] == batch
                         && query[t].shape[1] == support[t].shape[1]
                         && query[t].shape[2...3] == query[0].shape[2...3] && support[t].shape[2...3] == support[0].shape[2...3],
                         "correlation taps differ: query \(query[t].shapeDescription), support \(support[t].shapeDescription)")
        }
        let pyramids = (0..<batch).map { b in
            pyramid(query: query.map { Operand($0, batchIndex: b, droppingZeroPositions: false) },
                    support: support.map { Operand($0, batchIndex: b, droppingZeroPositions: true) })
        }
        if batch == 1 { return pyramids[0] }
        return Tensor(shape: [batch] + pyramids[0].shape.dropFirst(), scalars: pyramids.flatMap(\.scalars))
    }

    /// One pyramid of one image pair from prepared taps: [1, taps, Ha, Wa, Hb, Wb].
    public static func pyramid(query: [Operand], support: [Operand]) -> Tensor {
        precondition(!query.isEmpty && query.count == support.count)
        let (ha, wa, hb, wb) = (query[0].height, query[0].width, support[0].height, support[0].width)
        let (na, nb) = (ha * wa, hb * wb)
        for t in query.indices {
            precondition(query[t].channels == support[t].channels && query[t].height == ha && query[t].width == wa
                         && query[t].isDense && support[t].height == hb && support[t].width == wb,
                         "correlation taps differ in channels or size")
        }
        return Tensor(shape: [1, query.count, ha, wa, hb, wb]) { out in
            for t in query.indices {
                correlate(query[t], support[t],
                          into: UnsafeMutableBufferPointer(start: out.baseAddress! + t * na * nb, count: na * nb))
            }
        }
    }

    /// Writes `max(0, q̂ᵀ ŝ)` into `out` ([Ha*Wa, Hb*Wb], query position major): one GEMM
    /// over the kept support positions, the others set to 0.
    static func correlate(_ query: Operand, _ support: Operand, into out: UnsafeMutableBufferPointer<Float>) {
        let (na, nb, k) = (query.positions, support.positions, support.kept.count)
        let base = out.baseAddress!
        guard k > 0 else {
            parallelFor(na, minimumChunk: max(1, 65_536 / max(nb, 1))) { rows in
                (base + rows.lowerBound * nb).update(repeating: 0, count: rows.count * nb)
            }
            return
        }
        query.normalized.withUnsafeBufferPointer { q in
            support.normalized.withUnsafeBufferPointer { s in
                if support.isDense {
                    gemm(transposeA: true, m: na, n: nb, k: query.channels, a: q.baseAddress!, lda: na,
                         b: s.baseAddress!, ldb: nb, c: base, ldc: nb)
                    parallelFor(na * nb, minimumChunk: 1 << 16) { range in
                        for i in range { base[i] = max(base[i], 0) }
                    }
                    return
                }
                let packed = UnsafeMutablePointer<Float>.allocate(capacity: na * k)
                defer { packed.deallocate() }
                gemm(transposeA: true, m: na, n: k, k: query.channels, a: q.baseAddress!, lda: na,
                     b: s.baseAddress!, ldb: k, c: packed, ldc: k)
                support.kept.withUnsafeBufferPointer { columns in
                    parallelFor(na, minimumChunk: max(1, 65_536 / max(nb, 1))) { rows in
                        for i in rows {
                            let row = base + i * nb
                            row.update(repeating: 0, count: nb)
                            let source = packed + i * k
                            for j in 0..<k { row[columns[j]] = max(source[j], 0) }
                        }
                    }
                }
            }
        }
    }
}

// MARK: Backward

extension Hypercorrelation {
    /// The gradients of the query and support taps ([1, C, Ha, Wa] and [1, C, Hb, Wb] each)
    /// from the gradient of one pyramid [1, taps, Ha, Wa, Hb, Wb], given the pyramid the forward
    /// produced and the operands it used. Any layer's pyramid: fine-tuning needs it for every
    /// layer that has plug-ins (layer 4 in the paper), PATNet's reference layers for all three.
    ///
    /// As torch's autograd: the clamp passes the gradient where its output is positive (not
    /// at exactly 0, so masked-out support positions get none); ĝ_q = ŝ Gᵀ and ĝ_s = q̂ G;
    /// through x̂ = x / (‖x‖ + ε), dx = (dx̂ − x̂ (x̂ᵀdx̂) (‖x‖ + ε) / ‖x‖) / (‖x‖ + ε), and
    /// dx = dx̂ / ε for a zero vector (torch's norm has gradient 0 at 0).
    public static func backward(_ gradPyramid: Tensor, pyramid: Tensor, query: [Operand], support: [Operand])
        -> (query: [Tensor], support: [Tensor]) {
        precondition(gradPyramid.shape == pyramid.shape && pyramid.rank == 6 && pyramid.shape[0] == 1
                     && pyramid.shape[1] == query.count && query.count == support.count,
                     "pyramid gradient \(gradPyramid.shapeDescription) does not fit the pyramid \(pyramid.shapeDescription)")
        var queryGradients: [Tensor] = []
        var supportGradients: [Tensor] = []
        for t in query.indices {
            let (na, nb) = (query[t].positions, support[t].positions)
            let offset = t * na * nb
            let (gq, gs) = gradPyramid.withUnsafeBufferPointer { g in
                pyramid.withUnsafeBufferPointer { y in
                    tapBackward(UnsafeBufferPointer(rebasing: g[offset..<(offset + na * nb)]),
                                output: UnsafeBufferPointer(rebasing: y[offset..<(offset + na * nb)]),
                                query: query[t], support: support[t])
                }
            }
            queryGradients.append(gq)
            supportGradients.append(gs)
        }
        return (queryGradients, supportGradients)
    }

    static func tapBackward(_ grad: UnsafeBufferPointer<Float>, output: UnsafeBufferPointer<Float>,
                            query: Operand, support: Operand) -> (Tensor, Tensor) {
        let (c, na, nb, k) = (query.channels, query.positions, support.positions, support.kept.count)
        // G: the gradient where the clamp let it through.
        var passed = [Float](unsafeUninitializedCapacity: na * nb) { buffer, initialized in
            for i in 0..<(na * nb) { buffer[i] = output[i] > 0 ? grad[i] : 0 }
            initialized = na * nb
        }
        // ĝ_q [C, na] = ŝ [C, k] x G[:, kept]ᵀ; the dropped columns have ŝ = 0.
        var gradQueryHat = [Float](repeating: 0, count: c * na)
        if k > 0 {
            var packed = [Float](repeating: 0, count: na * k)
            for i in 0..<na { for (p, j) in support.kept.enumerated() { packed[i * k + p] = passed[i * nb + j] } }
            support.normalized.withUnsafeBufferPointer { s in
                packed.withUnsafeBufferPointer { g in
                    gradQueryHat.withUnsafeMutableBufferPointer { out in
                        gemm(transposeB: true, m: c, n: na, k: k, a: s.baseAddress!, lda: k, b: g.baseAddress!, ldb: k,
                             c: out.baseAddress!, ldc: na)
                    }
                }
            }
        }
        // ĝ_s [C, nb] = q̂ [C, na] x G [na, nb].
        var gradSupportHat = [Float](repeating: 0, count: c * nb)
        query.normalized.withUnsafeBufferPointer { q in
            passed.withUnsafeMutableBufferPointer { g in
                gradSupportHat.withUnsafeMutableBufferPointer { out in
                    gemm(m: c, n: nb, k: na, a: q.baseAddress!, lda: na, b: g.baseAddress!, ldb: nb,
                         c: out.baseAddress!, ldc: nb)
                }
            }
        }
        passed = []
        let gradQuery = normalizationBackward(gradQueryHat, operand: query)
        let gradSupport = normalizationBackward(gradSupportHat, operand: support)
        return (gradQuery, gradSupport)
    }

    /// dx from dx̂ [C, positions] for x̂ = x / (‖x‖ + ε), per position (column).
    static func normalizationBackward(_ gradHat: [Float], operand: Operand) -> Tensor {
        let (c, n, k) = (operand.channels, operand.positions, operand.kept.count)
        let eps = normEpsilon
        return Tensor(shape: [1, c, operand.height, operand.width]) { out in
            // Dropped (zero) positions: dx = dx̂ / ε.
            for i in 0..<(c * n) { out[i] = gradHat[i] / eps }
            operand.normalized.withUnsafeBufferPointer { xhat in
                for (p, j) in operand.kept.enumerated() {
                    let norm = operand.norms[p]
                    let denominator = norm + eps
                    var dot: Float = 0
                    for r in 0..<c { dot += xhat[r * k + p] * gradHat[r * n + j] }
                    let factor = norm > 0 ? dot * denominator / norm : 0
                    for r in 0..<c { out[r * n + j] = (gradHat[r * n + j] - xhat[r * k + p] * factor) / denominator }
                }
            }
        }
    }
}
