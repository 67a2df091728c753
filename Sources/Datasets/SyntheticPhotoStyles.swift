import Foundation
import Imaging
import TensorCore

/// A class's object in the photo-like styles (source, objects): a shape family, two colours
/// and a surface pattern, all fixed by the class; the pattern lives in the object's own
/// frame, so it turns and scales with the object and reads as the same kind of thing in
/// every picture.
struct ObjectLook {
    enum Pattern: CaseIterable {
        case shaded, stripes, dots, rings, twoTone, mottled
    }

    var harmonics: [SyntheticShape.Harmonic]
    var aspect: Float
    var primary: SyntheticColour
    var secondary: SyntheticColour
    var pattern: Pattern
    /// Stripe, dot or ring spacing in units of the object's radius: a few repeats across
    /// the object, the mid frequencies of everyday objects.
    var period: Float
    var patternAngle: Float
    /// Drawn with a dark contour (the objects style only).
    var outlined: Bool

    init(classIndex c: Int, domainHue: Float, using random: inout SeededGenerator) {
        // Hues a golden-ratio step apart stay far from each other for any class count; the
        // pattern and the shape family cycle with different periods, so no two of the first
        // classes share both.
        let hue = domainHue + Float(c) * 0.618_034
        primary = SyntheticColour(hue: hue, saturation: random.uniform(0.6, 0.9), value: random.uniform(0.6, 0.9))
        secondary = SyntheticColour(hue: hue + random.uniform(0.3, 0.5), saturation: random.uniform(0.3, 0.8),
                                    value: random.uniform(0.15, 0.45))
        pattern = Pattern.allCases[c % Pattern.allCases.count]
        period = random.uniform(0.3, 0.45)
        patternAngle = random.uniform(0, .pi)
        outlined = c % 2 == 1
        aspect = 1
        let phase = random.uniform(0, 2 * .pi)
        switch (c + c / 5) % 5 {
        case 0:  // ellipse
            aspect = random.uniform(0.45, 0.7)
            harmonics = []
        case 1:  // star
            harmonics = [.init(order: 5 + Int(random.next() % 3), amplitude: random.uniform(0.22, 0.3), phase: phase)]
        case 2:  // rounded triangle or square
            let order = 3 + Int(random.next() % 2)
            harmonics = [.init(order: order, amplitude: order == 3 ? 0.12 : 0.08, phase: phase)]
        case 3:  // flower
            harmonics = [.init(order: 7 + Int(random.next() % 3), amplitude: random.uniform(0.12, 0.16), phase: phase)]
        default:  // egg/heart-like
            aspect = random.uniform(0.75, 0.9)
            harmonics = [.init(order: 1, amplitude: random.uniform(0.15, 0.2), phase: phase),
                         .init(order: 2, amplitude: random.uniform(0.1, 0.14), phase: random.uniform(0, 2 * .pi))]
        }
    }

    /// The class's shape at one picture's place, size and angle, with a little per-picture
    /// variation of its proportions (no two apples are the same).
    func shape(centerX: Float, centerY: Float, area: Float, rotation: Float,
               using random: inout SeededGenerator) -> SyntheticShape {
        var shape = SyntheticShape(centerX: centerX, centerY: centerY, radius: 1,
                                   aspect: aspect * random.uniform(0.92, 1.08), rotation: rotation,
                                   harmonics: harmonics.map {
                                       .init(order: $0.order, amplitude: $0.amplitude * random.uniform(0.9, 1.1), phase: $0.phase)
                                   })
        shape.radius = shape.radius(forArea: area)
        return shape
    }

    /// The surface colour at the point (u, v) of the object's frame (units of its radius);
    /// `mottle` is a standardised noise value for the mottled pattern.
    func colour(u: Float, v: Float, mottle: Float) -> SyntheticColour {
        let along = u * cos(patternAngle) + v * sin(patternAngle)
        switch pattern {
        case .shaded:
            return primary * max(0.45, 1.1 - 0.45 * (u * u + v * v))
        case .stripes:
            return SyntheticColour.mix(primary, secondary, smoothstep(-0.35, 0.35, sin(2 * .pi * along / period)))
        case .dots:
            let fu = u / period - (u / period).rounded(), fv = v / period - (v / period).rounded()
            return SyntheticColour.mix(primary, secondary, 1 - smoothstep(0.22, 0.3, (fu * fu + fv * fv).squareRoot()))
        case .rings:
            let rho = (u * u + v * v).squareRoot()
            return SyntheticColour.mix(primary, secondary, smoothstep(-0.35, 0.35, sin(2 * .pi * rho / period)))
        case .twoTone:
            return SyntheticColour.mix(primary, secondary, smoothstep(-0.04, 0.04, along))
        case .mottled:
            return SyntheticColour.mix(primary, secondary, smoothstep(-0.3, 0.9, mottle))
        }
    }
}

