import Evaluation
import Foundation
import FreqMask
import Imaging

/// The page of `cdfss test --html`: the configuration, mIoU and FB-IoU, the IoU of every
/// class, pictures of the first episodes, the fine-tuning loss when the run adapted its
/// masker, and the masker's frequency factors when one is installed.
public struct EvaluationPage {
    /// How many episodes the page draws: the first six of the run (of its first seed). Episodes
    /// take the classes in turn (class = index mod the class count), so these show one episode
    /// of each of up to six classes — every class of DeepGlobe (6), ISIC (3) and the chest
    /// X-rays (1) — while the page stays a few megabytes (each picture is some 0.3 to 0.6 MB
    /// of PNG at 256 x 256 per panel).
    public static let exampleEpisodes = 6

    /// A domain adaptation of one seed: its loss per step and what the running mean needs.
    public struct DomainAdaptation {
        public var seed: UInt64
        public var losses: [Float]
        public var stepsPerPass: Int
        public var pairs: Int
        public var batch: Int
        /// The masker it adapted.
        public var masker: MaskerState

        public init(seed: UInt64, losses: [Float], stepsPerPass: Int, pairs: Int, batch: Int, masker: MaskerState) {
            self.seed = seed
            self.losses = losses
            self.stepsPerPass = stepsPerPass
            self.pairs = pairs
            self.batch = batch
            self.masker = masker
        }
    }

    public var file: ReportFile
    public var reportPath: String?
    /// Pictures of episodes (`EpisodePicture`), by episode index.
    public var examples: [(index: Int, picture: RGBImage)] = []
    /// The masker the run starts from (as installed before any adaptation) and its name.
    public var startMasker: (state: MaskerState, name: String)?
    public var domainAdaptations: [DomainAdaptation] = []
    /// With per-episode adaptation: each adapted episode's loss per step (first seed).
    public var episodeLosses: [[Float]] = []

    public init(file: ReportFile, reportPath: String?) {
        self.file = file
        self.reportPath = reportPath
    }

    public func page(generator: String) throws -> HTMLReport {
        let config = file.config
        var page = HTMLReport(title: "cdfss test: \(config.benchmark.rawValue), \(config.shots)-shot",
                              lead: "\(file.scoreLine) over \(config.episodes) episodes\(file.runs.count > 1 ? " per seed" : ""); masker \(config.masker); adaptation \(config.adaptation.mode.rawValue).",
                              generator: generator)
        page.add("Configuration") { EvaluationSections.configuration(config, reportPath: reportPath) }
        page.add("Scores") {
            EvaluationSections.scores(file)
            Paragraph("mIoU is the mean of the classes' foreground IoU; FB-IoU the mean of the background and the foreground IoU of the pixel counts summed over all episodes. Both as the HSNet/PATNet evaluator computes them, in percent.", note: true)
        }
        page.add("Per-class IoU") { EvaluationSections.classes(file) }
        if !examples.isEmpty {
            try page.add("Example episodes") {
                Paragraph("The first \(examples.count) episode\(examples.count == 1 ? "" : "s") of the run\(file.runs.count > 1 ? " with seed \(file.runs[0].config.seed ?? 0)" : ""). Episodes take the classes in turn, so these show the first classes; every panel shows the square the network sees, drawn at \(EpisodePicture.panelSide) x \(EpisodePicture.panelSide) pixels.", note: true)
                for example in examples {
                    try PictureFigure(id: figureID("episode", String(example.index)), caption: exampleCaption(example.index),
                                      picture: example.picture)
                }
            }
        }
        if !domainAdaptations.isEmpty || !episodeLosses.isEmpty {
            page.add("Fine-tuning") { adaptationBlocks() }
        }
        if let startMasker {
            try page.add("Masker") {
                if let adapted = domainAdaptations.first {
                    Paragraph(domainAdaptations.count > 1
                              ? "The masker adapted with seed \(adapted.seed) (each seed adapts its own), with the start it was adapted from."
                              : "The masker adapted to the domain, with the start it was adapted from.", note: true)
                    try MaskerFigures.blocks(adapted.masker, name: "adapted masker", idPrefix: "masker", start: startMasker.state,
                                             startName: "start (\(startMasker.name))")
                } else {
                    if !episodeLosses.isEmpty {
                        Paragraph("Each episode adapted its own copy of this masker and then dropped it; the start is what every episode began from.", note: true)
                    }
                    try MaskerFigures.blocks(startMasker.state, name: "masker (\(startMasker.name))", idPrefix: "masker")
                }
            }
        }
        return page
    }

    /// "Episode 3: query class-1/images/004.png, support class-1/images/002.png." from the
    /// first run's record (paths relative to the datapath).
    func exampleCaption(_ index: Int) -> String {
        guard let record = file.runs.first?.episodes.first(where: { $0.index == index }) else { return "Episode \(index)." }
        return "Episode \(index): query \(record.query), support\(record.supports.count == 1 ? "" : "s") "
            + record.supports.joined(separator: ", ") + "."
    }

    @ReportBuilder
    func adaptationBlocks() -> [any ReportBlock] {
        for run in domainAdaptations {
            LossCurveFigure.summary(losses: run.losses, window: run.stepsPerPass)
            LossCurveFigure.chart(id: domainAdaptations.count == 1 ? "loss" : figureID("loss", "seed", String(run.seed)),
                                  losses: run.losses, window: run.stepsPerPass, pairs: run.pairs, batch: run.batch,
                                  caption: "Domain adaptation\(domainAdaptations.count > 1 ? " with seed \(run.seed)" : ""): the loss of each step, and its running mean over the last \(run.stepsPerPass) step\(run.stepsPerPass == 1 ? "" : "s") (one pass over the \(run.pairs) within-class pairs).")
        }
        if !episodeLosses.isEmpty {
            let steps = episodeLosses.map(\.count).max() ?? 0
            let means: [(x: Double, y: Double)] = (0..<steps).map { step in
                let values = episodeLosses.compactMap { step < $0.count ? Double($0[step]) : nil }
                return (Double(step + 1), values.reduce(0, +) / Double(max(values.count, 1)))
            }
            let lows = (0..<steps).map { step in (x: Double(step + 1), y: episodeLosses.compactMap { step < $0.count ? Double($0[step]) : nil }.min() ?? .nan) }
            let highs = (0..<steps).map { step in (x: Double(step + 1), y: episodeLosses.compactMap { step < $0.count ? Double($0[step]) : nil }.max() ?? .nan) }
            SVGLineChart(id: "loss-episodes",
                         caption: "Per-episode adaptation: at each step, the mean loss over the \(episodeLosses.count) adapted episodes, and the lowest and highest. Each episode fine-tunes a fresh copy of the masker on its own supports.",
                         xLabel: "step", yLabel: LossCurveFigure.lossLabel,
                         series: [.init(name: "mean over \(episodeLosses.count) episodes", points: means, width: 2.5),
                                  .init(name: "lowest", points: lows, dashed: true, width: 1.5, markers: false, color: "#7a7a7a"),
                                  .init(name: "highest", points: highs, dashed: true, width: 1.5, markers: false, color: "#b0b0b0")])
        }
    }
}
