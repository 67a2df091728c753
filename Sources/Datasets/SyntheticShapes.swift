import Foundation
import TensorCore

/// A star-shaped region: a radius that varies with the angle, r(θ) = r0 (1 + Σ a_k cos(kθ + φ_k)),
/// stretched, rotated and placed. One harmonic-free shape is an ellipse; one strong harmonic
/// gives a star or flower; a few weak ones give the rounded polygons, eggs and blobs the
/// styles need. The area is known in closed form, π r0² (1 + Σ a_k² / 2), which lets a
/// foreground be sized to a target fraction of the picture before it is drawn.
struct SyntheticShape {
    struct Harmonic {
        var order: Int
        var amplitude: Float
        var phase: Float
    }

    var centerX: Float
    var centerY: Float
    /// r0, in pixels.
    var radius: Float
    /// Width over height of the unrotated shape; the area does not depend on it.
    var aspect: Float = 1
    /// Radians, counter-clockwise in picture coordinates.
    var rotation: Float = 0
    var harmonics: [Harmonic] = []
    /// Mirror left-right in the shape's own frame (the second lung of a pair).
    var mirrored = false

    /// π r0² (1 + Σ a_k² / 2) / r0²: the area for a unit radius.
    var unitArea: Float {
        Float.pi * (1 + harmonics.reduce(0) { $0 + $1.amplitude * $1.amplitude } / 2)
    }

    /// The radius for which the shape covers `area` square pixels (before clipping at the border).
    func radius(forArea area: Float) -> Float {
        (area / unitArea).squareRoot()
    }

    /// The farthest the boundary reaches from the centre, in pixels.
    var extent: Float {
        let stretch = max(aspect, 1 / aspect).squareRoot()
        return radius * (1 + harmonics.reduce(0) { $0 + abs($1.amplitude) }) * stretch
    }

    /// The point in the shape's frame, in units of r0: rotated, mirrored and un-stretched.
    @inline(__always)
    func local(x: Float, y: Float) -> (u: Float, v: Float) {
        let dx = x - centerX, dy = y - centerY
        let c = cos(rotation), s = sin(rotation)
        var u = c * dx + s * dy
        let v = -s * dx + c * dy
        if mirrored { u = -u }
        let stretch = aspect.squareRoot()
        return (u / (stretch * radius), v * stretch / radius)
    }

    /// Adds the shape to a union of shapes in `distance`: each pixel gets the larger of its
    /// value and an approximate signed distance to this shape's boundary in pixels (positive
    /// inside), r(θ) − ρ measured in the un-stretched frame. Only values that can exceed
    /// −`cutoff` are computed — those inside a box around the shape where an upper bound of
    /// the distance allows it — so a plane that starts at −∞ (`-greatestFiniteMagnitude`)
    /// holds exact distances down to −`cutoff` and stays far below it elsewhere: a soft edge
    /// narrower than `cutoff` never sees the difference, and small shapes cost little.
    func unite(into distance: inout SyntheticPlane, cutoff: Float) {
        let width = distance.width, height = distance.height
        let c = cos(rotation), s = sin(rotation)
        let stretch = aspect.squareRoot()
        let terms = harmonics.map { (order: $0.order, a: $0.amplitude * cos($0.phase), b: -$0.amplitude * sin($0.phase)) }
        let meanStretch = (stretch + 1 / stretch) / 2
        // ρ ≥ (distance from the centre) · shrink and r(θ) ≤ reach bound the distance from
        // above; it can only exceed −cutoff within `box` pixels of the centre.
        let shrink = min(stretch, 1 / stretch)
        let reach = radius * (1 + harmonics.reduce(0) { $0 + abs($1.amplitude) })
        let box = (reach + cutoff / meanStretch) / shrink + 1
        let columns = max(0, Int((centerX - box).rounded(.down)))..<min(width, Int((centerX + box).rounded(.up)) + 1)
        let rows = max(0, Int((centerY - box).rounded(.down)))..<min(height, Int((centerY + box).rounded(.up)) + 1)
        guard !columns.isEmpty, !rows.isEmpty else { return }
        distance.values.withUnsafeMutableBufferPointer { out in
            for y in rows {
                let dy = Float(y) + 0.5 - centerY
                for x in columns {
                    let dx = Float(x) + 0.5 - centerX
                    guard (reach - (dx * dx + dy * dy).squareRoot() * shrink) * meanStretch >= -cutoff else { continue }
                    var u = c * dx + s * dy
                    let v = -s * dx + c * dy
                    if mirrored { u = -u }
                    let su = u / stretch, sv = v * stretch
                    let rho = (su * su + sv * sv).squareRoot()
                    var r: Float = 1
                    if rho > 1e-6, !terms.isEmpty {
                        // cos(kθ), sin(kθ) by repeated rotation: no trigonometry per pixel.
                        let cosT = su / rho, sinT = sv / rho
                        var ck: Float = 1, sk: Float = 0, order = 0
                        for term in terms {
                            while order < term.order {
                                (ck, sk) = (ck * cosT - sk * sinT, sk * cosT + ck * sinT)
                                order += 1
                            }
                            r += term.a * ck + term.b * sk
                        }
                    }
                    let i = y * width + x
                    out[i] = max(out[i], (radius * r - rho) * meanStretch)
                }
            }
        }
    }
}