extension SyntheticPicture {
    /// Source (everyday photographs): a two-colour gradient with large-scale shading and a
    /// faint surface texture, muted clutter shapes — some in focus with crisp edges, some
    /// blurred — with fabric- or foliage-like texture, and the class's saturated, patterned
    /// object lit from one side: most energy low, a fair share in the mid frequencies.
    mutating func paintSource(look: ObjectLook) -> RGBImage {
        let s = side
        var canvas = SyntheticCanvas(width: size, height: size)
        let near = SyntheticColour(hue: uniform(0, 1), saturation: uniform(0.1, 0.4), value: uniform(0.35, 0.85))
        let far = SyntheticColour(hue: uniform(0, 1), saturation: uniform(0.1, 0.4), value: uniform(0.35, 0.85))
        let angle = uniform(0, 2 * .pi)
        let (ca, sa) = (cos(angle), sin(angle))
        let shading = noise(cell: 0.5 * s, octaves: 3)
        let texture = noise(cell: 8 * scale, octaves: 2)
        let surface = uniform(0.01, 0.04)
        canvas.paint { x, y, i in
            let t = min(max(0.5 + ((Float(x) - s / 2) * ca + (Float(y) - s / 2) * sa) / s, 0), 1)
            return SyntheticColour.mix(near, far, t) * (1 + 0.08 * shading[i] + surface * texture[i])
        }

        // Clutter behind the object: the scene's other things, at other depths.
        for _ in 0..<(3 + Int(random.next() % 3)) {
            let shape = SyntheticShape(centerX: uniform(0, s), centerY: uniform(0, s), radius: uniform(0.07, 0.2) * s,
                                       aspect: uniform(0.4, 1.6), rotation: uniform(0, .pi),
                                       harmonics: [.init(order: 2 + Int(random.next() % 3), amplitude: uniform(0, 0.15),
                                                         phase: uniform(0, 2 * .pi))])
            let edge = uniform(1, 4) * scale
            var distance = plane(-.greatestFiniteMagnitude)
            shape.unite(into: &distance, cutoff: edge)
            let colour = SyntheticColour(hue: uniform(0, 1), saturation: uniform(0.05, 0.35), value: uniform(0.3, 0.85))
            let grain = uniform(0.03, 0.1)
            var alpha = plane()
            for i in alpha.values.indices { alpha[i] = min(max(0.5 + distance[i] / edge, 0), 1) * 0.9 }
            canvas.blend(alpha: alpha) { _, _, i in colour * (1 + grain * texture[i]) }
        }

        let fraction = uniform(0.08, 0.3)
        let rotation = uniform(0, 2 * .pi)
        let drawn = foreground { random in
            var shape = look.shape(centerX: 0, centerY: 0, area: fraction * s * s, rotation: rotation, using: &random)
            let margin = min(0.7 * shape.extent, s / 2)
            shape.centerX = random.uniform(margin, s - margin)
            shape.centerY = random.uniform(margin, s - margin)
            return SyntheticRegion(shapes: [shape])
        }
        let shape = drawn.region.shapes[0]
        let mottle = noise(cell: 0.35 * shape.radius, octaves: 2)
        let light = uniform(0, 2 * .pi)
        let (lu, lv) = (0.15 * cos(light), 0.15 * sin(light))
        let brightness = uniform(0.85, 1.1)
        canvas.blend(alpha: drawn.alpha) { x, y, i in
            let (u, v) = shape.local(x: Float(x) + 0.5, y: Float(y) + 0.5)
            return look.colour(u: u, v: v, mottle: mottle[i]) * (brightness * (1 + lu * u + lv * v))
        }
        return canvas.quantized(grain: 2, using: &random)
    }

