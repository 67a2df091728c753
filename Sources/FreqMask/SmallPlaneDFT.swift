/// Direct (matrix) two-dimensional real DFTs of small planes, eight planes at a time.
///
/// The maskers transform thousands of tiny planes (13 x 13 in HSNet's layer 4). FFTW works
/// on one plane at a time and spends its vector lanes within that plane, where a 13-point
/// transform leaves little to vectorise: on one core here one r2c or c2r pass over 12288
/// planes of 13 x 13 takes about 5.5 ms. A direct DFT
/// does more arithmetic (O(H W (H + W)) rather than O(H W log HW): for 13 x 13 about 2100
/// multiply-adds per plane and direction, using the symmetry cos(2 pi k (N - n) / N) =
/// cos(2 pi k n / N) to halve them), but every instruction works on eight planes: a block of
/// eight planes is transposed into structure-of-arrays form (one `SIMD8` per pixel, lane p =
/// plane p), transformed with row DFTs and then column DFTs whose coefficients come from
/// small precomputed tables, and transposed back. That takes about 2.7 ms forward and 2.2 ms
/// inverse for the same pass. `AmplitudePhaseMasker.prefersSmallDFT` lists the sizes where
/// this wins, with timings.
///
/// Layout and conventions are FFTW's, so the two are interchangeable:
/// - `forward`: P contiguous real H x W planes -> half spectra [H, W/2+1], interleaved
///   (re, im), slot k1 * (W/2+1) + k2, planes `spectrumStride` complex numbers apart,
///   unnormalised, kernel e^{-2 pi i (k1 n1 / H + k2 n2 / W)}. Padding slots past
///   H * (W/2+1) are left untouched.
/// - `inverse`: such half spectra -> real planes, unnormalised, the real inverse of the
///   Hermitian extension (FFTW's complex-to-real transform): complex inverse DFTs down the
///   columns, then per row y[n] = Re Y_0 + 2 sum_{0<k<W/2} Re(Y_k e^{2 pi i k n / W})
///   (+ Re Y_{W/2} (-1)^n for even W); imaginary parts of the self-mirrored columns are
///   ignored, as FFTW does.
///
/// The type holds only immutable tables and may be shared by threads; each thread brings its
/// own `Scratch`.
final class SmallPlaneDFT: @unchecked Sendable {
    let height: Int
    let width: Int
    /// W/2 + 1 columns in a half spectrum.
    let halfWidth: Int

    /// cos and sin of 2 pi k n / W for k < W/2 + 1, n < W, at [k * W + n].
    private let rowCos, rowSin: FloatBuffer
    /// cos and sin of 2 pi k n / H for k, n < H, at [k * H + n].
    private let columnCos, columnSin: FloatBuffer

    /// Per-thread working memory: the eight-lane planes and spectra of one block.
    final class Scratch {
        /// H W vectors of pixels, then 2 H (W/2+1) vectors of row spectra, then as many of
        /// column spectra, then 4 max(H, W) vectors of symmetric sums and differences.
        let vectors: UnsafeMutablePointer<FloatVector>
        let count: Int

        init(height: Int, width: Int) {
            let halfWidth = width / 2 + 1
            count = height * width + 4 * height * halfWidth + 4 * max(height, width) + 8
            vectors = .allocate(capacity: count)
            vectors.initialize(repeating: FloatVector(), count: count)
        }

        deinit { vectors.deallocate() }
    }

    init(height: Int, width: Int) {
        precondition(height > 0 && width > 0, "plane dimensions must be positive")
        self.height = height
        self.width = width
        halfWidth = width / 2 + 1
        (rowCos, rowSin) = Self.table(frequencies: halfWidth, length: width)
        (columnCos, columnSin) = Self.table(frequencies: height, length: height)
    }

    func makeScratch() -> Scratch { Scratch(height: height, width: width) }

