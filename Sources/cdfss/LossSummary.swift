import Finetune
import TensorCore

/// The line that says how a fine-tuning run's loss went (`finetune`, `test --adapt domain`).
enum LossSummary {
    /// The loss of a run as its running mean over one pass of the pairs, first pass against
    /// last: "loss 0.6931 -> 0.6012 (mean of the first and of the last 4 steps, a pass over the
    /// 4 pairs)". One step's loss would compare pairs, not progress.
    static func text(_ run: MaskerFineTuning) -> String {
        let curve = run.lossCurve, window = run.stepsPerPass
        guard let first = RunningMean.first(curve, window: window), let last = RunningMean.last(curve, window: window) else { return "no loss" }
        let pairs = run.pairs.count
        let pass = "a pass over the \(pairs) pair\(pairs == 1 ? "" : "s")"
        if window == 1 {
            // Every step sees every pair: one step's loss is already a pass's.
            let each = pairs == 1 ? "the one pair each time" : "each over all \(pairs) pairs"
            return curve.count == 1 ? String(format: "loss %.4f (one step, %@)", last, each)
                : String(format: "loss %.4f -> %.4f (first and last step, %@)", first, last, each)
        }
        if curve.count <= window {
            return String(format: "loss %.4f (mean of all %d step%@, %@ %@: no trend yet)", last, curve.count, curve.count == 1 ? "" : "s",
                          curve.count < window ? "less than" : "just", pass)
        }
        return String(format: "loss %.4f -> %.4f (mean of the first and of the last %d steps, %@)", first, last, window, pass)
    }
}
