import Foundation
import Imaging
import TensorCore

// The raw material of the synthetic domains: float planes, value noise, colours, a canvas.
// Everything is drawn from a SeededGenerator passed in by the caller, in a fixed order, so a
// picture depends only on its seed.

/// One float per pixel, row by row.
struct SyntheticPlane {
    let width: Int
    let height: Int
    var values: [Float]

    init(width: Int, height: Int, repeating value: Float = 0) {
        self.width = width
        self.height = height
        values = [Float](repeating: value, count: width * height)
    }

    subscript(index: Int) -> Float {
        get { values[index] }
        set { values[index] = newValue }
    }

    /// Value noise in [0, 1]: uniform random values on a lattice `cell` pixels apart,
    /// interpolated with smoothstep (or held, for blocky textures such as roofs). The lattice
    /// is shifted by a random fraction of a cell so that fields of equal cell size do not
    /// line up.
    static func valueNoise(width: Int, height: Int, cell: Float, blocky: Bool = false,
                           using random: inout SeededGenerator) -> SyntheticPlane {
        let cell = max(cell, 1)
        let columns = Int((Float(width) / cell).rounded(.up)) + 2
        let rows = Int((Float(height) / cell).rounded(.up)) + 2
        var lattice = [Float](repeating: 0, count: columns * rows)
        for i in lattice.indices { lattice[i] = random.uniform(0, 1) }
        let shiftX = random.uniform(0, 1), shiftY = random.uniform(0, 1)

        // Lattice index and weight of every column, computed once instead of per pixel.
        func steps(_ count: Int, shift: Float) -> (index: [Int], weight: [Float]) {
            var index = [Int](repeating: 0, count: count), weight = [Float](repeating: 0, count: count)
            for x in 0..<count {
                let position = (Float(x) + 0.5) / cell + shift
                let whole = Int(position)
                let fraction = position - Float(whole)
                index[x] = whole
                weight[x] = blocky ? 0 : fraction * fraction * (3 - 2 * fraction)
            }
            return (index, weight)
        }
        let across = steps(width, shift: shiftX), down = steps(height, shift: shiftY)
        var plane = SyntheticPlane(width: width, height: height)
        // Interpolate the two lattice rows around a picture row first (columns values), then
        // along the row: two loads per pixel instead of four.
        var line = [Float](repeating: 0, count: columns)
        plane.values.withUnsafeMutableBufferPointer { out in
            lattice.withUnsafeBufferPointer { lattice in
                line.withUnsafeMutableBufferPointer { line in
                    across.index.withUnsafeBufferPointer { index in
                        across.weight.withUnsafeBufferPointer { weight in
                            for y in 0..<height {
                                let top = down.index[y] * columns, wy = down.weight[y]
                                for k in 0..<columns {
                                    line[k] = lattice[top + k] + wy * (lattice[top + columns + k] - lattice[top + k])
                                }
                                for x in 0..<width {
                                    let i = index[x]
                                    out[y * width + x] = line[i] + weight[x] * (line[i + 1] - line[i])
                                }
                            }
                        }
                    }
                }
            }
        }
        return plane
    }

    /// Fractal noise: octaves of value noise, each with half the cell size and `persistence`
    /// times the amplitude of the one before, standardised to mean 0 and standard deviation 1
    /// so that callers choose amplitudes in one unit whatever the octave count.
    static func fractalNoise(width: Int, height: Int, cell: Float, octaves: Int, persistence: Float = 0.5,
                             using random: inout SeededGenerator) -> SyntheticPlane {
        var total = SyntheticPlane(width: width, height: height)
        var amplitude: Float = 1, octaveCell = cell
        for _ in 0..<octaves {
            let octave = valueNoise(width: width, height: height, cell: octaveCell, using: &random)
            for i in total.values.indices { total.values[i] += amplitude * (octave.values[i] - 0.5) }
            amplitude *= persistence
            octaveCell = max(1, octaveCell / 2)
        }
        total.standardize()
        return total
    }

    /// Shifts and scales the values to mean 0 and standard deviation 1 (a flat plane stays 0).
    mutating func standardize() {
        let count = Double(values.count)
        var sum = 0.0, squares = 0.0
        for v in values { sum += Double(v); squares += Double(v) * Double(v) }
        let mean = sum / count
        let deviation = (squares / count - mean * mean).squareRoot()
        let scale = deviation > 1e-9 ? Float(1 / deviation) : 0
        for i in values.indices { values[i] = (values[i] - Float(mean)) * scale }
    }
}