    /// cos and sin of 2 pi k n / N at [k * N + n], exact at multiples of a quarter turn.
    private static func table(frequencies: Int, length: Int) -> (FloatBuffer, FloatBuffer) {
        var c = [Float](repeating: 0, count: frequencies * length)
        var s = c
        for k in 0..<frequencies {
            for n in 0..<length {
                let m = k * n % length
                let (cosine, sine): (Double, Double)
                if m == 0 {
                    (cosine, sine) = (1, 0)
                } else if 2 * m == length {
                    (cosine, sine) = (-1, 0)
                } else if 4 * m == length {
                    (cosine, sine) = (0, 1)
                } else if 4 * m == 3 * length {
                    (cosine, sine) = (0, -1)
                } else {
                    let angle = 2 * Double.pi * Double(m) / Double(length)
                    (cosine, sine) = (cos(angle), sin(angle))
                }
                c[k * length + n] = Float(cosine)
                s[k * length + n] = Float(sine)
            }
        }
        return (FloatBuffer(c), FloatBuffer(s))
    }

    // MARK: - Public transforms

    /// The scratch's parts: the eight-lane pixels, row transforms, column transforms, and
    /// working space.
    @inline(__always)
    private func regions(of scratch: Scratch) -> (pixels: UnsafeMutablePointer<SIMD8<Float>>, rows: UnsafeMutablePointer<SIMD8<Float>>,
                                                  columns: UnsafeMutablePointer<SIMD8<Float>>, temporary: UnsafeMutablePointer<SIMD8<Float>>) {
        let pixels = scratch.vectors
        let rows = pixels + height * width
        let columns = rows + 2 * height * halfWidth
        return (pixels, rows, columns, columns + 2 * height * halfWidth)
    }

    /// Half spectra of `planes` contiguous real planes; see the type's comment for the layout.
    func forward(_ input: UnsafePointer<Float>, to spectrum: UnsafeMutablePointer<Float>,
                 planes: Int, spectrumStride: Int, scratch: Scratch) {
        precondition(spectrumStride >= height * halfWidth, "spectrum stride too small for the half spectrum")
        let planeSize = height * width
        let spectrumFloats = 2 * height * halfWidth
        let (pixels, rows, columns, temporary) = regions(of: scratch)
        for first in Swift.stride(from: 0, to: planes, by: 8) {
            let live = min(8, planes - first)
            gather(from: input + first * planeSize, planeStride: planeSize, count: planeSize, live: live, into: pixels)
            rowsRealToHalf(pixels, rows, temporary)
            columnTransforms(rows, columns, temporary, inverse: false)
            scatter(columns, count: spectrumFloats, live: live,
                    to: spectrum + 2 * first * spectrumStride, planeStride: 2 * spectrumStride)
        }
    }

    /// Real planes from half spectra (unnormalised; FFTW's complex-to-real). The spectra are
    /// only read.
    func inverse(_ spectrum: UnsafePointer<Float>, to output: UnsafeMutablePointer<Float>,
                 planes: Int, spectrumStride: Int, scratch: Scratch) {
        precondition(spectrumStride >= height * halfWidth, "spectrum stride too small for the half spectrum")
        let planeSize = height * width
        let spectrumFloats = 2 * height * halfWidth
        let (pixels, rows, columns, temporary) = regions(of: scratch)
        for first in Swift.stride(from: 0, to: planes, by: 8) {
            let live = min(8, planes - first)
            gather(from: spectrum + 2 * first * spectrumStride, planeStride: 2 * spectrumStride,
                   count: spectrumFloats, live: live, into: columns)
            columnTransforms(columns, rows, temporary, inverse: true)
            rowsHalfToReal(rows, pixels)
            scatter(pixels, count: planeSize, live: live, to: output + first * planeSize, planeStride: planeSize)
        }
    }

    // MARK: - Transposition between planes and lanes

