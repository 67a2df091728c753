import Datasets
import Evaluation
import Foundation
import FreqMask
import Imaging
import Report
import TensorCore
import XCTest

/// Reports made up in memory, and ways to look into pages and pictures.
enum ReportFixtures {
    static func dataset(sizes: [Int] = [5, 7, 4]) -> TargetDataset {
        TargetDataset(kind: .deepglobe, root: URL(fileURLWithPath: "/data/deepglobe"), classes: sizes.enumerated().map { c, size in
            DatasetClass(name: "\(c + 1)", samples: (0..<size).map { LabelledImage(image: "\(c + 1)/img\($0).jpg", mask: "\(c + 1)/img\($0).png") })
        })
    }

    /// A run of `episodes` 1-shot episodes whose counts come from 0/1 masks of 24 pixels drawn
    /// from the episode index.
    static func report(seed: UInt64 = 0, episodes: Int = 12, masker: String = "checkpoint",
                       adaptation: AdaptationConfig = .none) throws -> EvaluationReport {
        let data = dataset()
        let plans = try EpisodeSampler(dataset: data, shots: 1, seed: seed).plan(episodes: episodes)
        let config = EvaluationConfig(cdfssVersion: "0.1.0", checkpoint: "runs/hsnet.pt", checkpointSHA256: String(repeating: "ab", count: 32),
                                      masker: masker, benchmark: .deepglobe, datapath: "/data/deepglobe", shots: 1, seed: seed,
                                      episodes: episodes, imageSize: 400, originalSize: false, adaptation: adaptation)
        let records = try plans.map { plan -> EpisodeRecord in
            var random = SeededGenerator(seed: UInt64(plan.index) &* 7919 &+ seed)
            let predicted = (0..<24).map { _ in Float(random.next() % 2) }
            let truth = (0..<24).map { _ in Float(random.next() % 3 == 0 ? 1 : 0) }
            return EpisodeRecord(plan: plan, seed: seed, counts: try EpisodeCounts(predicted: predicted, truth: truth), seconds: 0.5)
        }
        return try EvaluationReport(config: config, episodes: records, classNames: data.classes.map(\.name))
    }

    /// A masker of `channels` x 3 x 3 masks holding values that vary by position.
    static func masker(apm: Bool = true, acpa: Bool = true, shift: Float = 0) throws -> MaskerState {
        var generator = SeededGenerator(seed: 3)
        var amplitudePhase: AmplitudePhaseMasker?
        if apm {
            let values = (0..<36).map { 1 + shift * Float($0 % 9) / 9 }
            amplitudePhase = try AmplitudePhaseMasker(maskAmplitude: Tensor(shape: [1, 4, 3, 3], scalars: values),
                                                      maskPhase: Tensor(shape: [1, 4, 3, 3], scalars: values.reversed()))
        }
        let attention = acpa ? ChannelPhaseAttention(channels: 4, generator: &generator) : nil
        return MaskerState(amplitudePhase: amplitudePhase, channelAttention: attention)
    }
}

/// The page rendered and read back (an error when it is not well formed).
func structure(_ page: HTMLReport) throws -> ReportStructure {
    try ReportStructure(parsing: try page.encoded())
}

/// Whether `text`, drawn in black at `scale` on white, appears in `picture` pixel for pixel.
func pictureContainsText(_ picture: RGBImage, _ text: String, scale: Int) -> Bool {
    let size = BitmapFont.textSize(text, scale: scale)
    guard size.width <= picture.width, size.height <= picture.height else { return false }
    var stamp = Canvas(width: size.width, height: size.height)
    stamp.text(text, x: 0, y: 0, scale: scale)
    let target = Canvas(image: picture)
    for top in 0...(picture.height - size.height) {
        for left in 0...(picture.width - size.width) {
            var same = true
            rows: for y in 0..<size.height {
                for x in 0..<size.width where target.color(x: left + x, y: top + y) != stamp.color(x: x, y: y) {
                    same = false
                    break rows
                }
            }
            if same { return true }
        }
    }
    return false
}

/// How often `needle` occurs in `text`.
func occurrences(of needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}
