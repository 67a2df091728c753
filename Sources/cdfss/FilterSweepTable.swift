import Evaluation
import Foundation
import FreqMask
import HSNetCore

/// The table `analyze filter-sweep` prints, drawn from its report, so that `report merge`
/// prints a merged sweep exactly as the single process would have.
enum FilterSweepTable {
    static func lines(_ report: FilterSweepReport) -> [String] {
        let config = report.config
        let onImage = config.target == FilterSweep.Target.image.rawValue
        let plane = onImage ? (height: config.imageSize, width: config.imageSize)
            : HSNet.featureSize(layer: 4, imageHeight: config.imageSize, imageWidth: config.imageSize)
        let largest = String(format: "%.2f", FrequencyBand.largestRadius(height: plane.height, width: plane.width))
        let episodes = config.shard.map { "shard \($0): \(report.episodeCount) of \(config.episodes) episodes" } ?? "\(config.episodes) episodes"
        var lines = [
            "filter sweep on \(config.benchmark) (\(episodes), \(config.shots)-shot, seed \(config.seed)), filters on the \(onImage ? "input picture" : "layer-4 features") (\(plane.height) x \(plane.width) planes, largest radius \(largest)), maskers \(config.maskers)",
            "filter                               part        mIoU %   FB-IoU %  mean |r|  participation",
        ]
        func row(_ name: String, _ part: String, _ miou: Double, _ fbiou: Double, _ meanAbsR: Double, _ participation: Double) -> String {
            name.padding(toLength: 36, withPad: " ", startingAt: 0) + " " + part.padding(toLength: 10, withPad: " ", startingAt: 0)
                + String(format: " %7.2f   %7.2f   %7.4f   %7.2f", miou, fbiou, meanAbsR, participation)
        }
        let base = report.baseline
        lines.append(row("unfiltered", "-", base.miou, base.fbiou, base.meanAbsR, base.participationRatio))
        for filter in report.filters {
            lines.append(row(filter.filter?.band.description ?? filter.kind, filter.part, filter.miou, filter.fbiou, filter.meanAbsR,
                             filter.participationRatio))
        }
        return lines
    }
}