    /// vectors[e] lane p = source[p * planeStride + e] for e < count, p < live; lanes of
    /// missing planes are zero.
    @inline(__always)
    private func gather(from source: UnsafePointer<Float>, planeStride: Int, count: Int, live: Int,
                        into vectors: UnsafeMutablePointer<FloatVector>) {
        guard count >= 8 else {
            for e in 0..<count {
                var lanes = FloatVector()
                for p in 0..<live { lanes[p] = source[p * planeStride + e] }
                vectors[e] = lanes
            }
            return
        }
        // Missing planes read the last live plane (in bounds) and are cleared below.
        let last = live - 1
        let q0 = source, q1 = source + min(1, last) * planeStride
        let q2 = source + min(2, last) * planeStride, q3 = source + min(3, last) * planeStride
        let q4 = source + min(4, last) * planeStride, q5 = source + min(5, last) * planeStride
        let q6 = source + min(6, last) * planeStride, q7 = source + min(7, last) * planeStride
        let keep = FloatVector(0, 1, 2, 3, 4, 5, 6, 7) .< FloatVector(repeating: Float(live))
        let zero = FloatVector()
        // Whole blocks of eight, the last one overlapping its predecessor when count is not a
        // multiple of eight (it rewrites the same values).
        var e = 0
        while true {
            let start = min(e, count - 8)
            @inline(__always) func load(_ p: UnsafePointer<Float>) -> FloatVector {
                UnsafeRawPointer(p + start).loadUnaligned(as: FloatVector.self)
            }
            let t = transpose8(load(q0), load(q1), load(q2), load(q3), load(q4), load(q5), load(q6), load(q7))
            let out = vectors + start
            if live == 8 {
                out[0] = t.0; out[1] = t.1; out[2] = t.2; out[3] = t.3
                out[4] = t.4; out[5] = t.5; out[6] = t.6; out[7] = t.7
            } else {
                // Lanes of missing planes hold copies of the last live plane: clear them.
                out[0] = zero.replacing(with: t.0, where: keep); out[1] = zero.replacing(with: t.1, where: keep)
                out[2] = zero.replacing(with: t.2, where: keep); out[3] = zero.replacing(with: t.3, where: keep)
                out[4] = zero.replacing(with: t.4, where: keep); out[5] = zero.replacing(with: t.5, where: keep)
                out[6] = zero.replacing(with: t.6, where: keep); out[7] = zero.replacing(with: t.7, where: keep)
            }
            if start + 8 >= count { break }
            e += 8
        }
    }

