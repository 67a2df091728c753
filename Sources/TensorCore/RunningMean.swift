/// The trailing mean of a series over a window of its last values: what a fine-tuning loss
/// is read by. One step's loss belongs to the pairs that step drew, so it rises and falls with
/// them as the pairs cycle; the mean over the last pass of the pairs (every pair about once)
/// follows the training instead.
///
/// Sums are taken in double precision from the float32 values, first to last, so the progress
/// line, the summary and the report's curve give the same numbers for the same steps.
public enum RunningMean {
    /// The mean of the last `window` values (all of them while there are fewer); nil for no
    /// values. `window` below 1 counts as 1.
    public static func last(_ values: [Float], window: Int) -> Double? {
        guard !values.isEmpty else { return nil }
        let tail = values.suffix(max(1, window))
        return tail.reduce(0.0) { $0 + Double($1) } / Double(tail.count)
    }

    /// The mean of the first `window` values (all of them while there are fewer); nil for no
    /// values.
    public static func first(_ values: [Float], window: Int) -> Double? {
        last(Array(values.prefix(max(1, window))), window: window)
    }

    /// For every position k, the mean of values max(0, k - window + 1) ... k: the curve drawn
    /// over the raw values. A sliding sum (add the new value, drop the one leaving the window)
    /// keeps it linear in the length whatever the window; element k equals
    /// `last(Array(values[...k]), window:)` up to double-precision rounding (about 1e-16 of
    /// the values per step, so 1e-10 after a million steps: far below the four decimals shown).
    public static func series(_ values: [Float], window: Int) -> [Double] {
        let window = max(1, window)
        var means: [Double] = []
        means.reserveCapacity(values.count)
        var sum = 0.0
        for k in values.indices {
            sum += Double(values[k])
            if k >= window { sum -= Double(values[k - window]) }
            means.append(sum / Double(min(k + 1, window)))
        }
        return means
    }
}
