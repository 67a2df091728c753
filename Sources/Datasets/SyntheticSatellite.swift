import Foundation
import Imaging
import TensorCore

/// The land-cover kinds of Deepglobe, each a texture recipe over a few shared noise fields.
enum LandCover: Int, CaseIterable {
    case urban, agriculture, rangeland, forest, water, barren
}

/// A satellite class: the land cover its foreground region shows. Classes beyond the six
/// kinds reuse a kind with a shifted tint and texture scale, so they still differ.
struct LandCoverLook {
    var cover: LandCover
    /// Per-channel multipliers.
    var tint: SyntheticColour
    /// Stripe period of fields and block spacing of built-up land, relative to the default.
    var texture: Float

    init(classIndex c: Int, using random: inout SeededGenerator) {
        cover = LandCover.allCases[c % LandCover.allCases.count]
        let variant = Float(c / LandCover.allCases.count)
        let shift = variant * 2.1
        tint = variant == 0
            ? SyntheticColour(random.uniform(0.95, 1.05), random.uniform(0.95, 1.05), random.uniform(0.95, 1.05))
            : SyntheticColour(1 + 0.2 * sin(shift), 1 + 0.2 * sin(shift + 2.1), 1 + 0.2 * sin(shift + 4.2))
        texture = variant == 0 ? 1 : 1 + 0.35 * Float(Int(variant) % 3)
    }
}

/// The noise fields every land cover's texture is made of, drawn once per picture.
struct LandCoverFields {
    /// One value per pixel, centred (-0.5...0.5): the sensor-scale grain of satellite tiles.
    var grain: SyntheticPlane
    /// Tree crowns: smooth blobs a few pixels across, in 0...1.
    var canopy: SyntheticPlane
    /// Roofs: held (blocky) values in 0...1.
    var blocks: SyntheticPlane
    /// Standardised texture at ~15 pixels: grass, scrub, soil.
    var patches: SyntheticPlane
    let scale: Float

    /// The colour of `cover` at pixel (x, y); `angle` and `period` orient and space the
    /// parcel's furrows or streets, `tone` is the parcel's brightness.
    func colour(_ cover: LandCover, x: Int, y: Int, i: Int, angle: (cos: Float, sin: Float), period: Float,
                tone: Float) -> SyntheticColour {
        let g = grain[i]
        switch cover {
        case .urban:
            let along = Float(x) * angle.cos + Float(y) * angle.sin
            let across = Float(y) * angle.cos - Float(x) * angle.sin
            let street = 4 * period
            let onStreet = along - street * (along / street).rounded(.down) < 1.6 * max(scale, 0.5)
                || across - street * (across / street).rounded(.down) < 1.6 * max(scale, 0.5)
            if onStreet { return SyntheticColour(0.74, 0.72, 0.69) * (tone * (1 + 0.2 * g)) }
            return SyntheticColour(0.56, 0.53, 0.5) * (tone * (0.5 + 0.85 * blocks[i] + 0.35 * g))
        case .agriculture:
            let along = Float(x) * angle.cos + Float(y) * angle.sin
            let furrow = 0.5 + 0.5 * sin(2 * .pi * along / period)
            return SyntheticColour.mix(SyntheticColour(0.56, 0.6, 0.3), SyntheticColour(0.42, 0.35, 0.2), furrow)
                * (tone * (1 + 0.3 * g))
        case .rangeland:
            return SyntheticColour(0.52, 0.55, 0.34) * (tone * (1 + 0.12 * patches[i] + 0.45 * g))
        case .forest:
            return SyntheticColour(0.15, 0.3, 0.13) * (tone * (0.45 + 1.0 * canopy[i] + 0.45 * g))
        case .water:
            return SyntheticColour(0.08, 0.2, 0.3) * (tone * (1 + 0.05 * patches[i] + 0.12 * g))
        case .barren:
            return SyntheticColour(0.72, 0.62, 0.47) * (tone * (1 + 0.08 * patches[i] + 0.5 * g))
        }
    }
}