/// A linear RGB-ish colour with channels in 0...1 (the pictures are not colour managed; this
/// is sRGB values treated as numbers).
struct SyntheticColour {
    var r: Float
    var g: Float
    var b: Float

    init(_ r: Float, _ g: Float, _ b: Float) {
        self.r = r
        self.g = g
        self.b = b
    }

    init(gray: Float) {
        self.init(gray, gray, gray)
    }

    /// From hue (0...1, wrapping), saturation and value.
    init(hue: Float, saturation: Float, value: Float) {
        let h = (hue - hue.rounded(.down)) * 6
        let sector = Int(h) % 6
        let f = h - Float(Int(h))
        let p = value * (1 - saturation), q = value * (1 - saturation * f), t = value * (1 - saturation * (1 - f))
        switch sector {
        case 0: self.init(value, t, p)
        case 1: self.init(q, value, p)
        case 2: self.init(p, value, t)
        case 3: self.init(p, q, value)
        case 4: self.init(t, p, value)
        default: self.init(value, p, q)
        }
    }

    static func * (colour: SyntheticColour, k: Float) -> SyntheticColour {
        SyntheticColour(colour.r * k, colour.g * k, colour.b * k)
    }

    /// `a` at t = 0, `b` at t = 1.
    static func mix(_ a: SyntheticColour, _ b: SyntheticColour, _ t: Float) -> SyntheticColour {
        SyntheticColour(a.r + t * (b.r - a.r), a.g + t * (b.g - a.g), a.b + t * (b.b - a.b))
    }
}

