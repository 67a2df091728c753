import Foundation
import Imaging
import TensorCore

/// A chest X-ray class: how its lung lobes are shaped and how they stand out — darker or
/// brighter than the body by a small step, with or without faint rib shadows.
struct LungLook {
    /// Intensity step inside the lobes (gray levels / 255); the sign alternates by class.
    var step: Float
    /// Width over height of a lobe.
    var aspect: Float
    var harmonics: [SyntheticShape.Harmonic]
    /// How far the lobes lean outward at the top, radians.
    var lean: Float
    /// Gap between the lobes (the mediastinum), as a fraction of the picture.
    var gap: Float
    var ribAmplitude: Float
    /// Rib spacing, as a fraction of the picture.
    var ribPeriod: Float

    init(classIndex c: Int, using random: inout SeededGenerator) {
        step = (c % 2 == 0 ? -1 : 1) * random.uniform(0.06, 0.1) * (1 + 0.6 * Float(c / 2 % 2))
        aspect = random.uniform(0.45, 0.65)
        // An egg widening towards the bottom and the outside (k = 1), flattened on the
        // inner side (k = 2), with a slight unevenness (k = 3).
        harmonics = [.init(order: 1, amplitude: random.uniform(0.1, 0.18), phase: -(Float.pi / 2 - random.uniform(0.2, 0.6))),
                     .init(order: 2, amplitude: random.uniform(0.04, 0.1), phase: random.uniform(0, 2 * .pi)),
                     .init(order: 3, amplitude: random.uniform(0.02, 0.05), phase: random.uniform(0, 2 * .pi))]
        lean = random.uniform(0.04, 0.18)
        gap = random.uniform(0.05, 0.1)
        ribAmplitude = c % 3 == 0 ? 0 : random.uniform(0.025, 0.045)
        ribPeriod = random.uniform(0.05, 0.075)
    }
}

/// A skin-lesion class: the lesion's pigment, how irregular its border is, and how its
/// inside varies (darker core, blotches), all smooth.
struct LesionLook {
    var pigment: SyntheticColour
    var irregularity: Float
    /// Border roughness as a fraction of the lesion's radius.
    var roughness: Float
    var coreDarkening: Float
    var blotches: Float
    /// Width of the soft border, as a fraction of the picture.
    var edge: Float
    var aspect: ClosedRange<Float>

    init(classIndex c: Int, using random: inout SeededGenerator) {
        // Dark brown, red-brown, blue-gray, light tan; further classes get lighter or darker.
        let palette: [(hue: Float, saturation: Float, value: Float)] = [
            (0.06, 0.7, 0.3), (0.01, 0.6, 0.45), (0.68, 0.25, 0.3), (0.08, 0.55, 0.58),
        ]
        let base = palette[c % palette.count]
        let value = base.value * (1 + 0.3 * Float(c / palette.count % 2)) * random.uniform(0.95, 1.05)
        pigment = SyntheticColour(hue: base.hue + random.uniform(-0.01, 0.01), saturation: base.saturation, value: value)
        irregularity = random.uniform(0.3, 1)
        roughness = random.uniform(0.03, 0.1)
        coreDarkening = random.uniform(0, 0.4)
        blotches = random.uniform(0.03, 0.12)
        edge = random.uniform(0.01, 0.03)
        let low = random.uniform(0.55, 0.85)
        aspect = low...min(1, low + 0.2)
    }
}

