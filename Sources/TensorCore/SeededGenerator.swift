/// The project's random number generator: SplitMix64, seeded explicitly, so every random
/// choice is reproducible and the same on every machine and thread count.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    public static let algorithm = "splitmix64"

    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [low, high), from the top 24 bits so every float in the range is reachable
    /// with equal spacing.
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * Float(next() >> 40) * 0x1p-24
    }

    /// A uniform integer in 0..<bound by Lemire's multiply-and-reject method, spelled out so
    /// that draws (episode plans, pair shuffles) do not depend on the standard library's
    /// choice of algorithm.
    public mutating func index(below bound: Int) -> Int {
        precondition(bound > 0, "index(below:) needs a positive bound, got \(bound)")
        let range = UInt64(bound)
        let threshold = (0 &- range) % range
        while true {
            let (high, low) = next().multipliedFullWidth(by: range)
            if low >= threshold { return Int(high) }
        }
    }
}
