import TensorCore

/// Which frequencies a fixed filter keeps, by their distance from the zero frequency on the
/// centred spectrum of each plane, in frequency-index units: frequency (f1, f2), with
/// f = index - floor(size / 2) after `fftshift`, lies at radius sqrt(f1² + f2²).
public enum FrequencyBand: Equatable, Sendable, CustomStringConvertible {
    /// Keep radius <= r.
    case lowPass(radius: Double)
    /// Keep radius > r.
    case highPass(radius: Double)
    /// Keep inner < radius <= outer.
    case bandPass(inner: Double, outer: Double)

    public func keeps(radius: Double) -> Bool {
        switch self {
        case .lowPass(let r): return radius <= r
        case .highPass(let r): return radius > r
        case .bandPass(let inner, let outer): return radius > inner && radius <= outer
        }
    }

    /// "low-pass", "high-pass" or "band-pass".
    public var kindName: String {
        switch self {
        case .lowPass: return "low-pass"
        case .highPass: return "high-pass"
        case .bandPass: return "band-pass"
        }
    }

    public var description: String {
        switch self {
        case .lowPass(let r): return "low-pass r <= \(Self.format(r))"
        case .highPass(let r): return "high-pass r > \(Self.format(r))"
        case .bandPass(let inner, let outer): return "band-pass \(Self.format(inner)) < r <= \(Self.format(outer))"
        }
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    /// The largest radius on an H x W plane: the corner frequency (floor(H/2), floor(W/2)).
    public static func largestRadius(height: Int, width: Int) -> Double {
        let (a, b) = (Double(height / 2), Double(width / 2))
        return (a * a + b * b).squareRoot()
    }

    /// Throws unless the band keeps some frequencies and removes others on an H x W plane.
    public func validate(height: Int, width: Int) throws {
        let largest = Self.largestRadius(height: height, width: width)
        let plane = "\(height) x \(width) plane (radii 0 to \(String(format: "%.2f", largest)))"
        switch self {
        case .lowPass(let r), .highPass(let r):
            guard r.isFinite, r >= 0, r < largest else {
                throw InputError("\(description): the radius must lie in [0, \(String(format: "%.2f", largest))) on a \(plane)")
            }
        case .bandPass(let inner, let outer):
            guard inner.isFinite, outer.isFinite, inner >= 0, inner < outer, inner < largest else {
                throw InputError("\(description): needs 0 <= inner < outer and inner below \(String(format: "%.2f", largest)) on a \(plane)")
            }
        }
    }
}

/// What part of the spectrum a fixed filter acts on. Removing a frequency's amplitude removes
/// the frequency, so `amplitude` and `both` compute the same map; `phase` keeps every
/// amplitude and sets the removed frequencies' phase to 0.
public enum SpectrumPart: String, Sendable, CaseIterable {
    case amplitude, phase, both
}

/// A fixed frequency filter as a plug-in: the amplitude-phase masker with its factors fixed at
/// exactly 0 or 1 (mask values of ±200, where float32's sigmoid is exactly 0 or 1), one mask
/// shared by all channels. The paper's maskers are the learned, soft version of these filters;
/// sharing the masker's transform keeps one implementation of the frequency path (forward and
/// backward) for both.
public final class FrequencyFilter: FeaturePlugin {
    public let band: FrequencyBand
    public let part: SpectrumPart
    public let height: Int
    public let width: Int
    private let masker: AmplitudePhaseMasker

    /// The mask value whose sigmoid is exactly 1 in float32 (and its negative exactly 0).
    static let saturated: Float = 200

    public init(band: FrequencyBand, part: SpectrumPart, height: Int, width: Int) throws {
        guard height > 0, width > 0 else { throw InputError("a frequency filter needs a plane of positive size, got \(height) x \(width)") }
        try band.validate(height: height, width: width)
        self.band = band
        self.part = part
        self.height = height
        self.width = width
        let keep = Self.keepMask(band: band, height: height, width: width)
        let filtered = Tensor(shape: [1, 1, height, width], scalars: keep.map { $0 ? Self.saturated : -Self.saturated })
        let open = Tensor(repeating: Self.saturated, shape: [1, 1, height, width])
        masker = try AmplitudePhaseMasker(maskAmplitude: part == .phase ? open : filtered,
                                          maskPhase: part == .amplitude ? open : filtered)
    }

    /// Whether each position of the centred H x W spectrum is kept (row-major).
    public static func keepMask(band: FrequencyBand, height: Int, width: Int) -> [Bool] {
        var keep = [Bool](repeating: false, count: height * width)
        for i in 0..<height {
            for j in 0..<width {
                let (f1, f2) = (Double(i - height / 2), Double(j - width / 2))
                keep[i * width + j] = band.keeps(radius: (f1 * f1 + f2 * f2).squareRoot())
            }
        }
        return keep
    }

    public var kind: String { "\(band) (\(part.rawValue))" }

    /// A fixed filter has nothing to train.
    public var parameters: [(name: String, value: Tensor)] { [] }

    public func setParameter(_ name: String, to value: Tensor) throws {
        throw InputError("the fixed filter \(kind) has no parameter \"\(name)\"")
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try checkPlane(x)
        return try masker(x)
    }

    public func forwardForTraining(_ x: Tensor) throws -> (output: Tensor, tape: PluginTape) {
        try checkPlane(x)
        return try masker.forwardForTraining(x)
    }

    public func backward(_ gradOutput: Tensor, tape: PluginTape, parameterGradients: inout [String: Tensor]) -> Tensor {
        var ignored: [String: Tensor] = [:]
        return masker.backward(gradOutput, tape: tape, parameterGradients: &ignored)
    }

    private func checkPlane(_ x: Tensor) throws {
        guard x.rank == 4, x.shape[2] == height, x.shape[3] == width else {
            throw InputError("fixed filter \(kind): expected [N, C, \(height), \(width)] feature maps, got \(x.shapeDescription)")
        }
    }
}
