import Foundation

/// A one-line progress bar on stderr, redrawn in place: position, bar, the caller's figures,
/// rate and time left, at most ten times a second. When stderr is not a terminal (a log file
/// of a cluster job), the same figures go out as plain lines at every tenth of the work.
final class ProgressLine {
    let total: Int
    let unit: String
    private let first: Int
    private let started = Date()
    private var lastDrawn = Date.distantPast
    private var drawn = false
    private let isTerminal = isatty(STDERR_FILENO) != 0

    /// `first`: the position the work starts from (a resumed run's completed steps).
    init(total: Int, first: Int = 0, unit: String = "step") {
        self.total = total
        self.first = first
        self.unit = unit
    }

    /// Redraws the line at `position` (items done) with `figures` (e.g. "loss 0.4312").
    func update(position: Int, figures: String) {
        let now = Date()
        if isTerminal {
            guard position >= total || now.timeIntervalSince(lastDrawn) >= 0.1 else { return }
        } else {
            guard position == total || (position - first) % max(1, total / 10) == 0 else { return }
        }
        lastDrawn = now
        let elapsed = now.timeIntervalSince(started)
        let rate = elapsed > 0 ? Double(position - first) / elapsed : 0
        let remaining = rate > 0 ? Double(total - position) / rate : 0
        let status = "\(unit) \(position)/\(total)  \(figures)  "
            + String(format: "%.2f %@/s  ETA %@", rate, unit, Self.clock(remaining))
        guard isTerminal else {
            FileHandle.standardError.write(Data((status + "\n").utf8))
            return
        }
        let width = 24
        let filled = total > 0 ? min(width, width * position / total) : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(status)\u{1B}[K".utf8))
        drawn = true
    }

    /// A fine-tuning step: the loss as its running mean over the last pass of the pairs
    /// (`window` steps), since one step's loss cycles with the pairs it drew.
    func update(step: Int, meanLoss: Double?, window: Int) {
        update(position: step, figures: Self.lossFigures(meanLoss: meanLoss, steps: step, window: window))
    }

    /// "loss 0.6931, mean of the last 4 steps" ("of 3 steps" while fewer are done); just the
    /// loss when one step sees every pair.
    static func lossFigures(meanLoss: Double?, steps: Int, window: Int) -> String {
        guard let meanLoss else { return "loss -" }
        let loss = String(format: "loss %.4f", meanLoss)
        if window <= 1 { return loss }
        return steps >= window ? loss + ", mean of the last \(window) steps" : loss + ", mean of \(steps) step\(steps == 1 ? "" : "s")"
    }

    /// A message on a line of its own (above the bar when one is drawn), terminal or not.
    func note(_ message: String) {
        FileHandle.standardError.write(Data(((isTerminal && drawn ? "\r\u{1B}[K" : "") + message + "\n").utf8))
    }

    /// Ends the line so that what follows starts on a fresh one.
    func finish() {
        guard isTerminal, drawn else { return }
        FileHandle.standardError.write(Data("\n".utf8))
        drawn = false
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
