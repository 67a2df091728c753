/// A 3 x 3 convolution with stride 1 and padding 1 by Winograd's minimal filtering
/// F(2 x 2, 3 x 3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
/// CVPR 2016).
///
/// The output is cut into 2 x 2 tiles. Each tile's 4 x 4 input patch d and each 3 x 3 kernel g
/// are carried to a 4 x 4 domain, V = Bᵀ d B and U = G g Gᵀ, where the convolution becomes an
/// elementwise product; the tile is Aᵀ (Σ over input channels of U ⊙ V) A. Summed over the
/// channels, each of the 16 positions ξ is one matrix product U[ξ] (out x in) times V[ξ]
/// (in x tiles): 16 multiply-adds per channel pair and tile instead of im2col's 9 x 4, 2.25
/// times fewer.
///
/// Numerics: Bᵀ and Aᵀ hold only 0 and ±1 and G halves, so an output's float32 error is that
/// of the direct sum (measured on HSNet's shapes: the same or lower). F(4 x 4, 3 x 3), four
/// times fewer multiplications, scales values by up to 8 and 5 in its transforms and comes
/// out 10 to 15 times less accurate than the direct sum, beyond the parity bounds.
/// `LayerWinograd3x3Tests` bounds every output against float64 sums.
///
/// Tensors are [batch, channels, height, width, lanes]: each spatial position holds `lanes`
/// values that share the kernel (HSNet's center-pivot convolutions keep the support plane of
/// every query position there); the transforms run on whole lanes at once.
public struct Winograd3x3 {
    public let inChannels: Int
    public let outChannels: Int
    /// Columns per band's products: measured on HSNet's shapes (128 channels on 50 x 50 x 4
    /// and 25 x 25 x 4, 64 on 100 x 100, 128 on 50 x 50), 128 is as fast as any and keeps
    /// a band's buffers (16 x channels x columns floats each) near the size of the L2 cache.
    static let bandColumns = 128
    /// U[ξ][out][in]: the 16 transformed kernels of every channel pair.
    let transformedWeights: [Float]

    /// The convolution with `weight` [out, in, 3, 3].
    public init(weight: Tensor) {
        self.init(weight, adjoint: false)
    }

    /// The adjoint of the convolution with `weight` [out, in, 3, 3]: the map from an output
    /// gradient to the input gradient, itself a 3 x 3 convolution (stride 1, padding 1) from
    /// `out` to `in` channels with the kernels transposed and turned by 180 degrees.
    public init(adjointOf weight: Tensor) {
        self.init(weight, adjoint: true)
    }

    private init(_ weight: Tensor, adjoint: Bool) {
        precondition(weight.rank == 4 && weight.shape[2] == 3 && weight.shape[3] == 3,
                     "Winograd3x3: weight must be [out, in, 3, 3], got \(weight.shapeDescription)")
        let (wOut, wIn) = (weight.shape[0], weight.shape[1])
        let (cout, cin) = adjoint ? (wIn, wOut) : (wOut, wIn)
        inChannels = cin
        outChannels = cout
        let pairs = cout * cin
        transformedWeights = [Float](unsafeUninitializedCapacity: 16 * pairs) { u, initialized in
            weight.withUnsafeBufferPointer { w in
                for o in 0..<cout {
                    for c in 0..<cin {
                        // Kernel (o, c) of this convolution: for the adjoint, weight's (c, o) turned.
                        let base = (adjoint ? c * wIn + o : o * wIn + c) * 9
                        func g(_ ky: Int, _ kx: Int) -> Double {
                            Double(adjoint ? w[base + (2 - ky) * 3 + 2 - kx] : w[base + ky * 3 + kx])
                        }
                        // G g Gᵀ in double, rounded once: G on the columns, then on the rows.
                        let column0 = Self.kernelTransform(g(0, 0), g(1, 0), g(2, 0))
                        let column1 = Self.kernelTransform(g(0, 1), g(1, 1), g(2, 1))
                        let column2 = Self.kernelTransform(g(0, 2), g(1, 2), g(2, 2))
                        for i in 0..<4 {
                            let row = Self.kernelTransform(column0[i], column1[i], column2[i])
                            for j in 0..<4 { u[(i * 4 + j) * pairs + o * cin + c] = Float(row[j]) }
                        }
                    }
                }
            }
            initialized = 16 * pairs
        }
    }