/// A picture being painted, RGB floats in 0...1, interleaved like `RGBImage`.
struct SyntheticCanvas {
    let width: Int
    let height: Int
    var pixels: [Float]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [Float](repeating: 0, count: width * height * 3)
    }

    /// Sets every pixel to `colour(x, y, index)`, row by row.
    mutating func paint(_ colour: (Int, Int, Int) -> SyntheticColour) {
        pixels.withUnsafeMutableBufferPointer { out in
            for y in 0..<height {
                for x in 0..<width {
                    let i = y * width + x
                    let c = colour(x, y, i)
                    out[3 * i] = c.r
                    out[3 * i + 1] = c.g
                    out[3 * i + 2] = c.b
                }
            }
        }
    }

    /// Lays `colour` over the picture with opacity `alpha[index]`, evaluating the colour only
    /// where the opacity is not zero.
    mutating func blend(alpha: SyntheticPlane, _ colour: (Int, Int, Int) -> SyntheticColour) {
        pixels.withUnsafeMutableBufferPointer { out in
            for y in 0..<height {
                for x in 0..<width {
                    let i = y * width + x
                    let a = alpha.values[i]
                    guard a > 0 else { continue }
                    let c = colour(x, y, i)
                    out[3 * i] += a * (c.r - out[3 * i])
                    out[3 * i + 1] += a * (c.g - out[3 * i + 1])
                    out[3 * i + 2] += a * (c.b - out[3 * i + 2])
                }
            }
        }
    }

    /// Replaces every pixel by `change(colour, index)` (lighting, haze, vignettes).
    mutating func adjust(_ change: (SyntheticColour, Int) -> SyntheticColour) {
        pixels.withUnsafeMutableBufferPointer { out in
            for i in 0..<width * height {
                let c = change(SyntheticColour(out[3 * i], out[3 * i + 1], out[3 * i + 2]), i)
                out[3 * i] = c.r
                out[3 * i + 1] = c.g
                out[3 * i + 2] = c.b
            }
        }
    }

    /// The 8-bit picture, with uniform sensor grain of ±`grain` levels added before rounding:
    /// each channel its own draw, or with `grayGrain` one draw for all three, which keeps a
    /// gray picture gray. One 64-bit draw per pixel supplies three 21-bit uniforms.
    func quantized(grain: Float, grayGrain: Bool = false, using random: inout SeededGenerator) -> RGBImage {
        var bytes = [UInt8](repeating: 0, count: pixels.count)
        let step = 2 * grain * 0x1p-21
        bytes.withUnsafeMutableBufferPointer { out in
            pixels.withUnsafeBufferPointer { source in
                for i in 0..<width * height {
                    let bits = random.next()
                    for c in 0..<3 {
                        let draw = grayGrain ? bits & 0x1F_FFFF : (bits >> (21 * UInt64(c))) & 0x1F_FFFF
                        let level = source[3 * i + c] * 255 + Float(draw) * step - grain
                        out[3 * i + c] = UInt8(min(max(level.rounded(), 0), 255))
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: bytes)
    }
}

/// 0 below `edge0`, 1 above `edge1`, a smooth S-curve between.
@inline(__always)
func smoothstep(_ edge0: Float, _ edge1: Float, _ x: Float) -> Float {
    let t = min(max((x - edge0) / (edge1 - edge0), 0), 1)
    return t * t * (3 - 2 * t)
}

/// A sinusoidal grating of `period` pixels running across `angle` (radians), in -1...1: the
/// periodic patterns of the target domains (sensor striping, anti-scatter grid lines, skin
/// furrows, woven cloth). A period of a few pixels puts the energy in one narrow band of the
/// spectrum, the kind of shift a frequency masker can find and damp.
struct SyntheticGrating {
    let period: Float
    let cosAngle: Float
    let sinAngle: Float
    let phase: Float

    init(period: Float, angle: Float, phase: Float) {
        self.period = period
        cosAngle = cos(angle)
        sinAngle = sin(angle)
        self.phase = phase
    }

    @inline(__always)
    func callAsFunction(_ x: Int, _ y: Int) -> Float {
        sin(2 * .pi * (Float(x) * cosAngle + Float(y) * sinAngle) / period + phase)
    }
}

extension SyntheticPlane {
    /// Thin dark curves (hairs over skin) as a coverage plane in 0...1: each a circular arc
    /// of random length, curvature and width, stamped as discs along its length.
    static func hairs(width: Int, height: Int, count: Int, thickness: Float, length: ClosedRange<Float>,
                      using random: inout SeededGenerator) -> SyntheticPlane {
        var plane = SyntheticPlane(width: width, height: height)
        let side = Float(max(width, height))
        for _ in 0..<count {
            var x = random.uniform(0, Float(width)), y = random.uniform(0, Float(height))
            var heading = random.uniform(0, 2 * .pi)
            let bend = random.uniform(-2, 2) / side
            let steps = Int(random.uniform(length.lowerBound, length.upperBound) * side)
            let radius = thickness * random.uniform(0.7, 1.3) / 2
            let reach = Int(radius.rounded(.up)) + 1
            for _ in 0..<max(steps, 0) {
                x += cos(heading)
                y += sin(heading)
                heading += bend
                let cx = Int(x.rounded(.down)), cy = Int(y.rounded(.down))
                let top = max(0, cy - reach), bottom = min(height - 1, cy + reach)
                let left = max(0, cx - reach), right = min(width - 1, cx + reach)
                guard top <= bottom, left <= right else { continue }
                for py in top...bottom {
                    for px in left...right {
                        let dx = Float(px) + 0.5 - x, dy = Float(py) + 0.5 - y
                        let cover = min(max(radius + 0.5 - (dx * dx + dy * dy).squareRoot(), 0), 1)
                        let i = py * width + px
                        plane.values[i] = max(plane.values[i], cover)
                    }
                }
            }
        }
        return plane
    }
}

extension SyntheticCanvas {
    /// The mean of each channel over the picture.
    var meanColour: SyntheticColour {
        var sum = (0.0, 0.0, 0.0)
        for i in 0..<width * height {
            sum.0 += Double(pixels[3 * i])
            sum.1 += Double(pixels[3 * i + 1])
            sum.2 += Double(pixels[3 * i + 2])
        }
        let n = Double(max(width * height, 1))
        return SyntheticColour(Float(sum.0 / n), Float(sum.1 / n), Float(sum.2 / n))
    }
}

/// An uneven light: bright around a spot, falling off by up to `depth` away from it (a flash,
/// a lamp, a dermatoscope's ring of LEDs off centre), as a factor per pixel.
struct SyntheticSpotlight {
    let x: Float
    let y: Float
    let depth: Float
    /// The fall-off's scale, squared, in pixels².
    let spread: Float

    @inline(__always)
    func callAsFunction(_ px: Int, _ py: Int) -> Float {
        let dx = Float(px) + 0.5 - x, dy = Float(py) + 0.5 - y
        return 1 - depth + depth * exp(-(dx * dx + dy * dy) / spread)
    }
}