extension SyntheticPicture {
    /// Satellite (Deepglobe): a patchwork of land-cover parcels with wavy borders, each a
    /// dense fine-grained texture (furrows, roofs and streets, tree crowns, speckled soil),
    /// under a faint haze; the foreground is one irregular region of the class's land cover,
    /// and the background parcels are of the other kinds. The whole tile is veiled by haze,
    /// tinted blue and striped by the detector (see the end), which moves it away from the
    /// source style in colour and in one narrow band of fine frequencies.
    mutating func paintSatellite(look: LandCoverLook) -> RGBImage {
        let s = side, unit = scale
        // Held values one pixel apart: white noise (interpolating at a fixed sub-pixel offset
        // would smooth it by a different amount in every picture).
        var grain = SyntheticPlane.valueNoise(width: size, height: size, cell: 1, blocky: true, using: &random)
        for i in grain.values.indices { grain[i] -= 0.5 }
        let fields = LandCoverFields(
            grain: grain,
            canopy: SyntheticPlane.valueNoise(width: size, height: size, cell: max(2, 2.5 * unit), using: &random),
            blocks: SyntheticPlane.valueNoise(width: size, height: size, cell: 5 * unit * look.texture, blocky: true, using: &random),
            patches: noise(cell: 15 * unit, octaves: 2),
            scale: unit)

        // Parcels: the nearest of a few scattered sites, measured from a noise-displaced
        // point so that the borders wander like field edges and roads.
        struct Parcel {
            var x: Float, y: Float
            var cover: LandCover
            var angle: (cos: Float, sin: Float)
            var period: Float
            var tone: Float
        }
        let others = LandCover.allCases.filter { $0 != look.cover }
        var parcels: [Parcel] = []
        for _ in 0..<(7 + Int(random.next() % 6)) {
            let angle = uniform(0, .pi)
            parcels.append(Parcel(x: uniform(-0.1, 1.1) * s, y: uniform(-0.1, 1.1) * s,
                                  cover: others[Int(random.next() % UInt64(others.count))],
                                  angle: (cos(angle), sin(angle)), period: max(2.5, uniform(5, 8) * unit), tone: uniform(0.85, 1.12)))
        }
        let wanderX = noise(cell: 0.12 * s, octaves: 2), wanderY = noise(cell: 0.12 * s, octaves: 2)
        let wander = 10 * unit
        let light = noise(cell: 0.4 * s, octaves: 2)
        let haze = uniform(0, 0.08)
        let hazeColour = SyntheticColour(0.62, 0.64, 0.68)

        var canvas = SyntheticCanvas(width: size, height: size)
        canvas.paint { x, y, i in
            let px = Float(x) + wander * wanderX[i], py = Float(y) + wander * wanderY[i]
            var nearest = 0, best = Float.greatestFiniteMagnitude
            for (k, parcel) in parcels.enumerated() {
                let d = (parcel.x - px) * (parcel.x - px) + (parcel.y - py) * (parcel.y - py)
                if d < best { best = d; nearest = k }
            }
            let parcel = parcels[nearest]
            return fields.colour(parcel.cover, x: x, y: y, i: i, angle: parcel.angle, period: parcel.period, tone: parcel.tone)
        }

        let fraction = uniform(0.12, 0.36)
        let drawn = foreground { random in
            var shape = SyntheticShape(centerX: random.uniform(0.2, 0.8) * s, centerY: random.uniform(0.2, 0.8) * s, radius: 1,
                                       aspect: random.uniform(0.6, 1.6), rotation: random.uniform(0, .pi),
                                       harmonics: (2...5).map {
                                           .init(order: $0, amplitude: random.uniform(0.03, 0.13) / Float($0 - 1).squareRoot(),
                                                 phase: random.uniform(0, 2 * .pi))
                                       })
            shape.radius = shape.radius(forArea: fraction * s * s)
            return SyntheticRegion(shapes: [shape], roughness: 0.12 * shape.radius, roughnessCell: 0.5 * shape.radius, edge: 1)
        }
        let angle = uniform(0, .pi)
        let own = (angle: (cos: cos(angle), sin: sin(angle)), period: max(2.5, uniform(5, 8) * unit * look.texture),
                   tone: uniform(0.95, 1.05))
        canvas.blend(alpha: drawn.alpha) { x, y, i in
            let c = fields.colour(look.cover, x: x, y: y, i: i, angle: own.angle, period: own.period, tone: own.tone)
            return SyntheticColour(c.r * look.tint.r, c.g * look.tint.g, c.b * look.tint.b)
        }
        // Uneven illumination and atmospheric haze over the whole tile; then what the sensor
        // adds: a bluish cast, and detector striping — fine stripes a few pixels apart along
        // the scan, a little different in each band — over land and foreground alike.
        let veil = uniform(0.25, 0.4)
        let cast = SyntheticColour(uniform(0.86, 0.92), uniform(0.97, 1.03), uniform(1.1, 1.18))
        let striping = SyntheticGrating(period: max(3, uniform(14, 18) * unit), angle: uniform(0, .pi), phase: uniform(0, 2 * .pi))
        let stripeGain = SyntheticColour(uniform(0.8, 1.2), uniform(0.8, 1.2), uniform(0.8, 1.2)) * uniform(0.18, 0.22)
        canvas.adjust { colour, i in
            let hazy = SyntheticColour.mix(colour * (1 + 0.06 * light[i]), hazeColour, max(haze, veil))
            let stripe = striping(i % size, i / size)
            return SyntheticColour(hazy.r * cast.r + stripeGain.r * stripe, hazy.g * cast.g + stripeGain.g * stripe,
                                   hazy.b * cast.b + stripeGain.b * stripe)
        }
        return canvas.quantized(grain: 3, using: &random)
    }
}
