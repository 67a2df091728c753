import TensorCore

/// How strongly the channels of one feature map move together: the paper's explanation of why
/// frequency filtering helps on a distant target domain is that it lowers these correlations.
///
/// For one image's map X [C, P] (P = H x W positions): each channel is centred over its
/// positions, S = X Xᵀ / (P - 1) is the channel covariance and r_ij = S_ij / sqrt(S_ii S_jj)
/// the Pearson correlation. A channel with zero variance in the image has no correlation; it
/// is left out of that image's figures and counted.
public struct ChannelCorrelationFigures: Equatable, Sendable {
    /// Mean |r_ij| over the pairs i < j of channels with variance.
    public var meanAbsR: Double
    /// The fraction of those pairs with |r_ij| > 0.5.
    public var fractionAbsROverHalf: Double
    /// (tr S)² / tr(S²): the effective number of independent channels, C when all are
    /// uncorrelated with equal variance, 1 when one direction carries all the variance.
    public var participationRatio: Double
    /// Channels with zero variance (left out of the figures above).
    public var constantChannels: Double

    public init(meanAbsR: Double, fractionAbsROverHalf: Double, participationRatio: Double, constantChannels: Double) {
        self.meanAbsR = meanAbsR
        self.fractionAbsROverHalf = fractionAbsROverHalf
        self.participationRatio = participationRatio
        self.constantChannels = constantChannels
    }
}

/// One image's correlation: its figures and the r matrix ([C, C], row-major, upper triangle
/// only: entry (i, j) for j >= i; rows and columns of constant channels are NaN, the diagonal
/// of the others 1). r is symmetric, so the upper triangle holds all of it at half the work.
public struct ChannelCorrelationOfImage {
    public let channels: Int
    public let positions: Int
    public let figures: ChannelCorrelationFigures
    public let upperR: [Float]
    /// Whether each channel has variance in this image.
    public let varying: [Bool]

    /// r_ij for any i, j (read from the upper triangle).
    public func r(_ i: Int, _ j: Int) -> Float { i <= j ? upperR[i * channels + j] : upperR[j * channels + i] }

