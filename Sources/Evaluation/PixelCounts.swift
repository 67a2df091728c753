import Datasets
import TensorCore

/// A pair of pixel counts, one for the background class and one for the foreground class.
///
/// Reports write it as the two-element JSON array `[background, foreground]`, the layout of
/// the reference evaluator's `area_inter` / `area_union` rows (class 0 first).
public struct PixelCounts: Equatable, Hashable, Codable, Sendable {
    public var background: Int
    public var foreground: Int

    public init(background: Int, foreground: Int) {
        self.background = background
        self.foreground = foreground
    }

    public static let zero = PixelCounts(background: 0, foreground: 0)

    public static func + (a: PixelCounts, b: PixelCounts) -> PixelCounts {
        PixelCounts(background: a.background + b.background, foreground: a.foreground + b.foreground)
    }

    public static func += (a: inout PixelCounts, b: PixelCounts) {
        a = a + b
    }

    public init(from decoder: Decoder) throws {
        var container = try decoder.unkeyedContainer()
        let background = try container.decode(Int.self)
        let foreground = try container.decode(Int.self)
        guard container.isAtEnd else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected [background, foreground], got more than two counts"))
        }
        guard background >= 0, foreground >= 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "pixel counts must be >= 0, got [\(background), \(foreground)]"))
        }
        // An episode is scored on one picture, which has at most InputLimits.imagePixels
        // pixels; the bound also keeps the sums over a run's episodes far from overflowing.
        guard background <= InputLimits.imagePixels, foreground <= InputLimits.imagePixels else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "pixel counts [\(background), \(foreground)] exceed the \(InputLimits.imagePixels) pixels of the largest picture cdfss reads"))
        }
        self.init(background: background, foreground: foreground)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(background)
        try container.encode(foreground)
    }
}
