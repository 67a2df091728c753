import Foundation
import TensorCore

/// The fine-tuning loss as a reader should see it: each step's loss, faint, since it belongs
/// to the pairs that step drew and rises and falls as the pairs cycle; and over it the
/// running mean over one pass of the pairs (`RunningMean`, the window the progress line and
/// the summary use), which follows the training.
public enum LossCurveFigure {
    /// The y axis label: the loss fine-tuning minimises, with its unit.
    public static let lossLabel = "loss (cross-entropy per pixel, nats)"

    /// `losses`: one per step from step 1; `window`: steps in one pass of the pairs.
    public static func chart(id: String, losses: [Float], window: Int, pairs: Int, batch: Int, caption: String? = nil) -> SVGLineChart {
        let steps = losses.indices.map { Double($0 + 1) }
        let means = RunningMean.series(losses, window: window)
        let passText = "\(window) step\(window == 1 ? "" : "s"), one pass over the \(pairs) pair\(pairs == 1 ? "" : "s")"
            + (batch > 1 ? " at \(batch) per step" : "")
        return SVGLineChart(
            id: id,
            caption: caption ?? "Fine-tuning loss per step, and its running mean over the last \(passText). One step's loss depends on the pairs it drew; the running mean is what to read.",
            xLabel: "step", yLabel: lossLabel,
            series: [
                .init(name: "loss of each step (its pairs only)", points: zip(steps, losses).map { ($0, Double($1)) },
                      width: 1.5, opacity: 0.45, markers: false, color: "#7a7a7a"),
                .init(name: "running mean over the last \(passText)", points: zip(steps, means).map { ($0, $1) },
                      width: 2.5, markers: false, color: SVGChart.color(0)),
            ])
    }

    /// The summary table: the mean loss over the first and the last pass, and the change.
    public static func summary(losses: [Float], window: Int) -> HTMLTable {
        let first = RunningMean.first(losses, window: window)
        let last = RunningMean.last(losses, window: window)
        let shown = min(window, losses.count)
        return HTMLTable(
            columns: [.text("mean loss over"), .number("loss")],
            rows: [
                [HTMLTable.Cell("the first \(shown) step\(shown == 1 ? "" : "s")"), .number(first, decimals: 4)],
                [HTMLTable.Cell("the last \(shown) step\(shown == 1 ? "" : "s") (of \(losses.count))"), .number(last, decimals: 4)],
                ["change", .change(last.flatMap { l in first.map { l - $0 } }, decimals: 4, higherIsBetter: false)],
            ])
    }
}