    /// The correlation of the C x P map `x` (channel-major: P values per channel).
    public init(_ x: UnsafeBufferPointer<Float>, channels c: Int, positions p: Int) {
        precondition(c > 0 && p > 0 && x.count == c * p, "a [C, P] map needs C x P values")
        channels = c
        positions = p
        // Centre each channel in double precision, so that a constant channel becomes exactly
        // zero (its variance exactly 0) and large means do not eat the float32 digits.
        var centred = [Float](repeating: 0, count: c * p)
        centred.withUnsafeMutableBufferPointer { out in
            parallelFor(c, minimumChunk: max(1, 16_384 / p)) { rows in
                for i in rows {
                    var sum = 0.0
                    for k in 0..<p { sum += Double(x[i * p + k]) }
                    let mean = sum / Double(p)
                    for k in 0..<p { out[i * p + k] = Float(Double(x[i * p + k]) - mean) }
                }
            }
        }
        // S (P - 1) = X Xᵀ, upper triangle: one symmetric rank-P update.
        var s = [Float](repeating: 0, count: c * c)
        if p > 1 {
            centred.withUnsafeBufferPointer { a in
                s.withUnsafeMutableBufferPointer { out in
                    syrkUpper(n: c, k: p, alpha: 1 / Float(p - 1), a: a.baseAddress!, lda: p, c: out.baseAddress!, ldc: c)
                }
            }
        }
        let varying = (0..<c).map { s[$0 * c + $0] > 0 }
        let inverseDeviation = (0..<c).map { varying[$0] ? 1 / Double(s[$0 * c + $0]).squareRoot() : 0 }
        var r = [Float](repeating: .nan, count: c * c)
        let kept = varying.filter { $0 }.count
        // Per-row sums of the pair figures (j > i), combined after the parallel pass.
        var absSums = [Double](repeating: 0, count: c)
        var overHalf = [Int](repeating: 0, count: c)
        var squareSums = [Double](repeating: 0, count: c)
        s.withUnsafeBufferPointer { sp in
            r.withUnsafeMutableBufferPointer { rOut in
                absSums.withUnsafeMutableBufferPointer { absOut in
                    overHalf.withUnsafeMutableBufferPointer { overOut in
                        squareSums.withUnsafeMutableBufferPointer { squareOut in
                            parallelFor((c + 1) / 2, minimumChunk: max(1, 32_768 / c)) { pairs in
                                for pair in pairs {
                                    for i in rowsOfPair(pair, c) {
                                        let row = sp.baseAddress! + i * c
                                        let sii = Double(row[i])
                                        // tr(S²) = sum_i S_ii² + 2 sum_{i<j} S_ij².
                                        var squares = sii * sii
                                        for j in (i + 1)..<max(i + 1, c) { squares += 2 * Double(row[j]) * Double(row[j]) }
                                        squareOut[i] = squares
                                        guard varying[i] else { continue }
                                        rOut[i * c + i] = 1
                                        let scale = inverseDeviation[i]
                                        var absolute = 0.0
                                        var over = 0
                                        for j in (i + 1)..<max(i + 1, c) where varying[j] {
                                            // Rounding can put |r| a hair above 1; the definition cannot.
                                            let value = Swift.min(1, Swift.max(-1, Double(row[j]) * scale * inverseDeviation[j]))
                                            rOut[i * c + j] = Float(value)
                                            absolute += abs(value)
                                            if abs(value) > 0.5 { over += 1 }
                                        }
                                        absOut[i] = absolute
                                        overOut[i] = over
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let pairs = Double(kept) * Double(kept - 1) / 2
        let trace = (0..<c).reduce(0.0) { $0 + Double(s[$1 * c + $1]) }
        let traceOfSquare = squareSums.reduce(0, +)
        figures = ChannelCorrelationFigures(
            meanAbsR: pairs > 0 ? absSums.reduce(0, +) / pairs : .nan,
            fractionAbsROverHalf: pairs > 0 ? Double(overHalf.reduce(0, +)) / pairs : .nan,
            participationRatio: traceOfSquare > 0 ? trace * trace / traceOfSquare : .nan,
            constantChannels: Double(c - kept))
        upperR = r
        self.varying = varying
    }
}

/// Channel correlations accumulated over a set of images without keeping any image's matrix:
/// the mean of each figure over the images, and the mean r matrix, each entry averaged over
/// the images in which both its channels vary. Memory is C² doubles and counts, whatever the
/// number of images.
public struct ChannelCorrelationAccumulator {
    public let channels: Int
    public private(set) var positions: Int?
    public private(set) var images = 0
    /// Images whose map had fewer than two varying channels: they add to the counts and the
    /// matrix but have no pair figures.
    public private(set) var imagesWithoutPairs = 0
    private var figureSums = ChannelCorrelationFigures(meanAbsR: 0, fractionAbsROverHalf: 0, participationRatio: 0, constantChannels: 0)
    private var pairImages = 0
    private var participationImages = 0
    /// Upper triangles (j >= i) of the sums of r and of the per-entry image counts; images in
    /// which every channel varies add to `everyEntry` instead of each count.
    private var rSums: [Double]
    private var rCounts: [Int32]
    private var everyEntry: Int32 = 0

    public init(channels: Int) {
        precondition(channels > 0, "a correlation needs at least one channel")
        self.channels = channels
        rSums = [Double](repeating: 0, count: channels * channels)
        rCounts = [Int32](repeating: 0, count: channels * channels)
    }

    /// Adds every image of `tap` [N, C, H, W] (one image per batch entry). `name` is used in
    /// errors.
    public mutating func add(_ tap: Tensor, name: String) throws {
        guard tap.rank == 4, tap.shape[1] == channels else {
            throw InputError("\(name): expected a [N, \(channels), H, W] feature map, got \(tap.shapeDescription)")
        }
        let p = tap.shape[2] * tap.shape[3]
        if let positions, positions != p {
            throw InputError("\(name): \(tap.shape[2]) x \(tap.shape[3]) positions, but earlier images had \(positions); the images must share one size")
        }
        guard tap.isFinite else { throw InputError("\(name): the feature map holds NaN or infinite values") }
        positions = p
        let plane = channels * p
        for n in 0..<tap.shape[0] {
            let image = tap.withUnsafeBufferPointer { buffer in
                ChannelCorrelationOfImage(UnsafeBufferPointer(rebasing: buffer[(n * plane)..<((n + 1) * plane)]),
                                          channels: channels, positions: p)
            }
            add(image)
        }
    }

    /// Adds one image's correlation.
    public mutating func add(_ image: ChannelCorrelationOfImage) {
        precondition(image.channels == channels, "channel counts differ")
        images += 1
        let f = image.figures
        figureSums.constantChannels += f.constantChannels
        if f.meanAbsR.isNaN {
            imagesWithoutPairs += 1
        } else {
            pairImages += 1
            figureSums.meanAbsR += f.meanAbsR
            figureSums.fractionAbsROverHalf += f.fractionAbsROverHalf
        }
        if !f.participationRatio.isNaN {
            participationImages += 1
            figureSums.participationRatio += f.participationRatio
        }
        let c = channels
        let allVary = !image.varying.contains(false)
        if allVary { everyEntry += 1 }
        image.upperR.withUnsafeBufferPointer { r in
            rSums.withUnsafeMutableBufferPointer { sums in
                rCounts.withUnsafeMutableBufferPointer { counts in
                    parallelFor((c + 1) / 2, minimumChunk: max(1, 32_768 / c)) { pairs in
                        for pair in pairs {
                            for i in rowsOfPair(pair, c) where image.varying[i] {
                                for j in i..<c where image.varying[j] {
                                    sums[i * c + j] += Double(r[i * c + j])
                                    if !allVary { counts[i * c + j] += 1 }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The mean of each figure over the images that have it (NaN where none has).
    public var meanFigures: ChannelCorrelationFigures {
        func mean(_ sum: Double, _ count: Int) -> Double { count > 0 ? sum / Double(count) : .nan }
        return ChannelCorrelationFigures(
            meanAbsR: mean(figureSums.meanAbsR, pairImages),
            fractionAbsROverHalf: mean(figureSums.fractionAbsROverHalf, pairImages),
            participationRatio: mean(figureSums.participationRatio, participationImages),
            constantChannels: mean(figureSums.constantChannels, images))
    }

    /// The mean r matrix [C, C]: each entry over the images in which both channels vary, NaN
    /// where no image has both.
    public var meanMatrix: Tensor {
        let c = channels
        var matrix = [Float](repeating: .nan, count: c * c)
        for i in 0..<c {
            for j in i..<c {
                let count = rCounts[i * c + j] + everyEntry
                guard count > 0 else { continue }
                let mean = Float(rSums[i * c + j] / Double(count))
                matrix[i * c + j] = mean
                matrix[j * c + i] = mean
            }
        }
        return Tensor(shape: [c, c], scalars: matrix)
    }
}

/// Rows `pair` and `c - 1 - pair` of a C x C upper triangle (one row where they meet): a long
/// and a short row together, so that parallel chunks of pairs carry equal work.
@inline(__always)
func rowsOfPair(_ pair: Int, _ c: Int) -> StrideTo<Int> {
    stride(from: pair, to: c - pair, by: max(1, c - 1 - 2 * pair))
}