    /// G g for one column of a kernel.
    @inline(__always)
    static func kernelTransform(_ g0: Double, _ g1: Double, _ g2: Double) -> SIMD4<Double> {
        SIMD4(g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2)
    }

    /// y = conv(x) (+ bias per output channel), or with `accumulate` y += conv(x).
    /// x [batch, in, height, width, lanes], y [batch, out, height, width, lanes].
    ///
    /// The work goes in bands of tile rows, each band whole on one core: its transformed
    /// input, 16 products and output transform, on buffers that stay in cache between the
    /// three steps.
    public func apply(_ x: UnsafePointer<Float>, batch: Int, height: Int, width: Int, lanes: Int,
                      bias: [Float]? = nil, accumulate: Bool = false, into y: UnsafeMutablePointer<Float>) {
        precondition(bias == nil || bias!.count == outChannels)
        let geometry = TileGeometry(height: height, width: width, lanes: lanes)
        let (cin, cout) = (inChannels, outChannels)
        // Tile rows per band: about `bandColumns` columns per product.
        let columnsPerRow = geometry.tilesW * lanes
        let bandRows = max(1, min(geometry.tilesH, Self.bandColumns / columnsPerRow))
        let bandsPerPlane = (geometry.tilesH + bandRows - 1) / bandRows
        let planeSize = height * width * lanes
        transformedWeights.withUnsafeBufferPointer { u in
            parallelTasks(batch * bandsPerPlane) { _, tasks in
                let capacity = bandRows * columnsPerRow
                // The vector passes read up to 8 floats past a row's end: slack after the products.
                let transformed = UnsafeMutablePointer<Float>.allocate(capacity: 16 * cin * capacity)
                let products = UnsafeMutablePointer<Float>.allocate(capacity: 16 * cout * capacity + 8)
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: geometry.scratchCount)
                defer { transformed.deallocate(); products.deallocate(); scratch.deallocate() }
                products.initialize(repeating: 0, count: 16 * cout * capacity + 8)
                for task in tasks {
                    let (b, band) = task.quotientAndRemainder(dividingBy: bandsPerPlane)
                    let rows = band * bandRows..<min(geometry.tilesH, (band + 1) * bandRows)
                    let columns = rows.count * columnsPerRow
                    let input = x + b * cin * planeSize
                    for c in 0..<cin {
                        geometry.transformInput(input + c * planeSize, tileRows: rows, into: transformed + c * columns,
                                                positionStride: cin * columns, scratch: scratch)
                    }
                    for xi in 0..<16 {
                        gemm(m: cout, n: columns, k: cin, a: u.baseAddress! + xi * cout * cin, lda: cin,
                             b: transformed + xi * cin * columns, ldb: columns,
                             c: products + xi * cout * columns, ldc: columns)
                    }
                    let output = y + b * cout * planeSize
                    for o in 0..<cout {
                        geometry.transformOutput(products + o * columns, positionStride: cout * columns, tileRows: rows,
                                                 into: output + o * planeSize, bias: bias?[o] ?? 0, accumulate: accumulate,
                                                 scratch: scratch)
                    }
                }
            }
        }
    }

    /// The tiling of one plane and the two data transforms. Both work a row of tiles at a
    /// time: the pass across rows combines whole plane rows (contiguous, 8 floats at a time),
    /// the pass across columns reads them at the tiles' offsets, 4 lanes of a tile at a time
    /// (lanes a multiple of 4) or 4 tiles at a time (one lane).
    struct TileGeometry {
        let height, width, lanes, tilesH, tilesW: Int

        init(height: Int, width: Int, lanes: Int) {
            (self.height, self.width, self.lanes) = (height, width, lanes)
            (tilesH, tilesW) = ((height + 1) / 2, (width + 1) / 2)
        }

        /// A plane row with one zero column on the left and zeros on the right up to the
        /// columns the last tiles (and 8-wide reads past them) touch, in whole vectors of 8.
        var paddedRow: Int { ((2 * tilesW + 12) * lanes + 7) / 8 * 8 }
        /// A row of tiles' outputs, in whole vectors of 8.
        var tileRow: Int { (tilesW * lanes + 7) / 8 * 8 }
        var scratchCount: Int { max(8 * paddedRow, 12 * tileRow) }

        /// Bᵀ d B of the tiles in `tileRows` of one channel's plane: position ξ of the band's
        /// tile t lands at `into[ξ * positionStride + t * lanes ..< + lanes]`.
        func transformInput(_ plane: UnsafePointer<Float>, tileRows: Range<Int>, into v: UnsafeMutablePointer<Float>,
                            positionStride: Int, scratch: UnsafeMutablePointer<Float>) {
            let (lanes, rowLength, padded) = (self.lanes, width * self.lanes, paddedRow)
            scratch.initialize(repeating: 0, count: 8 * padded)
            let (d0, d1, d2, d3) = (scratch, scratch + padded, scratch + 2 * padded, scratch + 3 * padded)
            let (t0, t1, t2, t3) = (scratch + 4 * padded, scratch + 5 * padded, scratch + 6 * padded, scratch + 7 * padded)
            for th in tileRows {
                for i in 0..<4 {
                    let (d, r) = (scratch + i * padded, 2 * th - 1 + i)
                    if r >= 0 && r < height {
                        (d + lanes).update(from: plane + r * rowLength, count: rowLength)
                    } else {
                        (d + lanes).update(repeating: 0, count: rowLength)
                    }
                }
                // Bᵀ across the four rows.
                for k in stride(from: 0, to: padded, by: 8) {
                    let (a0, a1, a2, a3) = (load8(d0 + k), load8(d1 + k), load8(d2 + k), load8(d3 + k))
                    store8(t0 + k, a0 - a2)
                    store8(t1 + k, a1 + a2)
                    store8(t2 + k, a2 - a1)
                    store8(t3 + k, a1 - a3)
                }
                // B across the columns of each tile: columns 2 tw - 1 ... 2 tw + 2 of the plane.
                let first = (th - tileRows.lowerBound) * tilesW * lanes
                for i in 0..<4 {
                    let t = scratch + (4 + i) * padded
                    let v0 = v + (4 * i) * positionStride + first
                    let (v1, v2, v3) = (v0 + positionStride, v0 + 2 * positionStride, v0 + 3 * positionStride)
                    if lanes % 4 == 0 {
                        for tw in 0..<tilesW {
                            for g in stride(from: 0, to: lanes, by: 4) {
                                let c = t + 2 * tw * lanes + g
                                let (c0, c1, c2, c3) = (load4(c), load4(c + lanes), load4(c + 2 * lanes), load4(c + 3 * lanes))
                                let o = tw * lanes + g
                                store4(v0 + o, c0 - c2)
                                store4(v1 + o, c1 + c2)
                                store4(v2 + o, c2 - c1)
                                store4(v3 + o, c1 - c3)
                            }
                        }
                    } else if lanes == 1 {
                        // Four tiles at once: their columns 0 and 1 are the even and odd floats
                        // from 2 tw, columns 2 and 3 those from 2 tw + 2.
                        var tw = 0
                        while tw + 4 <= tilesW {
                            let (a, b) = (load8(t + 2 * tw), load8(t + 2 * tw + 2))
                            let (c0, c1, c2, c3) = (a.evenHalf, a.oddHalf, b.evenHalf, b.oddHalf)
                            store4(v0 + tw, c0 - c2)
                            store4(v1 + tw, c1 + c2)
                            store4(v2 + tw, c2 - c1)
                            store4(v3 + tw, c1 - c3)
                            tw += 4
                        }
                        for tw in tw..<tilesW {
                            let c = t + 2 * tw
                            (v0[tw], v1[tw], v2[tw], v3[tw]) = (c[0] - c[2], c[1] + c[2], c[2] - c[1], c[1] - c[3])
                        }
                    } else {
                        for tw in 0..<tilesW {
                            for l in 0..<lanes {
                                let c = t + 2 * tw * lanes + l
                                let o = tw * lanes + l
                                (v0[o], v1[o]) = (c[0] - c[2 * lanes], c[lanes] + c[2 * lanes])
                                (v2[o], v3[o]) = (c[2 * lanes] - c[lanes], c[lanes] - c[3 * lanes])
                            }
                        }
                    }
                }
            }
        }

        /// Aᵀ m A of the tiles in `tileRows` of one output channel, written (plus `bias`) or
        /// added into its plane; m holds the band's tiles as `transformInput` placed them
        /// (and 8 readable floats past the last).
        func transformOutput(_ m: UnsafePointer<Float>, positionStride: Int, tileRows: Range<Int>,
                             into plane: UnsafeMutablePointer<Float>, bias: Float, accumulate: Bool,
                             scratch: UnsafeMutablePointer<Float>) {
            let (lanes, rowLength, length) = (self.lanes, width * self.lanes, tileRow)
            // h[2 i + c]: row i of the tiles' m with A on its columns; out[2 a + c]: output (a, c).
            let h = scratch, out = scratch + 8 * length
            for th in tileRows {
                let first = (th - tileRows.lowerBound) * tilesW * lanes
                // A across the columns: for each row i of the tiles, m_i0 + m_i1 + m_i2 and m_i1 - m_i2 - m_i3.
                for i in 0..<4 {
                    let m0 = m + (4 * i) * positionStride + first
                    let (m1, m2, m3) = (m0 + positionStride, m0 + 2 * positionStride, m0 + 3 * positionStride)
                    let (h0, h1) = (h + 2 * i * length, h + (2 * i + 1) * length)
                    for k in stride(from: 0, to: length, by: 8) {
                        let (a0, a1, a2, a3) = (load8(m0 + k), load8(m1 + k), load8(m2 + k), load8(m3 + k))
                        store8(h0 + k, a0 + a1 + a2)
                        store8(h1 + k, a1 - a2 - a3)
                    }
                }
                // Aᵀ across the rows.
                for c in 0..<2 {
                    let (r0, r1, r2, r3) = (h + c * length, h + (2 + c) * length, h + (4 + c) * length, h + (6 + c) * length)
                    let (top, bottom) = (out + c * length, out + (2 + c) * length)
                    for k in stride(from: 0, to: length, by: 8) {
                        let (a0, a1, a2, a3) = (load8(r0 + k), load8(r1 + k), load8(r2 + k), load8(r3 + k))
                        store8(top + k, a0 + a1 + a2)
                        store8(bottom + k, a1 - a2 - a3)
                    }
                }
                for a in 0..<min(2, height - 2 * th) {
                    let row = plane + (2 * th + a) * rowLength
                    for c in 0..<2 {
                        let source = out + (2 * a + c) * length
                        let tiles = (width - c + 1) / 2   // tiles whose column c lies inside the plane
                        if lanes % 4 == 0 {
                            let offset = SIMD4<Float>(repeating: bias)
                            for tw in 0..<tiles {
                                let (dst, src) = (row + (2 * tw + c) * lanes, source + tw * lanes)
                                for g in stride(from: 0, to: lanes, by: 4) {
                                    store4(dst + g, load4(src + g) + (accumulate ? load4(dst + g) : offset))
                                }
                            }
                        } else if accumulate {
                            for tw in 0..<tiles {
                                let (dst, src) = (row + (2 * tw + c) * lanes, source + tw * lanes)
                                for l in 0..<lanes { dst[l] += src[l] }
                            }
                        } else {
                            for tw in 0..<tiles {
                                let (dst, src) = (row + (2 * tw + c) * lanes, source + tw * lanes)
                                for l in 0..<lanes { dst[l] = src[l] + bias }
                            }
                        }
                    }
                }
            }
        }
    }
}

@inline(__always) private func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) private func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) private func load4(_ p: UnsafeMutablePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
}

@inline(__always) private func store8(_ p: UnsafeMutablePointer<Float>, _ value: SIMD8<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: value, as: SIMD8<Float>.self)
}

@inline(__always) private func store4(_ p: UnsafeMutablePointer<Float>, _ value: SIMD4<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: value, as: SIMD4<Float>.self)
}
