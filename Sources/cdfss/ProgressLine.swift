import Foundation

/// A one-line progress bar on stderr, redrawn in place: position, bar, the caller's figures,
/// rate and time left. Drawn only when stderr is a terminal (logs and pipes stay clean), and
/// at most ten times a second.
final class ProgressLine {
    let total: Int
    let unit: String
    private let first: Int
    private let started = Date()
    private var lastDrawn = Date.distantPast
    private var drawn = false
    private let enabled = isatty(STDERR_FILENO) != 0

    /// `first`: the position the work starts from (a resumed run's completed steps).
    init(total: Int, first: Int = 0, unit: String = "step") {
        self.total = total
        self.first = first
        self.unit = unit
    }

    /// Redraws the line at `position` (items done) with `figures` (e.g. "loss 0.4312").
    func update(position: Int, figures: String) {
        guard enabled else { return }
        let now = Date()
        guard position >= total || now.timeIntervalSince(lastDrawn) >= 0.1 else { return }
        lastDrawn = now
        let elapsed = now.timeIntervalSince(started)
        let done = position - first
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let remaining = rate > 0 ? Double(total - position) / rate : 0
        let width = 24
        let filled = total > 0 ? min(width, width * position / total) : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "\r[\(bar)] \(unit) \(position)/\(total)  \(figures)  "
            + String(format: "%.2f %@/s  ETA %@", rate, unit, Self.clock(remaining)) + "\u{1B}[K"
        FileHandle.standardError.write(Data(line.utf8))
        drawn = true
    }

    func update(step: Int, loss: Float) {
        update(position: step, figures: String(format: "loss %.4f", loss))
    }

    /// A message on a line of its own (above the bar when one is drawn), terminal or not.
    func note(_ message: String) {
        FileHandle.standardError.write(Data(((enabled && drawn ? "\r\u{1B}[K" : "") + message + "\n").utf8))
    }

    /// Ends the line so that what follows starts on a fresh one.
    func finish() {
        guard enabled, drawn else { return }
        FileHandle.standardError.write(Data("\n".utf8))
        drawn = false
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
