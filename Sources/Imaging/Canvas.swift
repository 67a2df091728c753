import Foundation

/// A rectangle of pixels: columns `x ..< x + width`, rows `y ..< y + height`.
public struct PixelRect: Equatable, Sendable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    public var maxX: Int { x + width }
    public var maxY: Int { y + height }

    public func contains(x px: Int, y py: Int) -> Bool {
        px >= x && px < maxX && py >= y && py < maxY
    }

    /// The overlap with `other` (width or height 0 when they do not meet).
    public func intersection(_ other: PixelRect) -> PixelRect {
        let left = max(x, other.x), top = max(y, other.y)
        let right = min(maxX, other.maxX), bottom = min(maxY, other.maxY)
        return PixelRect(x: left, y: top, width: max(0, right - left), height: max(0, bottom - top))
    }
}

/// Where a text's box sits relative to the point it is drawn at, along one axis: the point
/// is the box's start (left, top), centre or end (right, bottom).
public enum TextAlignment: Sendable {
    case start, center, end
}

/// Shapes that tell series apart where colour alone would not (print, colour blindness).
public enum MarkerShape: CaseIterable, Sendable {
    case circle, square, triangle, diamond, triangleDown, cross
}

/// A picture to draw on: rectangles, lines (solid or dashed), markers, text and other
/// pictures. Everything is clipped to the picture, so callers may draw partly or wholly
/// outside it; nothing is anti-aliased, so the same calls give the same bytes everywhere.
public struct Canvas: Sendable {
    public var image: RGBImage