/// A foreground region: a union of shapes whose boundary may be roughened by a noise field
/// (land-cover edges, lesion borders). The signed distance plane it produces is both the
/// mask (distance > 0) and, through a soft ramp, the opacity the painters use, so the mask
/// always agrees with the picture.
struct SyntheticRegion {
    var shapes: [SyntheticShape]
    /// Added to the distance; standardised noise times `roughness` pixels.
    var roughness: Float = 0
    var roughnessCell: Float = 8
    /// Width of the ramp the region is painted with, in pixels: about 1 for anti-aliasing,
    /// more for a soft edge.
    var edge: Float = 1.2

    /// The region's signed distance in pixels, positive inside: exact wherever it matters to
    /// the painted edge, far below −`edge` elsewhere (see `SyntheticShape.unite`).
    func distance(width: Int, height: Int, using random: inout SeededGenerator) -> SyntheticPlane {
        var plane = SyntheticPlane(width: width, height: height, repeating: -Float.greatestFiniteMagnitude)
        for shape in shapes {
            shape.unite(into: &plane, cutoff: edge + 2 * roughness + 2)
        }
        if roughness > 0 {
            let noise = SyntheticPlane.fractalNoise(width: width, height: height, cell: roughnessCell, octaves: 3,
                                                    persistence: 0.55, using: &random)
            for i in plane.values.indices { plane.values[i] += roughness * max(-2, min(2, noise.values[i])) }
        }
        return plane
    }
}

/// The drawn foreground of one picture: signed distance, the 0/255 mask, and its coverage.
struct SyntheticForeground {
    var region: SyntheticRegion
    var distance: SyntheticPlane
    var mask: [UInt8]
    var fraction: Float

    /// The foreground must be a real object, neither a speck nor the picture: between these
    /// fractions of the pixels.
    static let coverage: ClosedRange<Float> = 0.05...0.40

    init(region: SyntheticRegion, width: Int, height: Int, using random: inout SeededGenerator) {
        self.region = region
        distance = region.distance(width: width, height: height, using: &random)
        mask = distance.values.map { $0 > 0 ? 255 : 0 }
        fraction = Float(mask.reduce(0) { $0 + ($1 == 0 ? 0 : 1) }) / Float(width * height)
    }

    /// Draws regions with `make` until one covers a fraction of the picture within `coverage`
    /// (a region pushed mostly out of the picture, or swollen by its roughness, is redrawn).
    /// The draws continue the same generator, so the result still depends only on the seed.
    /// Should every attempt miss, which the styles' size ranges make rare, a plain centred
    /// ellipse covering a fifth of the picture is used.
    static func fitted(width: Int, height: Int, using random: inout SeededGenerator,
                       make: (inout SeededGenerator) -> SyntheticRegion) -> SyntheticForeground {
        for _ in 0..<24 {
            let candidate = SyntheticForeground(region: make(&random), width: width, height: height, using: &random)
            if coverage.contains(candidate.fraction) { return candidate }
        }
        var ellipse = SyntheticShape(centerX: Float(width) / 2, centerY: Float(height) / 2, radius: 1, aspect: 1.3)
        ellipse.radius = ellipse.radius(forArea: 0.2 * Float(width * height))
        return SyntheticForeground(region: SyntheticRegion(shapes: [ellipse]), width: width, height: height, using: &random)
    }

    /// Opacity for painting the foreground: 0.5 on the mask boundary, rising to 1 half the
    /// region's edge width inward and falling to 0 as far outward.
    var alpha: SyntheticPlane {
        var plane = SyntheticPlane(width: distance.width, height: distance.height)
        let scale = 1 / max(region.edge, 1e-3)
        for i in plane.values.indices { plane.values[i] = min(max(0.5 + distance.values[i] * scale, 0), 1) }
        return plane
    }
}
