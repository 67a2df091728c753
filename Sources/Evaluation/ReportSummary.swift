import Datasets
import Foundation

/// The machine-readable summary of an evaluation that `cdfss test --json` and
/// `cdfss report show --json` print on stdout: one JSON object, keys in snake_case as in the
/// report files, every IoU in percent (0 to 100).
///
/// `{"benchmark", "shots", "episodes", "shard", "adaptation", "masker", "image_size",
/// "seeds", "miou", "miou_std", "fbiou", "fbiou_std", "runs": [{"seed", "episodes_scored",
/// "missing_episodes", "miou", "fbiou", "classes": [{"class", "name", "episodes", "iou"}]}],
/// "report"}`. `miou` and `fbiou` are the mean over the runs' seeds and the `_std` keys their
/// population standard deviation (0 for one seed), as the multi-seed report's summary.
public struct ReportSummary: Encodable, Sendable {
    public struct ClassLine: Encodable, Sendable {
        let classIndex: Int
        let name: String
        let episodes: Int
        let iou: Double

        enum CodingKeys: String, CodingKey {
            case classIndex = "class"
            case name, episodes, iou
        }
    }

    public struct Run: Encodable, Sendable {
        let seed: UInt64
        let episodesScored: Int
        let missingEpisodes: Int
        let miou: Double
        let fbiou: Double
        let classes: [ClassLine]

        enum CodingKeys: String, CodingKey {
            case seed
            case episodesScored = "episodes_scored"
            case missingEpisodes = "missing_episodes"
            case miou, fbiou, classes
        }
    }

    let benchmark: String
    let shots: Int
    /// Episodes of the whole run (over all shards).
    let episodes: Int
    let shard: String?
    let adaptation: String
    let masker: String
    let imageSize: Int
    let seeds: [UInt64]
    let miou: Double
    let miouStd: Double
    let fbiou: Double
    let fbiouStd: Double
    let runs: [Run]
    /// The report file the summary describes or was written to, if any.
    let report: String?

    public init(_ file: ReportFile, reportPath: String?) {
        let config = file.config
        let reports = file.runs
        let spread = SeedSummary(runs: reports)
        benchmark = config.benchmark.rawValue
        shots = config.shots
        episodes = config.episodes
        shard = config.shard?.description
        adaptation = config.adaptation.mode.rawValue
        masker = config.masker
        imageSize = config.imageSize
        seeds = spread.seeds
        (miou, miouStd, fbiou, fbiouStd) = (spread.miouMean, spread.miouStd, spread.fbiouMean, spread.fbiouStd)
        runs = reports.map { run in
            let score = run.score
            return Run(seed: run.config.seed ?? 0, episodesScored: run.episodes.count,
                       missingEpisodes: run.expectedEpisodeCount - run.episodes.count, miou: run.miou, fbiou: run.fbiou,
                       classes: run.classes.map {
                           ClassLine(classIndex: $0.classIndex, name: $0.name,
                                     episodes: score.totals[$0.classIndex]?.episodes ?? 0, iou: $0.iou)
                       })
        }
        report = reportPath
    }

    enum CodingKeys: String, CodingKey {
        case benchmark, shots, episodes, shard, adaptation, masker
        case imageSize = "image_size"
        case seeds, miou
        case miouStd = "miou_std"
        case fbiou
        case fbiouStd = "fbiou_std"
        case runs, report
    }

    /// Writes absent values as `null`, so that every summary has the same keys.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(benchmark, forKey: .benchmark)
        try container.encode(shots, forKey: .shots)
        try container.encode(episodes, forKey: .episodes)
        try container.encode(shard, forKey: .shard)
        try container.encode(adaptation, forKey: .adaptation)
        try container.encode(masker, forKey: .masker)
        try container.encode(imageSize, forKey: .imageSize)
        try container.encode(seeds, forKey: .seeds)
        try container.encode(miou, forKey: .miou)
        try container.encode(miouStd, forKey: .miouStd)
        try container.encode(fbiou, forKey: .fbiou)
        try container.encode(fbiouStd, forKey: .fbiouStd)
        try container.encode(runs, forKey: .runs)
        try container.encode(report, forKey: .report)
    }

    /// One line of JSON (scripts read stdout line by line), keys sorted.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