    public init(width: Int, height: Int, background: RGBColor = .white) {
        precondition(width >= 0 && height >= 0, "negative canvas size \(width)x\(height)")
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            pixels[3 * i] = background.red
            pixels[3 * i + 1] = background.green
            pixels[3 * i + 2] = background.blue
        }
        image = RGBImage(width: width, height: height, pixels: pixels)
    }

    /// A canvas over an existing picture, e.g. to label a panel or an overlay.
    public init(image: RGBImage) {
        self.image = image
    }

    public var width: Int { image.width }
    public var height: Int { image.height }

    /// The colour at (x, y), nil outside the picture.
    public func color(x: Int, y: Int) -> RGBColor? {
        guard x >= 0, y >= 0, x < width, y < height else { return nil }
        let at = 3 * (y * width + x)
        return RGBColor(red: image.pixels[at], green: image.pixels[at + 1], blue: image.pixels[at + 2])
    }

    public mutating func fill(_ rect: PixelRect, color: RGBColor) {
        image.fillClipped(x: rect.x, y: rect.y, width: rect.width, height: rect.height, color: color)
    }

    /// The outline of `rect`, `thickness` pixels wide, drawn inside it.
    public mutating func stroke(_ rect: PixelRect, color: RGBColor, thickness: Int = 1) {
        let t = max(1, min(thickness, rect.width, rect.height))
        guard rect.width > 0, rect.height > 0 else { return }
        fill(PixelRect(x: rect.x, y: rect.y, width: rect.width, height: t), color: color)
        fill(PixelRect(x: rect.x, y: rect.maxY - t, width: rect.width, height: t), color: color)
        fill(PixelRect(x: rect.x, y: rect.y, width: t, height: rect.height), color: color)
        fill(PixelRect(x: rect.maxX - t, y: rect.y, width: t, height: rect.height), color: color)
    }

    /// A straight line between two pixel centres, both ends included. `thickness` widens it
    /// with a square pen centred on the line. `dash` (on, off) draws `on` pixels, skips `off`,
    /// counted along the line's longer axis; nil draws it solid.
    public mutating func line(from start: (x: Int, y: Int), to end: (x: Int, y: Int), color: RGBColor,
                              thickness: Int = 1, dash: (on: Int, off: Int)? = nil) {
        polyline([start, end], color: color, thickness: thickness, dash: dash)
    }

    /// Lines through `points` in order. A dash pattern runs on across the corners instead of
    /// restarting at every point, so a dashed curve made of short segments still shows dashes.
    public mutating func polyline(_ points: [(x: Int, y: Int)], color: RGBColor,
                                  thickness: Int = 1, dash: (on: Int, off: Int)? = nil) {
        let thickness = max(1, thickness)
        let period = dash.map { max(1, $0.on) + max(0, $0.off) } ?? 1
        let on = dash.map { max(1, $0.on) } ?? 1
        // The pen covers offsets -(t-1)/2 ... t/2 around the line, so a thickness of 2 adds
        // the pixel below and right of it.
        let low = -(thickness - 1) / 2
        var phase = 0
        func plot(_ x: Int, _ y: Int) {
            if phase % period < on {
                image.fillClipped(x: x + low, y: y + low, width: thickness, height: thickness, color: color)
            }
            phase += 1
        }
        if points.count == 1 { plot(points[0].x, points[0].y) }
        for i in stride(from: 1, to: points.count, by: 1) {
            // Bresenham's line: step along the longer axis, carry the error of the other.
            var (x, y) = points[i - 1]
            let (x1, y1) = points[i]
            let dx = abs(x1 - x), dy = -abs(y1 - y)
            let sx = x < x1 ? 1 : -1, sy = y < y1 ? 1 : -1
            var error = dx + dy
            // The shared corner is drawn once, by the segment that ends there.
            let skipFirst = i > 1
            var first = true
            while true {
                if !(first && skipFirst) { plot(x, y) }
                first = false
                if x == x1 && y == y1 { break }
                let twice = 2 * error
                if twice >= dy { error += dy; x += sx }
                if twice <= dx { error += dx; y += sy }
            }
        }
    }

    /// A filled marker of about `size` pixels across, centred on (x, y).
    public mutating func marker(_ shape: MarkerShape, x: Int, y: Int, size: Int, color: RGBColor) {
        let r = max(1, size / 2)
        for dy in -r...r {
            for dx in -r...r {
                let inside: Bool
                switch shape {
                case .square: inside = true
                case .circle: inside = dx * dx + dy * dy <= r * r + r / 2
                case .diamond: inside = abs(dx) + abs(dy) <= r
                // Apex up: the half width grows by half a pixel per row from the top.
                case .triangle: inside = 2 * abs(dx) <= dy + r
                case .triangleDown: inside = 2 * abs(dx) <= r - dy
                case .cross: inside = abs(dx - dy) <= max(0, r / 3) || abs(dx + dy) <= max(0, r / 3)
                }
                if inside { image.fillClipped(x: x + dx, y: y + dy, width: 1, height: 1, color: color) }
            }
        }
    }

    /// Text in the bitmap font. (x, y) is the left end, centre or right end of the text
    /// (`alignment`), and its top, middle or bottom (`verticalAlignment`).
    public mutating func text(_ string: String, x: Int, y: Int, color: RGBColor = .black, scale: Int = 1,
                              alignment: TextAlignment = .start, verticalAlignment: TextAlignment = .start) {
        let size = BitmapFont.textSize(string, scale: scale)
        BitmapFont.draw(string, on: &image, x: x - Self.offset(size.width, alignment),
                        y: y - Self.offset(size.height, verticalAlignment), color: color, scale: scale)
    }

    /// Text turned to read from bottom to top (a y-axis label). (x, y) is its left, centre
    /// or right (`alignment`) and its bottom, middle or top end (`verticalAlignment`:
    /// `.start` is where the text starts, at the bottom).
    public mutating func verticalText(_ string: String, x: Int, y: Int, color: RGBColor = .black, scale: Int = 1,
                                      alignment: TextAlignment = .start, verticalAlignment: TextAlignment = .center) {
        let size = BitmapFont.textSize(string, scale: scale)
        // Turned, the box is size.height wide and size.width tall, and it starts at the bottom.
        let top = y - (size.width - Self.offset(size.width, verticalAlignment))
        BitmapFont.drawVertical(string, on: &image, x: x - Self.offset(size.height, alignment), y: top,
                                color: color, scale: scale)
    }

    /// Copies `picture` with its top-left corner at (x, y); what falls outside is dropped.
    public mutating func place(_ picture: RGBImage, x: Int, y: Int) {
        let visible = PixelRect(x: x, y: y, width: picture.width, height: picture.height)
            .intersection(PixelRect(x: 0, y: 0, width: width, height: height))
        guard visible.width > 0, visible.height > 0 else { return }
        let canvasWidth = width
        image.pixels.withUnsafeMutableBufferPointer { out in
            picture.pixels.withUnsafeBufferPointer { source in
                for row in visible.y..<visible.maxY {
                    let from = source.baseAddress! + ((row - y) * picture.width + (visible.x - x)) * 3
                    let to = out.baseAddress! + (row * canvasWidth + visible.x) * 3
                    to.update(from: from, count: visible.width * 3)
                }
            }
        }
    }

    /// How far a box of `length` reaches back from its anchor.
    private static func offset(_ length: Int, _ alignment: TextAlignment) -> Int {
        switch alignment {
        case .start: return 0
        case .center: return length / 2
        case .end: return length
        }
    }
}

extension RGBImage {
    /// Paints the part of the rectangle that lies inside the picture. The one pixel writer
    /// under text, lines, markers and fills.
    mutating func fillClipped(x: Int, y: Int, width w: Int, height h: Int, color: RGBColor) {
        let left = max(0, x), top = max(0, y)
        let right = min(width, x + w), bottom = min(height, y + h)
        guard left < right, top < bottom else { return }
        let rowLength = width
        pixels.withUnsafeMutableBufferPointer { out in
            for row in top..<bottom {
                var at = 3 * (row * rowLength + left)
                for _ in left..<right {
                    out[at] = color.red
                    out[at + 1] = color.green
                    out[at + 2] = color.blue
                    at += 3
                }
            }
        }
    }
}
