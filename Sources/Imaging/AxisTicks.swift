import Foundation

/// Round values to mark on an axis or a colour bar: multiples of a step of 1, 2 or 5 times
/// a power of ten, labelled with as many decimals as the step needs and no more, so that
/// 0.729 ... 0.733 reads "0.729 0.730 0.731" and 0 ... 60 reads "0 20 40 60".
public struct AxisTicks: Equatable, Sendable {
    /// The tick values, ascending.
    public var values: [Double]
    /// The distance between neighbouring ticks.
    public var step: Double
    /// Decimals in the labels: enough to tell neighbouring ticks apart.
    public var decimals: Int

    public var labels: [String] { values.map { label($0) } }

    /// `value` with the ticks' decimals; a value that is zero at that precision is "0",
    /// never "-0.0".
    public func label(_ value: Double) -> String {
        let rounded = abs(value) < step * 1e-6 ? 0 : value
        let text = String(format: "%.\(decimals)f", rounded)
        return text.hasPrefix("-") && Double(text) == 0 ? String(text.dropFirst()) : text
    }

    /// Ticks that lie within `low...high` (a colour bar, an axis whose ends are fixed): the
    /// smallest step that gives at most `maxCount` of them, so the labels say as much as
    /// room allows (-1, -0.5, 0, 0.5, 1 rather than -1, 0, 1). When that step gives fewer
    /// than `minCount`, the next smaller one is taken and doubled until at most `maxCount`.
    public static func inside(_ low: Double, _ high: Double, minCount: Int = 3, maxCount: Int = 5) -> AxisTicks {
        let (low, high) = ordered(low, high)
        let minCount = max(1, minCount), maxCount = max(minCount, maxCount)
        // 1-2-5 steps from above the span downwards, while they still fit.
        let steps = niceSteps(startingAbove: high - low)
        var fitting = 0
        while fitting + 1 < steps.count && count(low, high, steps[fitting + 1]) <= maxCount { fitting += 1 }
        var step = steps[fitting]
        if count(low, high, step) < minCount && fitting + 1 < steps.count {
            step = steps[fitting + 1]
            while count(low, high, step) > maxCount { step *= 2 }
        }
        let first = (low / step - slack).rounded(.up)
        let values = (0..<count(low, high, step)).map { (first + Double($0)) * step }
        return AxisTicks(values: values, step: step, decimals: decimals(for: step))
    }

    /// Ticks that cover `low...high`, from the last step at or below `low` to the first at
    /// or above `high` (a chart axis whose ends follow the data): the smallest step that
    /// needs at most `maxIntervals` intervals.
    public static func covering(_ low: Double, _ high: Double, maxIntervals: Int) -> AxisTicks {
        let (low, high) = ordered(low, high)
        let maxIntervals = max(1, maxIntervals)
        let steps = niceSteps(startingAbove: high - low)
        // Descending steps: keep the last one (the smallest) that still fits.
        var step = steps[0]
        for candidate in steps {
            if intervals(low, high, candidate) > maxIntervals { break }
            step = candidate
        }
        let first = (low / step + slack).rounded(.down)
        let values = (0...intervals(low, high, step)).map { (first + Double($0)) * step }
        return AxisTicks(values: values, step: step, decimals: decimals(for: step))
    }

    /// Steps 10^k, 5, 2, 1 x 10^(k-1), ... from the first power of ten above `span` down to a
    /// millionth of it (ticks closer than that are never wanted). A span of zero or one that
    /// is not finite is treated as 1.
    private static func niceSteps(startingAbove span: Double) -> [Double] {
        let span = span.isFinite && span > 0 ? span : 1
        var exponent = Int((log10(span)).rounded(.up)) + 1
        var steps: [Double] = []
        while steps.count < 24 {
            let power = pow(10, Double(exponent))
            steps += [power, power / 2, power / 5]
            exponent -= 1
        }
        return steps
    }

    /// How far, in steps, a bound may miss a multiple of the step and still count as on it:
    /// bounds often come from float32 data (0.733 is stored as 0.73299998), whose rounding
    /// is up to ~1e-7 of the value, i.e. about 1e-4 steps when the span is a thousandth of it.
    private static let slack = 1e-3

    /// Multiples of `step` within low...high, give or take `slack`.
    private static func count(_ low: Double, _ high: Double, _ step: Double) -> Int {
        max(0, Int((high / step + slack).rounded(.down) - (low / step - slack).rounded(.up)) + 1)
    }

    private static func intervals(_ low: Double, _ high: Double, _ step: Double) -> Int {
        max(1, Int((high / step - slack).rounded(.up) - (low / step + slack).rounded(.down)))
    }

    /// Decimals a multiple of `step` needs: none for 1, 2, 5, 10; one for 0.1, 0.2, 0.5 ...
    private static func decimals(for step: Double) -> Int {
        max(0, -Int((log10(step) + 1e-9).rounded(.down)))
    }

    /// Finite bounds in order; anything else becomes 0...1 so a figure still draws. Equal
    /// bounds are widened by a tenth of their value (by 1 around 0), so a constant gets ticks
    /// on both sides of it.
    private static func ordered(_ a: Double, _ b: Double) -> (Double, Double) {
        guard a.isFinite, b.isFinite else { return (0, 1) }
        if a == b {
            let d = a == 0 ? 1 : abs(a) / 10
            return (a - d, a + d)
        }
        return (min(a, b), max(a, b))
    }
}
