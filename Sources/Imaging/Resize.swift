import Foundation
import TensorCore

// MARK: antialiased bilinear (Pillow's Image.resize(..., BILINEAR))

/// Resizes as Pillow's `Image.resize((width, height), Image.BILINEAR)` does, which is
/// what torchvision's `Resize` runs on PIL images; the result is bit-identical to
/// Pillow 13.
///
/// Pillow resamples separably, one pass per axis, each skipped when its dimension keeps
/// its size. Each output sample is a normalised sum of the triangle filter over the
/// inputs within `support = max(1, in/out)` of its centre `(i + 0.5) * in/out`, the
/// filter widened by the same factor when shrinking (that is the antialiasing). The
/// weights are computed in double precision, rounded to 22-bit fixed point, summed in
/// integers with a half added, and the result is shifted back and clipped to 0...255
/// after each pass, so the pass order matters (by one level, on some pixels). Pillow 13
/// runs the vertical pass first when the height shrinks by more than twice as many
/// pixels as the width does, and the horizontal pass first otherwise (Pillow 12 and
/// older always start horizontally).
public func resizeBilinearAntialiased(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
    let pixels = resampleBilinear(image.pixels, channels: 3, width: image.width, height: image.height,
                                  toWidth: width, toHeight: height)
    return RGBImage(width: width, height: height, pixels: pixels)
}

/// The same resampling for a one-channel picture (Pillow's mode "L").
public func resizeBilinearAntialiased(_ image: GrayImage, width: Int, height: Int) -> GrayImage {
    let pixels = resampleBilinear(image.pixels, channels: 1, width: image.width, height: image.height,
                                  toWidth: width, toHeight: height)
    return GrayImage(width: width, height: height, pixels: pixels)
}

/// Fixed-point fraction bits of the weights: 32 bits less 8 for the sample and 2 of
/// headroom, as in Pillow.
private let precisionBits = 22

/// The weights of one resampling pass: output sample `i` reads `count[i]` inputs from
/// `first[i]` on, with the weights `weights[i * taps ..< i * taps + count[i]]`.
struct ResampleWeights {
    var taps: Int
    var first: [Int]
    var count: [Int]
    var weights: [Int32]

    init(inputSize: Int, outputSize: Int) {
        // Pillow takes the box edges as C floats and the scale in double precision.
        let scale = Double(Float(inputSize) - Float(0)) / Double(outputSize)
        let filterScale = max(scale, 1.0)
        let support = 1.0 * filterScale  // the triangle filter's support is 1
        taps = Int(support.rounded(.up)) * 2 + 1
        first = [Int](repeating: 0, count: outputSize)
        count = [Int](repeating: 0, count: outputSize)
        weights = [Int32](repeating: 0, count: outputSize * taps)
        var kernel = [Double](repeating: 0, count: taps)
        let inverseScale = 1.0 / filterScale
        for i in 0..<outputSize {
            let center = 0.0 + (Double(i) + 0.5) * scale
            // C's (int) cast truncates towards zero; so does Int(_:).
            let low = max(Int(center - support + 0.5), 0)
            let high = min(Int(center + support + 0.5), inputSize)
            let n = high - low
            var total = 0.0
            for x in 0..<n {
                let distance = abs((Double(x + low) - center + 0.5) * inverseScale)
                let w = distance < 1.0 ? 1.0 - distance : 0.0
                kernel[x] = w
                total += w
            }
            for x in 0..<n {
                let w = total != 0.0 ? kernel[x] / total : kernel[x]
                let fixed = w * Double(1 << precisionBits)
                weights[i * taps + x] = Int32(w < 0 ? Int(-0.5 + fixed) : Int(0.5 + fixed))
            }
            first[i] = low
            count[i] = n
        }
    }
}

/// Pillow's clip8: drop the fraction bits (arithmetic shift) and clamp to a byte.
@inline(__always)
private func clip8(_ sum: Int) -> UInt8 {
    let v = sum >> precisionBits
    return UInt8(v < 0 ? 0 : (v > 255 ? 255 : v))
}

func resampleBilinear(_ pixels: [UInt8], channels: Int, width: Int, height: Int,
                      toWidth: Int, toHeight: Int) -> [UInt8] {
    precondition(width > 0 && height > 0, "cannot resize an empty \(width)x\(height) image")
    precondition(toWidth > 0 && toHeight > 0, "cannot resize to \(toWidth)x\(toHeight)")
    let needHorizontal = toWidth != width
    let needVertical = toHeight != height
    if !needHorizontal && !needVertical { return pixels }
    let verticalFirst = height - toHeight > 0 && height - toHeight > (width - toWidth) * 2

    if verticalFirst {
        let vertical = ResampleWeights(inputSize: height, outputSize: toHeight)
        let shorter = resampleColumns(pixels, rowLength: width * channels, weights: vertical, firstRow: 0)
        guard needHorizontal else { return shorter }
        let horizontal = ResampleWeights(inputSize: width, outputSize: toWidth)
        return resampleRows(shorter, channels: channels, width: width, rows: 0..<toHeight, weights: horizontal)
    }
    guard needHorizontal else {
        let vertical = ResampleWeights(inputSize: height, outputSize: toHeight)
        return resampleColumns(pixels, rowLength: width * channels, weights: vertical, firstRow: 0)
    }
    let horizontal = ResampleWeights(inputSize: width, outputSize: toWidth)
    guard needVertical else {
        return resampleRows(pixels, channels: channels, width: width, rows: 0..<height, weights: horizontal)
    }
    // Only the rows the vertical pass will read are resampled horizontally.
    let vertical = ResampleWeights(inputSize: height, outputSize: toHeight)
    let firstRow = vertical.first[0]
    let lastRow = vertical.first[toHeight - 1] + vertical.count[toHeight - 1]
    let narrower = resampleRows(pixels, channels: channels, width: width, rows: firstRow..<lastRow, weights: horizontal)
    return resampleColumns(narrower, rowLength: toWidth * channels, weights: vertical, firstRow: firstRow)
}