    /// destination[p * planeStride + e] = vectors[e] lane p for e < count, p < live.
    @inline(__always)
    private func scatter(_ vectors: UnsafeMutablePointer<FloatVector>, count: Int, live: Int,
                         to destination: UnsafeMutablePointer<Float>, planeStride: Int) {
        guard count >= 8 else {
            for e in 0..<count {
                let lanes = vectors[e]
                for p in 0..<live { destination[p * planeStride + e] = lanes[p] }
            }
            return
        }
        var e = 0
        while true {
            let start = min(e, count - 8)
            let v = vectors + start
            let t = transpose8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7])
            let out = destination + start
            @inline(__always) func store(_ value: FloatVector, _ p: Int) {
                UnsafeMutableRawPointer(out + p * planeStride).storeBytes(of: value, as: FloatVector.self)
            }
            if live == 8 {
                store(t.0, 0); store(t.1, 1); store(t.2, 2); store(t.3, 3)
                store(t.4, 4); store(t.5, 5); store(t.6, 6); store(t.7, 7)
            } else {
                withUnsafeBytes(of: t) { raw in
                    let rows = raw.bindMemory(to: FloatVector.self)
                    for p in 0..<live { store(rows[p], p) }
                }
            }
            if start + 8 >= count { break }
            e += 8
        }
    }

    // MARK: - Row transforms (length W, real <-> half complex)

    // The inner loops run over `1 ..< pairs + 1` ranges with wrapping index arithmetic, and
    // each pass computes two outputs so that four independent FMA chains hide the FMA latency.

    /// For every row n1: rows[2 (n1 (W/2+1) + k)] + i rows[... + 1] = sum_n x[n] e^{-2 pi i k n / W},
    /// using x[n] + x[W-n] for the cosines and x[n] - x[W-n] for the sines. Two rows and two
    /// frequencies per pass share each coefficient and each input load.
    @inline(__always)
    private func rowsRealToHalf(_ pixels: UnsafeMutablePointer<FloatVector>,
                                _ rows: UnsafeMutablePointer<FloatVector>,
                                _ temporary: UnsafeMutablePointer<FloatVector>) {
        let w = width
        let pairs = (w - 1) / 2
        // Sums and differences of rows A and B, interleaved per n: [sumA, difA, sumB, difB].
        let symmetric = temporary
        let cosTable = rowCos.pointer, sinTable = rowSin.pointer
        let zero = FloatVector()
        // Rows n1 and n1 + 1 together (the last pass may compute one twice).
        for n1 in Swift.stride(from: 0, to: height, by: 2) {
            let n1B = Swift.min(n1 &+ 1, height &- 1)
            let x = pixels + n1 &* w, xB = pixels + n1B &* w
            for n in 1..<(pairs + 1) {
                let t = symmetric + 4 &* n
                t[0] = x[n] + x[w &- n]
                t[1] = x[n] - x[w &- n]
                t[2] = xB[n] + xB[w &- n]
                t[3] = xB[n] - xB[w &- n]
            }
            let x0 = x[0], x0B = xB[0]
            let middle = w % 2 == 0 ? x[w / 2] : zero
            let middleB = w % 2 == 0 ? xB[w / 2] : zero
            let out = rows + 2 &* n1 &* halfWidth, outB = rows + 2 &* n1B &* halfWidth
            // Frequencies k and k + 1 together (the last pass may compute one twice).
            for k in Swift.stride(from: 0, to: halfWidth, by: 2) {
                let kB = Swift.min(k &+ 1, halfWidth &- 1)
                var re = x0, reK = x0, reB = x0B, reBK = x0B
                var im = zero, imK = zero, imB = zero, imBK = zero
                let c = cosTable + k &* w, s = sinTable + k &* w
                let cK = cosTable + kB &* w, sK = sinTable + kB &* w
                for n in 1..<(pairs + 1) {
                    let t = symmetric + 4 &* n
                    let sum = t[0], difference = t[1], sumB = t[2], differenceB = t[3]
                    let cosine = FloatVector(repeating: c[n]), sine = FloatVector(repeating: s[n])
                    let cosineK = FloatVector(repeating: cK[n]), sineK = FloatVector(repeating: sK[n])
                    re = re.addingProduct(sum, cosine)
                    im = im.addingProduct(difference, sine)
                    reK = reK.addingProduct(sum, cosineK)
                    imK = imK.addingProduct(difference, sineK)
                    reB = reB.addingProduct(sumB, cosine)
                    imB = imB.addingProduct(differenceB, sine)
                    reBK = reBK.addingProduct(sumB, cosineK)
                    imBK = imBK.addingProduct(differenceB, sineK)
                }
                if w % 2 == 0 {
                    re = k % 2 == 0 ? re + middle : re - middle
                    reK = kB % 2 == 0 ? reK + middle : reK - middle
                    reB = k % 2 == 0 ? reB + middleB : reB - middleB
                    reBK = kB % 2 == 0 ? reBK + middleB : reBK - middleB
                }
                outB[2 &* kB] = reBK
                outB[2 &* kB &+ 1] = zero - imBK
                outB[2 &* k] = reB
                outB[2 &* k &+ 1] = zero - imB
                out[2 &* kB] = reK
                out[2 &* kB &+ 1] = zero - imK
                out[2 &* k] = re
                out[2 &* k &+ 1] = zero - im
            }
        }
    }

    /// For every row n1, the real inverse of its half spectrum Y (the columns' output):
    /// x[n] = Re Y_0 + 2 sum_{0<k<W/2} (Re Y_k cos - Im Y_k sin)(2 pi k n / W) (+ Re Y_{W/2} (-1)^n),
    /// pairing n with W - n (same cosines, opposite sines). Two rows and two points per pass
    /// share each coefficient and each input load.
    @inline(__always)
    private func rowsHalfToReal(_ rows: UnsafeMutablePointer<FloatVector>,
                                _ pixels: UnsafeMutablePointer<FloatVector>) {
        let w = width
        let pairs = (w - 1) / 2  // frequencies 0 < k < W/2, and also points 0 < n < W/2
        let cosTable = rowCos.pointer, sinTable = rowSin.pointer
        let two = FloatVector(repeating: 2)
        let zero = FloatVector()
        // Rows n1 and n1 + 1 together (the last pass may compute one twice).
        for n1 in Swift.stride(from: 0, to: height, by: 2) {
            let n1B = Swift.min(n1 &+ 1, height &- 1)
            let y = rows + 2 &* n1 &* halfWidth, yB = rows + 2 &* n1B &* halfWidth
            let x = pixels + n1 &* w, xB = pixels + n1B &* w
            let y0 = y[0], y0B = yB[0]
            let nyquist = w % 2 == 0 ? y[2 &* (w / 2)] : zero
            let nyquistB = w % 2 == 0 ? yB[2 &* (w / 2)] : zero
            // n = 0.
            var sum = zero, sumB = zero
            for k in 1..<(pairs + 1) {
                sum += y[2 &* k]
                sumB += yB[2 &* k]
            }
            x[0] = y0.addingProduct(sum, two) + nyquist
            xB[0] = y0B.addingProduct(sumB, two) + nyquistB
            // Points n and m = n + 1 together (the last pass may compute one twice). The tables
            // are indexed [k][n] with k <= W/2.
            for n in Swift.stride(from: 1, to: pairs + 1, by: 2) {
                let m = Swift.min(n &+ 1, pairs)
                var even = zero, odd = zero, evenM = zero, oddM = zero
                var evenB = zero, oddB = zero, evenBM = zero, oddBM = zero
                for k in 1..<(pairs + 1) {
                    let re = y[2 &* k], im = y[2 &* k &+ 1]
                    let reB = yB[2 &* k], imB = yB[2 &* k &+ 1]
                    let row = k &* w
                    let cosine = FloatVector(repeating: cosTable[row &+ n])
                    let sine = FloatVector(repeating: sinTable[row &+ n])
                    let cosineM = FloatVector(repeating: cosTable[row &+ m])
                    let sineM = FloatVector(repeating: sinTable[row &+ m])
                    even = even.addingProduct(re, cosine)
                    odd = odd.addingProduct(im, sine)
                    evenM = evenM.addingProduct(re, cosineM)
                    oddM = oddM.addingProduct(im, sineM)
                    evenB = evenB.addingProduct(reB, cosine)
                    oddB = oddB.addingProduct(imB, sine)
                    evenBM = evenBM.addingProduct(reB, cosineM)
                    oddBM = oddBM.addingProduct(imB, sineM)
                }
                // W - n has the parity of n when W is even; for odd W nyquist is zero.
                let plus = n % 2 == 0, plusM = m % 2 == 0
                let base = plus ? y0 + nyquist : y0 - nyquist
                let baseB = plus ? y0B + nyquistB : y0B - nyquistB
                let baseM = plusM ? y0 + nyquist : y0 - nyquist
                let baseBM = plusM ? y0B + nyquistB : y0B - nyquistB
                xB[m] = baseBM.addingProduct(evenBM - oddBM, two)
                xB[w &- m] = baseBM.addingProduct(evenBM + oddBM, two)
                x[m] = baseM.addingProduct(evenM - oddM, two)
                x[w &- m] = baseM.addingProduct(evenM + oddM, two)
                xB[n] = baseB.addingProduct(evenB - oddB, two)
                xB[w &- n] = baseB.addingProduct(evenB + oddB, two)
                x[n] = base.addingProduct(even - odd, two)
                x[w &- n] = base.addingProduct(even + odd, two)
            }
            if w % 2 == 0 && w >= 2 {
                // n = W/2: cos(pi k) = (-1)^k.
                var alternating = zero, alternatingB = zero
                for k in 1..<(pairs + 1) {
                    if k % 2 == 0 {
                        alternating += y[2 &* k]
                        alternatingB += yB[2 &* k]
                    } else {
                        alternating -= y[2 &* k]
                        alternatingB -= yB[2 &* k]
                    }
                }
                let plus = (w / 2) % 2 == 0
                x[w / 2] = (plus ? y0 + nyquist : y0 - nyquist).addingProduct(alternating, two)
                xB[w / 2] = (plus ? y0B + nyquistB : y0B - nyquistB).addingProduct(alternatingB, two)
            }
        }
    }

    // MARK: - Column transforms (length H, complex)

    /// Complex H-point DFTs down each of the W/2+1 columns of interleaved (re, im) vectors
    /// laid out [n1][k2][re/im]: e^{-i} for the forward, e^{+i} for the inverse. Pairs n with
    /// H - n (sums take the cosines, differences the sines) and computes outputs k and H - k
    /// together.
    @inline(__always)
    private func columnTransforms(_ source: UnsafeMutablePointer<FloatVector>,
                                  _ destination: UnsafeMutablePointer<FloatVector>,
                                  _ temporary: UnsafeMutablePointer<FloatVector>,
                                  inverse: Bool) {
        let h = height
        let pairs = (h - 1) / 2
        let rowStride = 2 * halfWidth
        let sumRe = temporary, sumIm = temporary + h, differenceRe = temporary + 2 * h, differenceIm = temporary + 3 * h
        let cosTable = columnCos.pointer, sinTable = columnSin.pointer
        let zero = FloatVector()
        for k2 in 0..<halfWidth {
            let z = source + 2 &* k2
            let out = destination + 2 &* k2
            for n in 1..<(pairs + 1) {
                let a = z + n &* rowStride, b = z + (h &- n) &* rowStride
                sumRe[n] = a[0] + b[0]
                sumIm[n] = a[1] + b[1]
                differenceRe[n] = a[0] - b[0]
                differenceIm[n] = a[1] - b[1]
            }
            let z0Re = z[0], z0Im = z[1]
            let middleRe = h % 2 == 0 ? z[(h / 2) &* rowStride] : zero
            let middleIm = h % 2 == 0 ? z[(h / 2) &* rowStride &+ 1] : zero
            // k = 0.
            var totalRe = z0Re + middleRe, totalIm = z0Im + middleIm
            for n in 1..<(pairs + 1) {
                totalRe += sumRe[n]
                totalIm += sumIm[n]
            }
            out[0] = totalRe
            out[1] = totalIm
            // k and H - k, 0 < k < H/2. With C = sum_n cos(.) S_n and T = sum_n sin(.) D_n:
            // forward X_k = z0 + C - i T, X_{H-k} = z0 + C + i T; the inverse swaps the two.
            // Frequencies k and k + 1 together (the last pass may compute one twice).
            for k in Swift.stride(from: 1, to: pairs + 1, by: 2) {
                let kB = Swift.min(k &+ 1, pairs)
                let sign = FloatVector(repeating: k % 2 == 0 ? 1 : -1)
                let signB = FloatVector(repeating: kB % 2 == 0 ? 1 : -1)
                var cRe = z0Re.addingProduct(middleRe, sign), cIm = z0Im.addingProduct(middleIm, sign)
                var cReB = z0Re.addingProduct(middleRe, signB), cImB = z0Im.addingProduct(middleIm, signB)
                var tRe = zero, tIm = zero, tReB = zero, tImB = zero
                let c = cosTable + k &* h, s = sinTable + k &* h
                let cB = cosTable + kB &* h, sB = sinTable + kB &* h
                for n in 1..<(pairs + 1) {
                    let sRe = sumRe[n], sIm = sumIm[n], dRe = differenceRe[n], dIm = differenceIm[n]
                    let cosine = FloatVector(repeating: c[n]), sine = FloatVector(repeating: s[n])
                    cRe = cRe.addingProduct(sRe, cosine)
                    cIm = cIm.addingProduct(sIm, cosine)
                    tRe = tRe.addingProduct(dRe, sine)
                    tIm = tIm.addingProduct(dIm, sine)
                    let cosineB = FloatVector(repeating: cB[n]), sineB = FloatVector(repeating: sB[n])
                    cReB = cReB.addingProduct(sRe, cosineB)
                    cImB = cImB.addingProduct(sIm, cosineB)
                    tReB = tReB.addingProduct(dRe, sineB)
                    tImB = tImB.addingProduct(dIm, sineB)
                }
                // -i T = (T_im, -T_re).
                let (outB, mirrorB) = inverse ? (h &- kB, kB) : (kB, h &- kB)
                out[outB &* rowStride] = cReB + tImB
                out[outB &* rowStride &+ 1] = cImB - tReB
                out[mirrorB &* rowStride] = cReB - tImB
                out[mirrorB &* rowStride &+ 1] = cImB + tReB
                let (kOut, mirrorOut) = inverse ? (h &- k, k) : (k, h &- k)
                out[kOut &* rowStride] = cRe + tIm
                out[kOut &* rowStride &+ 1] = cIm - tRe
                out[mirrorOut &* rowStride] = cRe - tIm
                out[mirrorOut &* rowStride &+ 1] = cIm + tRe
            }
            if h % 2 == 0 && h >= 2 {
                // k = H/2: cos(pi n) = (-1)^n, no sines.
                let sign = FloatVector(repeating: (h / 2) % 2 == 0 ? 1 : -1)
                var re = z0Re.addingProduct(middleRe, sign)
                var im = z0Im.addingProduct(middleIm, sign)
                for n in 1..<(pairs + 1) {
                    if n % 2 == 0 {
                        re += sumRe[n]
                        im += sumIm[n]
                    } else {
                        re -= sumRe[n]
                        im -= sumIm[n]
                    }
                }
                out[(h / 2) &* rowStride] = re
                out[(h / 2) &* rowStride &+ 1] = im
            }
        }
    }
}

