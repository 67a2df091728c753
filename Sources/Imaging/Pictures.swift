import Foundation
import TensorCore

/// An 8-bit colour for the pictures the toolkit draws.
public struct RGBColor: Hashable, Sendable {
    public var red: UInt8
    public var green: UInt8
    public var blue: UInt8

    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    public static let red = RGBColor(red: 230, green: 25, blue: 75)
    public static let green = RGBColor(red: 60, green: 180, blue: 75)
    public static let blue = RGBColor(red: 0, green: 130, blue: 200)
    public static let yellow = RGBColor(red: 255, green: 225, blue: 25)
    public static let white = RGBColor(red: 255, green: 255, blue: 255)
    public static let black = RGBColor(red: 0, green: 0, blue: 0)
    /// Not-a-number in heatmaps; reference lines.
    public static let gray = RGBColor(red: 128, green: 128, blue: 128)

    /// Colours for the series of a chart, told apart by colour-blind readers too: the
    /// Okabe-Ito palette without its yellow (too pale on white), darkest first. Past the
    /// seventh series the colours repeat (markers still differ).
    public static func series(_ index: Int) -> RGBColor {
        let palette = [
            RGBColor(red: 0, green: 114, blue: 178),    // blue
            RGBColor(red: 213, green: 94, blue: 0),     // vermillion
            RGBColor(red: 0, green: 158, blue: 115),    // bluish green
            RGBColor(red: 204, green: 121, blue: 167),  // reddish purple
            RGBColor(red: 230, green: 159, blue: 0),    // orange
            RGBColor(red: 86, green: 180, blue: 233),   // sky blue
            RGBColor(red: 0, green: 0, blue: 0),        // black
        ]
        let count = palette.count
        return palette[((index % count) + count) % count]
    }
}

/// Tints the pixels where `mask` is non-zero: `(1 - alpha) * pixel + alpha * color`,
/// rounded. A mask of another size is first brought to the image's size with the
/// nearest rule used for masks everywhere (`resizeNearestTorch`).
public func overlay(image: RGBImage, mask: GrayImage, color: RGBColor = .red, alpha: Float = 0.5) -> RGBImage {
    guard image.width > 0, image.height > 0, mask.width > 0, mask.height > 0 else { return image }
    let fitted = (mask.width == image.width && mask.height == image.height)
        ? mask : resizeNearestTorch(mask, width: image.width, height: image.height)
    let a = max(0, min(1, alpha))
    let tint = [Float(color.red), Float(color.green), Float(color.blue)].map { $0 * a }
    var result = image
    result.pixels.withUnsafeMutableBufferPointer { pixels in
        fitted.pixels.withUnsafeBufferPointer { mask in
            for i in 0..<mask.count where mask[i] != 0 {
                for c in 0..<3 {
                    let blended = (1 - a) * Float(pixels[3 * i + c]) + tint[c]
                    pixels[3 * i + c] = UInt8(max(0, min(255, blended.rounded())))
                }
            }
        }
    }
    return result
}

/// A 0/1 mask made visible: non-zero values become 255.
public func visibleMask(_ mask: GrayImage) -> GrayImage {
    GrayImage(width: mask.width, height: mask.height, pixels: mask.pixels.map { $0 != 0 ? 255 : 0 })
}

/// Viridis at eleven evenly spaced points (0, 0.1, ..., 1): dark blue through green to
/// yellow, perceptually even and readable in gray and by colour-blind readers.
private let viridisStops: [(Float, Float, Float)] = [
    (68, 1, 84), (72, 36, 117), (65, 68, 135), (53, 95, 141), (42, 120, 142), (33, 145, 140),
    (34, 168, 132), (68, 191, 112), (122, 209, 81), (189, 223, 38), (253, 231, 37),
]

/// Blue through white to red at five evenly spaced points, for signed values centred on 0
/// (correlations): the two halves fall to the same lightness at the same distance from
/// white, so +r and -r look equally strong, and blue-red stays apart for colour-blind readers.
private let divergingStops: [(Float, Float, Float)] = [
    (33, 64, 154), (103, 153, 209), (247, 247, 247), (222, 125, 100), (165, 20, 40),
]

