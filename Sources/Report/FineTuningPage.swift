import Foundation
import FreqMask
import TensorCore

/// The page of `cdfss finetune --html`: what the run was given, its loss with the running mean
/// over one pass of the pairs, and the masker it wrote (with the masker it started from and
/// the change, when that start is known).
public struct FineTuningPage {
    /// The run's settings and inputs, as the command names them.
    public var configuration: [(key: String, value: String)]
    /// One loss per step from step 1 (resumed steps included).
    public var losses: [Float]
    /// Steps in one pass over the pairs: the running mean's window.
    public var stepsPerPass: Int
    public var pairs: Int
    public var skippedPairs: Int
    public var batch: Int
    /// The masker written.
    public var masker: MaskerState
    /// The masker this invocation started from, and what it was.
    public var start: (state: MaskerState, name: String)?

    public init(configuration: [(key: String, value: String)], losses: [Float], stepsPerPass: Int, pairs: Int, skippedPairs: Int,
                batch: Int, masker: MaskerState, start: (state: MaskerState, name: String)?) {
        self.configuration = configuration
        self.losses = losses
        self.stepsPerPass = stepsPerPass
        self.pairs = pairs
        self.skippedPairs = skippedPairs
        self.batch = batch
        self.masker = masker
        self.start = start
    }

    public func page(generator: String) throws -> HTMLReport {
        let first = RunningMean.first(losses, window: stepsPerPass), last = RunningMean.last(losses, window: stepsPerPass)
        let lead: String
        if let first, let last, losses.count > stepsPerPass {
            let window = stepsPerPass == 1 ? "step" : "\(stepsPerPass) steps"
            lead = String(format: "%d steps on %d pair%@; the mean loss over a pass of the pairs went from %.4f (first %@) to %.4f (last %@).",
                          losses.count, pairs, pairs == 1 ? "" : "s", first, window, last, window)
        } else {
            lead = "\(losses.count) step\(losses.count == 1 ? "" : "s") on \(pairs) pair\(pairs == 1 ? "" : "s"), no more than one pass over the pairs: too short to tell a trend."
        }
        var page = HTMLReport(title: "cdfss finetune: masker fine-tuning", lead: lead, generator: generator)
        page.add("Configuration") {
            KeyValueTable(rows: configuration)
            if skippedPairs > 0 {
                Paragraph("\(skippedPairs) of \(pairs + skippedPairs) pairs were skipped: their support mask is empty at the run's image size.", note: true)
            }
        }
        page.add("Loss") {
            LossCurveFigure.summary(losses: losses, window: stepsPerPass)
            LossCurveFigure.chart(id: "loss", losses: losses, window: stepsPerPass, pairs: pairs, batch: batch)
            Paragraph("Each step trains on \(batch) pair\(batch == 1 ? "" : "s") dealt from seeded shuffles of all \(pairs) (support, query) pairs, so one step's loss is that of its pairs alone and rises and falls as they cycle. The running mean over the last \(stepsPerPass) step\(stepsPerPass == 1 ? "" : "s") (one pass over the pairs) covers every pair about once; it is what the progress line and the summary print. The masker file's metadata keeps every step's own loss (training.loss_curve).", note: true)
        }
        try page.add("Masker") {
            try MaskerFigures.blocks(masker, name: "fine-tuned masker", idPrefix: "masker", start: start?.state, startName: start?.name)
        }
        return page
    }
}