    /// Objects (FSS-1000): the class's object large and central over a soft contact shadow,
    /// contoured when the class says so, on a woven check cloth (bands a dozen pixels apart,
    /// fine threads), and the picture printed and scanned: a halftone screen of fine dot rows
    /// over everything, a warm cast, a flash off to one side and faded contrast.
    mutating func paintObjects(look: ObjectLook) -> RGBImage {
        let s = side
        var canvas = SyntheticCanvas(width: size, height: size)
        let paper = SyntheticColour(hue: uniform(0, 1), saturation: uniform(0, 0.08), value: uniform(0.86, 0.97))
        let tilt = uniform(-0.05, 0.05)
        canvas.paint { _, y, _ in paper * (1 + tilt * (Float(y) / s - 0.5)) }

        let fraction = uniform(0.15, 0.36)
        let rotation = uniform(0, 2 * .pi)
        let drawn = foreground { random in
            var shape = look.shape(centerX: 0, centerY: 0, area: fraction * s * s, rotation: rotation, using: &random)
            shape.centerX = s / 2 + random.uniform(-0.1, 0.1) * s
            shape.centerY = s / 2 + random.uniform(-0.1, 0.1) * s
            return SyntheticRegion(shapes: [shape])
        }
        let shape = drawn.region.shapes[0]

        var shadowShape = shape
        shadowShape.centerX += 5 * scale
        shadowShape.centerY += 8 * scale
        let shadowEdge = 10 * scale
        var shadow = plane(-.greatestFiniteMagnitude)
        shadowShape.unite(into: &shadow, cutoff: shadowEdge)
        // The backdrop is a woven check cloth: two crossing bands of colour a dozen pixels
        // apart and the weave's fine threads.
        let clothAngle = uniform(0, .pi)
        let checkPeriod = max(4, uniform(22, 28) * scale)
        let checks = (SyntheticGrating(period: checkPeriod, angle: clothAngle, phase: uniform(0, 2 * .pi)),
                      SyntheticGrating(period: checkPeriod, angle: clothAngle + .pi / 2, phase: uniform(0, 2 * .pi)))
        let weave = SyntheticGrating(period: max(2.5, uniform(7, 9) * scale), angle: clothAngle + .pi / 4, phase: uniform(0, 2 * .pi))
        let thread = SyntheticColour(hue: uniform(0, 1), saturation: uniform(0.3, 0.6), value: uniform(0.45, 0.65))
        canvas.adjust { colour, i in
            let x = i % size, y = i / size
            let band = smoothstep(-0.3, 0.3, checks.0(x, y)) + smoothstep(-0.3, 0.3, checks.1(x, y))
            let cloth = SyntheticColour.mix(colour, thread, 0.4 * band) * (1 + 0.08 * weave(x, y))
            return cloth * (1 - 0.2 * min(max(0.5 + shadow[i] / shadowEdge, 0), 1))
        }

        let mottle = noise(cell: 0.35 * shape.radius, octaves: 2)
        let contour = look.outlined ? 2.5 * scale : 0
        canvas.blend(alpha: drawn.alpha) { x, y, i in
            let (u, v) = shape.local(x: Float(x) + 0.5, y: Float(y) + 0.5)
            let colour = look.colour(u: u, v: v, mottle: mottle[i]) * (1 + 0.06 * u)
            return drawn.distance[i] < contour ? colour * 0.3 : colour
        }
        // A scanned print: the halftone screen's fine dot rows over the whole picture, and
        // the warm cast of old paper.
        let screenAngle = uniform(0.3, 1.2)
        // One printer: the same screen ruling, depth and cast in every picture.
        let screen = (SyntheticGrating(period: max(2.5, 12 * scale), angle: screenAngle, phase: uniform(0, 2 * .pi)),
                      SyntheticGrating(period: max(2.5, 12 * scale), angle: screenAngle + .pi / 2, phase: uniform(0, 2 * .pi)))
        let screenDepth: Float = 0.18
        let cast = SyntheticColour(1.08, 1, 0.82)
        // A flash from one side (its spot on a circle around the centre, so the object is
        // about equally lit in every picture), and ink and paper faded towards each other.
        let flashAngle = uniform(0, 2 * .pi)
        let flash = SyntheticSpotlight(x: s * (0.5 + 0.4 * cos(flashAngle)), y: s * (0.5 + 0.4 * sin(flashAngle)), depth: 0.55,
                                       spread: 0.15 * s * s)
        let faded: Float = 0.4
        let mean = canvas.meanColour
        canvas.adjust { colour, i in
            let x = i % size, y = i / size
            let dots = 1 + screenDepth * screen.0(x, y) * screen.1(x, y) * 2
            let flat = SyntheticColour.mix(mean, colour, faded)
            return SyntheticColour(flat.r * cast.r, flat.g * cast.g, flat.b * cast.b) * (dots * flash(x, y))
        }
        return canvas.quantized(grain: 1, using: &random)
    }
}