/// The colour of `t` in 0...1 on a scale given by evenly spaced stops (linear between
/// them); NaN counts as 0.
private func interpolate(_ stops: [(Float, Float, Float)], _ t: Float) -> RGBColor {
    let clamped = t.isNaN ? 0 : max(0, min(1, t))
    let position = clamped * Float(stops.count - 1)
    let index = min(Int(position), stops.count - 2)
    let f = position - Float(index)
    let (r0, g0, b0) = stops[index], (r1, g1, b1) = stops[index + 1]
    func mix(_ a: Float, _ b: Float) -> UInt8 { UInt8((a + (b - a) * f).rounded()) }
    return RGBColor(red: mix(r0, r1), green: mix(g0, g1), blue: mix(b0, b1))
}

/// The colour of `t` in 0...1 on the viridis-like scale (linear between the stops).
public func viridisColor(_ t: Float) -> RGBColor {
    interpolate(viridisStops, t)
}

/// The colour of `t` in 0...1 on the blue-white-red scale; 0.5 is white.
public func divergingColor(_ t: Float) -> RGBColor {
    interpolate(divergingStops, t)
}

/// The colour scales a heatmap can use.
public enum ColorScale: Sendable {
    /// Sequential, dark violet to yellow (`viridisColor`): magnitudes, masks.
    case viridis
    /// Blue-white-red (`divergingColor`): signed values around a centre, e.g. correlations.
    case diverging

    public func color(_ t: Float) -> RGBColor {
        switch self {
        case .viridis: return viridisColor(t)
        case .diverging: return divergingColor(t)
        }
    }
}

/// A picture of a `height` x `width` field of floats (row-major), e.g. a frequency
/// masker's sigmoid(mask) or a channel-correlation matrix. Values are mapped linearly
/// from `range` (the finite minimum...maximum when nil) onto the viridis-like scale; values
/// outside it are clamped and non-finite ones drawn gray. Each value becomes a
/// `scale` x `scale` block, so a 13 x 13 mask is still visible. `colors` picks the scale.
public func heatmap(values: [Float], width: Int, height: Int, range: ClosedRange<Float>? = nil, scale: Int = 1,
                    colors: ColorScale = .viridis) -> RGBImage {
    precondition(width >= 0 && height >= 0 && values.count == width * height,
                 "heatmap of \(width)x\(height) needs \(width * height) values, got \(values.count)")
    precondition(scale >= 1, "heatmap scale must be at least 1")
    let finite = values.filter { $0.isFinite }
    let low = range?.lowerBound ?? finite.min() ?? 0
    let high = range?.upperBound ?? finite.max() ?? 1
    let span = high - low
    let outWidth = width * scale, outHeight = height * scale
    var pixels = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
    pixels.withUnsafeMutableBufferPointer { out in
        for y in 0..<height {
            for x in 0..<width {
                let v = values[y * width + x]
                let color: RGBColor
                if !v.isFinite {
                    color = .gray
                } else {
                    color = colors.color(span > 0 ? (v - low) / span : 0.5)
                }
                for dy in 0..<scale {
                    let row = (y * scale + dy) * outWidth
                    for dx in 0..<scale {
                        let at = 3 * (row + x * scale + dx)
                        out[at] = color.red
                        out[at + 1] = color.green
                        out[at + 2] = color.blue
                    }
                }
            }
        }
    }
    return RGBImage(width: outWidth, height: outHeight, pixels: pixels)
}

/// Pictures placed left to right, top-aligned, `gap` columns of `background` between
/// them (and below the shorter ones): for panels such as image | truth | prediction.
public func sideBySide(_ images: [RGBImage], gap: Int = 4, background: RGBColor = .white) -> RGBImage {
    guard !images.isEmpty else { return RGBImage(width: 0, height: 0, pixels: []) }
    let gap = max(0, gap)
    var canvas = Canvas(width: images.map(\.width).reduce(0, +) + gap * (images.count - 1),
                        height: images.map(\.height).max()!, background: background)
    var left = 0
    for image in images {
        canvas.place(image, x: left, y: 0)
        left += image.width + gap
    }
    return canvas.image
}

/// Pictures placed top to bottom, left-aligned, `gap` rows of `background` between them
/// (and right of the narrower ones): for figure panels that share a width, e.g. two charts.
public func stacked(_ images: [RGBImage], gap: Int = 4, background: RGBColor = .white) -> RGBImage {
    guard !images.isEmpty else { return RGBImage(width: 0, height: 0, pixels: []) }
    let gap = max(0, gap)
    var canvas = Canvas(width: images.map(\.width).max()!,
                        height: images.map(\.height).reduce(0, +) + gap * (images.count - 1), background: background)
    var top = 0
    for image in images {
        canvas.place(image, x: 0, y: top)
        top += image.height + gap
    }
    return canvas.image
}