extension SyntheticPicture {
    /// Chest X-ray: gray only and low contrast. A dim background, the body a broad soft
    /// ellipse a little brighter, a bright vertical band for spine and heart, and the two
    /// lobes (the foreground, one mask) a small step darker or brighter with soft edges,
    /// faint ribs and mottling. Nearly all the energy is at large scales, but for the fine
    /// vertical lines of the anti-scatter grid, one narrow band of high frequencies.
    mutating func paintXray(look: LungLook) -> RGBImage {
        let s = side
        let centerX = s * (0.5 + uniform(-0.05, 0.05)), centerY = s * (0.5 + uniform(-0.04, 0.06))
        let body = uniform(0.88, 1.08)
        let tilt = uniform(-0.1, 0.1)
        let level = uniform(0.42, 0.52), dim = uniform(0.09, 0.13)

        var torso = SyntheticShape(centerX: centerX, centerY: centerY + 0.12 * s * body, radius: 0.53 * s * body,
                                   aspect: 0.74, rotation: tilt)
        torso.harmonics = [.init(order: 2, amplitude: 0.05, phase: uniform(0, 2 * .pi))]
        var trunk = plane(-.greatestFiniteMagnitude)
        torso.unite(into: &trunk, cutoff: 0.1 * s)

        let fraction = uniform(0.16, 0.32)
        let drawn = foreground { random in
            var lobe = SyntheticShape(centerX: 0, centerY: 0, radius: 1, aspect: look.aspect * random.uniform(0.92, 1.08),
                                      harmonics: look.harmonics)
            lobe.radius = lobe.radius(forArea: fraction / 2 * s * s)
            let offset = look.gap * s / 2 + lobe.radius * lobe.aspect.squareRoot()
            let lift = -0.03 * s
            let (c, sn) = (cos(tilt), sin(tilt))
            var right = lobe, left = lobe
            right.centerX = centerX + offset * c - lift * sn
            right.centerY = centerY + offset * sn + lift * c
            left.centerX = centerX - offset * c - lift * sn
            left.centerY = centerY - offset * sn + lift * c
            right.rotation = tilt + look.lean
            left.rotation = tilt - look.lean
            left.mirrored = true
            return SyntheticRegion(shapes: [left, right], edge: 0.035 * s)
        }
        let lobes = drawn.alpha
        let ribs = drawn.region.shapes
        let mottle = noise(cell: 0.04 * s, octaves: 2)
        let shading = noise(cell: 0.35 * s, octaves: 2)
        let band = 0.075 * s * body
        let (tiltCos, tiltSin) = (cos(tilt), sin(tilt))
        // The anti-scatter grid's shadow: fine parallel lines a few pixels apart over the
        // whole film, and the heel effect, a brightness ramp along the tube's axis.
        // One machine's grid: the same line spacing and depth on every film.
        let grid = SyntheticGrating(period: max(3, 14 * scale), angle: uniform(-0.03, 0.03), phase: uniform(0, 2 * .pi))
        let gridDepth: Float = 0.04
        let heel = uniform(0.04, 0.06)

        var canvas = SyntheticCanvas(width: size, height: size)
        canvas.paint { x, y, i in
            let px = Float(x) + 0.5, py = Float(y) + 0.5
            var value = level - dim * (1 - smoothstep(-0.08 * s, 0.08 * s, trunk[i]))
            let across = ((px - centerX) * tiltCos + (py - centerY) * tiltSin) / band
            value += 0.09 * exp(-across * across) * smoothstep(-0.45 * s, 0.1 * s, py - centerY)
            value += 0.025 * shading[i] + heel * (py / s - 0.5) + gridDepth * grid(x, y)
            let a = lobes[i]
            if a > 0 {
                var inside = look.step + 0.012 * mottle[i]
                if look.ribAmplitude > 0 {
                    // Ribs: arcs across each lobe, curving down towards the outside.
                    let shape = px < centerX ? ribs[0] : ribs[1]
                    let (u, v) = shape.local(x: px, y: py)
                    let arc = (v + 0.35 * u * u) * shape.radius / s
                    inside += look.ribAmplitude * sin(2 * .pi * arc / look.ribPeriod)
                }
                value += a * inside
            }
            return SyntheticColour(gray: value)
        }
        return canvas.quantized(grain: 1, grayGrain: true, using: &random)
    }