// MARK: - 8 x 8 transposition

@_transparent
private func unpackLow(_ a: FloatVector, _ b: FloatVector) -> FloatVector {
    FloatVector(a[0], b[0], a[1], b[1], a[4], b[4], a[5], b[5])
}

@_transparent
private func unpackHigh(_ a: FloatVector, _ b: FloatVector) -> FloatVector {
    FloatVector(a[2], b[2], a[3], b[3], a[6], b[6], a[7], b[7])
}

/// (a0 a1 b0 b1 | a4 a5 b4 b5): pairs of floats moved as doubles (one unpack instruction).
@_transparent
private func pairsLow(_ a: FloatVector, _ b: FloatVector) -> FloatVector {
    let (x, y) = (unsafeBitCast(a, to: SIMD4<Double>.self), unsafeBitCast(b, to: SIMD4<Double>.self))
    return unsafeBitCast(SIMD4<Double>(x[0], y[0], x[2], y[2]), to: FloatVector.self)
}

/// (a2 a3 b2 b3 | a6 a7 b6 b7)
@_transparent
private func pairsHigh(_ a: FloatVector, _ b: FloatVector) -> FloatVector {
    let (x, y) = (unsafeBitCast(a, to: SIMD4<Double>.self), unsafeBitCast(b, to: SIMD4<Double>.self))
    return unsafeBitCast(SIMD4<Double>(x[1], y[1], x[3], y[3]), to: FloatVector.self)
}