/// The horizontal pass over `rows` of a `width`-pixel image; returns `rows.count` rows
/// of `weights`' output width.
private func resampleRows(_ pixels: [UInt8], channels: Int, width: Int, rows: Range<Int>,
                          weights horizontal: ResampleWeights) -> [UInt8] {
    let toWidth = horizontal.first.count
    let half = 1 << (precisionBits - 1)
    var output = [UInt8](repeating: 0, count: rows.count * toWidth * channels)
    pixels.withUnsafeBufferPointer { source in
        output.withUnsafeMutableBufferPointer { out in
            horizontal.weights.withUnsafeBufferPointer { weights in
                horizontal.first.withUnsafeBufferPointer { firsts in
                    horizontal.count.withUnsafeBufferPointer { counts in
                        let source = source.baseAddress!, out = out.baseAddress!, weights = weights.baseAddress!
                        let taps = horizontal.taps
                        parallelFor(rows.count, minimumChunk: max(1, 16384 / (toWidth * channels))) { range in
                            for y in range {
                                let inRow = source + (y + rows.lowerBound) * width * channels
                                let outRow = out + y * toWidth * channels
                                for x in 0..<toWidth {
                                    let k = weights + x * taps
                                    let start = firsts[x], n = counts[x]
                                    for c in 0..<channels {
                                        var sum = half
                                        var p = inRow + start * channels + c
                                        for t in 0..<n {
                                            sum += Int(p.pointee) * Int(k[t])
                                            p += channels
                                        }
                                        outRow[x * channels + c] = clip8(sum)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return output
}

/// The vertical pass: every byte of a row (all pixels and channels) is filtered down its
/// column. `pixels` holds the source rows from `firstRow` on.
private func resampleColumns(_ pixels: [UInt8], rowLength: Int, weights vertical: ResampleWeights,
                             firstRow: Int) -> [UInt8] {
    let toHeight = vertical.first.count
    let half = 1 << (precisionBits - 1)
    var output = [UInt8](repeating: 0, count: toHeight * rowLength)
    pixels.withUnsafeBufferPointer { source in
        output.withUnsafeMutableBufferPointer { out in
            vertical.weights.withUnsafeBufferPointer { weights in
                let source = source.baseAddress!, out = out.baseAddress!, weights = weights.baseAddress!
                let taps = vertical.taps
                parallelFor(toHeight, minimumChunk: max(1, 16384 / rowLength)) { range in
                    for y in range {
                        let k = weights + y * taps
                        let start = vertical.first[y] - firstRow, n = vertical.count[y]
                        let outRow = out + y * rowLength
                        for i in 0..<rowLength {
                            var sum = half
                            var p = source + start * rowLength + i
                            for t in 0..<n {
                                sum += Int(p.pointee) * Int(k[t])
                                p += rowLength
                            }
                            outRow[i] = clip8(sum)
                        }
                    }
                }
            }
        }
    }
    return output
}

// MARK: nearest (torch's F.interpolate(mode='nearest'))

/// The source index torch's `F.interpolate(mode='nearest')` reads for output index `i`
/// (no explicit scale factor): `min(floor(i * s), inputSize - 1)` with the scale
/// `s = inputSize / outputSize` and the product both in single precision. Double
/// precision or exact integer division picks other pixels for some sizes.
func nearestSourceIndices(inputSize: Int, outputSize: Int) -> [Int] {
    let scale = Float(inputSize) / Float(outputSize)
    return (0..<outputSize).map { i in min(Int((Float(i) * scale).rounded(.down)), inputSize - 1) }
}

/// Resizes a mask as torch's `F.interpolate(mask[None, None].float(), size=(height, width),
/// mode='nearest')` does (the way HSNet's datasets bring masks to the input size).
public func resizeNearestTorch(_ mask: GrayImage, width: Int, height: Int) -> GrayImage {
    precondition(mask.width > 0 && mask.height > 0, "cannot resize an empty \(mask.width)x\(mask.height) mask")
    precondition(width > 0 && height > 0, "cannot resize to \(width)x\(height)")
    if width == mask.width && height == mask.height { return mask }
    let columns = nearestSourceIndices(inputSize: mask.width, outputSize: width)
    let rows = nearestSourceIndices(inputSize: mask.height, outputSize: height)
    let pixels = [UInt8](unsafeUninitializedCapacity: width * height) { out, initialized in
        mask.pixels.withUnsafeBufferPointer { source in
            for y in 0..<height {
                let inRow = rows[y] * mask.width
                for x in 0..<width { out[y * width + x] = source[inRow + columns[x]] }
            }
        }
        initialized = width * height
    }
    return GrayImage(width: width, height: height, pixels: pixels)
}
