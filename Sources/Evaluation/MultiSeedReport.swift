import Datasets
import Foundation
import TensorCore

/// The same evaluation repeated with several seeds: `{"config", "runs", "summary"}`, where
/// each run is a full single-seed report and `config` is the runs' common config with
/// `seed` null and `seeds` listing them.
public struct MultiSeedReport: Codable, Equatable, Sendable {
    public let config: EvaluationConfig
    public let runs: [EvaluationReport]
    public let summary: SeedSummary

    /// Combines runs whose configs agree except for what the seed decides: the seed itself and,
    /// with domain adaptation, the adaptation images each seed draws (each run keeps its own
    /// list; the combined config has none). The seeds must be distinct; the runs keep their order.
    public init(runs: [EvaluationReport]) throws {
        guard let first = runs.first else { throw InputError("a multi-seed report needs at least one run") }
        var seen: Set<UInt64> = []
        var common = first.config
        common.seed = nil
        common.adaptation.images = nil
        for run in runs {
            let seed = run.config.seed!  // a report always has its seed
            guard seen.insert(seed).inserted else { throw InputError("seed \(seed) has two runs") }
            var config = run.config
            config.seed = nil
            config.adaptation.images = nil
            if let (key, this, other) = config.firstDifference(from: common) {
                throw InputError("the run with seed \(seed) differs from the run with seed \(first.config.seed!) in config key \(key): \(this) against \(other)")
            }
        }
        common.seeds = runs.map { $0.config.seed! }
        self.config = common
        self.runs = runs
        self.summary = SeedSummary(runs: runs)
    }

    /// `mIoU: 45.10 ± 0.52%  FB-IoU: 60.20 ± 0.31%` (mean ± population standard deviation,
    /// both in percent).
    public var scoreLine: String {
        String(format: "mIoU: %.2f ± %.2f%%  FB-IoU: %.2f ± %.2f%%", summary.miouMean, summary.miouStd,
               summary.fbiouMean, summary.fbiouStd)
    }

    enum CodingKeys: String, CodingKey {
        case config, runs, summary
    }

    /// Reads the runs and rebuilds the config and summary from them, checking that the stored
    /// config is theirs.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let config = try container.decode(EvaluationConfig.self, forKey: .config)
        let runs = try container.decode([EvaluationReport].self, forKey: .runs)
        _ = try container.decode(SeedSummary.self, forKey: .summary)
        do {
            try self.init(runs: runs)
        } catch let error as InputError {
            throw DecodingError.dataCorruptedError(forKey: .runs, in: container, debugDescription: error.message)
        }
        if let (key, this, other) = config.firstDifference(from: self.config) {
            throw DecodingError.dataCorruptedError(forKey: .config, in: container,
                debugDescription: "config key \(key) is \(this) but the runs give \(other)")
        }
    }
}

/// The spread of the scores over seeds: the per-seed values (in run order), their means and
/// their population standard deviations, sqrt(mean((x - mean)^2)) — numpy's default `np.std`
/// (ddof = 0), not the sample standard deviation.
public struct SeedSummary: Codable, Equatable, Sendable {
    public let seeds: [UInt64]
    public let miou: [Double]
    public let fbiou: [Double]
    public let miouMean: Double
    public let miouStd: Double
    public let fbiouMean: Double
    public let fbiouStd: Double

    public init(runs: [EvaluationReport]) {
        seeds = runs.map { $0.config.seed ?? 0 }
        miou = runs.map(\.miou)
        fbiou = runs.map(\.fbiou)
        (miouMean, miouStd) = Self.meanAndPopulationStd(miou)
        (fbiouMean, fbiouStd) = Self.meanAndPopulationStd(fbiou)
    }

    static func meanAndPopulationStd(_ values: [Double]) -> (Double, Double) {
        guard !values.isEmpty else { return (0, 0) }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        return (mean, variance.squareRoot())
    }

    enum CodingKeys: String, CodingKey {
        case seeds, miou, fbiou
        case miouMean = "miou_mean"
        case miouStd = "miou_std"
        case fbiouMean = "fbiou_mean"
        case fbiouStd = "fbiou_std"
    }
}