    /// Skin lesion (ISIC): warm skin with gentle large-scale shading and redness, sometimes
    /// the dark round field of view of a dermatoscope in the corners, and the class's
    /// darker, irregular, softly bordered lesion with a darker core and faint blotches; over
    /// all of it a criss-cross of fine skin furrows (two narrow frequency bands), a few dark
    /// hairs, a cool cast, a light that falls off steeply away from the lesion, and washed-out contrast.
    mutating func paintLesion(look: LesionLook) -> RGBImage {
        let s = side
        let skin = SyntheticColour(hue: uniform(0.03, 0.08), saturation: uniform(0.25, 0.45), value: uniform(0.72, 0.92))
        let redder = SyntheticColour(0.85, 0.45, 0.45)
        let shading = noise(cell: 0.45 * s, octaves: 2), redness = noise(cell: 0.3 * s, octaves: 2)
        let scope = uniform(0, 1) < 0.5 ? uniform(0.3, 0.7) : 0

        var canvas = SyntheticCanvas(width: size, height: size)
        canvas.paint { x, y, i in
            let dx = Float(x) + 0.5 - s / 2, dy = Float(y) + 0.5 - s / 2
            let corner = scope * smoothstep(0.55 * s, 0.75 * s, (dx * dx + dy * dy).squareRoot())
            return SyntheticColour.mix(skin, redder, 0.06 + 0.04 * redness[i]) * ((1 + 0.05 * shading[i]) * (1 - corner))
        }

        let fraction = uniform(0.08, 0.3)
        let drawn = foreground { random in
            var shape = SyntheticShape(centerX: random.uniform(0.3, 0.7) * s, centerY: random.uniform(0.3, 0.7) * s, radius: 1,
                                       aspect: random.uniform(look.aspect.lowerBound, look.aspect.upperBound),
                                       rotation: random.uniform(0, .pi),
                                       harmonics: (2...5).map {
                                           .init(order: $0, amplitude: look.irregularity * random.uniform(0.03, 0.12) / Float($0 - 1),
                                                 phase: random.uniform(0, 2 * .pi))
                                       })
            shape.radius = shape.radius(forArea: fraction * s * s)
            return SyntheticRegion(shapes: [shape], roughness: look.roughness * shape.radius, roughnessCell: 0.4 * shape.radius,
                                   edge: look.edge * s)
        }
        let radius = drawn.region.shapes[0].radius
        let blotch = noise(cell: 0.3 * radius, octaves: 2)
        let tone = uniform(0.9, 1.1)
        canvas.blend(alpha: drawn.alpha) { _, _, i in
            let core = 1 - look.coreDarkening * smoothstep(0, 0.8 * radius, drawn.distance[i])
            return look.pigment * (tone * core * (1 + look.blotches * blotch[i]))
        }
        // Over skin and lesion alike: the criss-cross of skin furrows a few pixels apart,
        // dark hairs, and the cool cast of the dermatoscope's polarised light.
        let furrowAngle = uniform(0, .pi)
        let furrows = (SyntheticGrating(period: max(3, 16 * scale), angle: furrowAngle, phase: uniform(0, 2 * .pi)),
                       SyntheticGrating(period: max(3, 16 * scale), angle: furrowAngle + uniform(1.1, 1.5),
                                        phase: uniform(0, 2 * .pi)))
        let furrowDepth: Float = 0.32
        let hair = SyntheticPlane.hairs(width: size, height: size, count: 2 + Int(random.next() % 4),
                                        thickness: max(1, 2 * scale), length: 0.3...0.8, using: &random)
        let hairColour = SyntheticColour(0.13, 0.1, 0.08)
        let cast = SyntheticColour(0.82, 0.91, 1.16)
        // The dermatoscope's light: centred on the lesion, falling off steeply to the edges, over a washed-out,
        // low-contrast picture (gel and glare).
        let centre = drawn.region.shapes[0]
        let light = SyntheticSpotlight(x: centre.centerX, y: centre.centerY, depth: 0.55,
                                       spread: 0.15 * s * s)
        // Washed out towards the milky tone of the immersion gel, the same in every picture.
        let washed: Float = 0.42
        let gel = SyntheticColour(0.62, 0.52, 0.5)
        canvas.adjust { colour, i in
            let x = i % size, y = i / size
            let skinLines = 1 + furrowDepth * 0.5 * (furrows.0(x, y) + furrows.1(x, y))
            let flat = SyntheticColour.mix(gel, SyntheticColour.mix(colour, hairColour, 0.85 * hair[i]), washed)
            return SyntheticColour(flat.r * cast.r, flat.g * cast.g, flat.b * cast.b) * (skinLines * light(x, y))
        }
        return canvas.quantized(grain: 0.8, using: &random)
    }
}