@_transparent
private func lowHalves(_ a: FloatVector, _ b: FloatVector) -> FloatVector {
    FloatVector(lowHalf: a.lowHalf, highHalf: b.lowHalf)
}

@_transparent
private func highHalves(_ a: FloatVector, _ b: FloatVector) -> FloatVector {
    FloatVector(lowHalf: a.highHalf, highHalf: b.highHalf)
}

/// The transpose of the 8 x 8 matrix whose rows are r0 ... r7 (the usual unpack, shuffle,
/// lane-permute sequence, 24 shuffles). Written lane by lane, the middle step compiled to
/// slow scalar inserts; as moves of float pairs (doubles) it is one instruction each, which
/// made the whole direct DFT about 1.4x faster.
@_transparent
func transpose8(_ r0: FloatVector, _ r1: FloatVector, _ r2: FloatVector, _ r3: FloatVector,
                _ r4: FloatVector, _ r5: FloatVector, _ r6: FloatVector, _ r7: FloatVector)
    -> (FloatVector, FloatVector, FloatVector, FloatVector, FloatVector, FloatVector, FloatVector, FloatVector) {
    let t0 = unpackLow(r0, r1), t1 = unpackHigh(r0, r1)
    let t2 = unpackLow(r2, r3), t3 = unpackHigh(r2, r3)
    let t4 = unpackLow(r4, r5), t5 = unpackHigh(r4, r5)
    let t6 = unpackLow(r6, r7), t7 = unpackHigh(r6, r7)
    let u0 = pairsLow(t0, t2), u1 = pairsHigh(t0, t2)
    let u2 = pairsLow(t1, t3), u3 = pairsHigh(t1, t3)
    let u4 = pairsLow(t4, t6), u5 = pairsHigh(t4, t6)
    let u6 = pairsLow(t5, t7), u7 = pairsHigh(t5, t7)
    return (lowHalves(u0, u4), lowHalves(u1, u5), lowHalves(u2, u6), lowHalves(u3, u7),
            highHalves(u0, u4), highHalves(u1, u5), highHalves(u2, u6), highHalves(u3, u7))
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
