import Datasets
import Evaluation
import Foundation
import TensorCore

/// Datasets, configs and episode records made up in memory for the evaluation tests.
enum EvaluationFixtures {
    /// A dataset whose class c (named "c+1", as deepglobe's "1" ... "6") has `sizes[c]`
    /// images `c+1/img<i>.jpg` with masks `c+1/img<i>.png`.
    static func dataset(_ kind: BenchmarkKind, sizes: [Int]) -> TargetDataset {
        TargetDataset(kind: kind, root: URL(fileURLWithPath: "/data/\(kind.rawValue)"), classes: sizes.enumerated().map { c, size in
            DatasetClass(name: "\(c + 1)", samples: (0..<size).map { LabelledImage(image: "\(c + 1)/img\($0).jpg", mask: "\(c + 1)/img\($0).png") })
        })
    }

    static func config(seed: UInt64? = 0, episodes: Int, shots: Int = 1, shard: ShardSpec? = nil,
                       adaptation: AdaptationConfig = .none) -> EvaluationConfig {
        EvaluationConfig(
            cdfssVersion: "0.1.0", checkpoint: "runs/hsnet_apm.pt",
            checkpointSHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            masker: "checkpoint", benchmark: .deepglobe, datapath: "/data/deepglobe", shots: shots, seed: seed,
            episodes: episodes, imageSize: 400, originalSize: false, adaptation: adaptation, shard: shard)
    }

    /// The record of a planned episode with counts from random 0/1 masks of 24 pixels, drawn
    /// from the episode index (so the same episode always gets the same counts), and a time.
    static func record(_ plan: EpisodePlan, seed: UInt64) -> EpisodeRecord {
        var random = SeededGenerator(seed: UInt64(plan.index) &* 7919 &+ seed)
        let predicted = (0..<24).map { _ in Float(random.next() % 2) }
        let truth = (0..<24).map { _ in Float(random.next() % 3 == 0 ? 1 : 0) }
        let counts = try! EpisodeCounts(predicted: predicted, truth: truth)
        return EpisodeRecord(plan: plan, seed: seed, counts: counts, seconds: 0.25 + Double(plan.index % 7) / 8)
    }
}
