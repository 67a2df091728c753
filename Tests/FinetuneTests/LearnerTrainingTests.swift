import Datasets
import Finetune
import Foundation
import HSNetCore
import Imaging
import TensorCore
import XCTest

/// Source-domain training of the learner on a small synthetic source set at 96 x 96 over the
/// det-fill backbone: SGD moves by exactly -lr times the batch's mean gradient, a resumed run
/// is the uninterrupted one, and validation leaves PASCAL's boundary out.
final class LearnerTrainingTests: XCTestCase {
    static let size = 96

    /// Three classes of four source-style pictures, written once per test process.
    static let folder: URL = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-train-\(UUID().uuidString)")
        try! SyntheticDomain(style: .source, classes: 3, imagesPerClass: 4, size: size, seed: 5).write(to: folder)
        return folder
    }()

    func model() throws -> HSNet {
        let model = try HSNet.withDeterministicWeights()
        model.learner = try HPNLearner.freshlyInitialized(seed: 1)
        return model
    }

    func training(_ settings: LearnerTrainingSettings, model: HSNet? = nil, resuming: LearnerTrainingSnapshot? = nil) throws -> LearnerTraining {
        let set = try TrainingSet.folder(datapath: Self.folder, classes: nil)
        return try LearnerTraining(model: try model ?? self.model(), training: set, validation: set, settings: settings,
                                   cacheBytes: 256 << 20, resuming: resuming)
    }

    func testSGDMovesByMinusLearningRateTimesTheMeanGradientOfTheBatch() throws {
        let settings = LearnerTrainingSettings(epochs: 1, episodesPerEpoch: 3, batch: 3, learningRate: 0.05, algorithm: .sgd,
                                               imageSize: Self.size, seed: 7, validationEpisodes: 0)
        let run = try training(settings)
        let before = run.learnerParameters
        let episodes = run.nextEpisodes
        XCTAssertEqual(episodes.count, 3)
        XCTAssertEqual(episodes, try training(settings).nextEpisodes, "episodes come from the seed alone")

        // The same episodes through the library's episode gradient, one at a time.
        let set = run.training.dataset
        let reference = try model()
        var sum: [String: Tensor] = [:]
        for episode in episodes {
            let pictures = try [episode.query, episode.support].map { sample -> (Tensor, Tensor) in
                let image = imageTensor(try RGBImage(contentsOf: set.url(sample.image)), size: Self.size)
                let mask = resizeNearestTorch(try set.masks(sample).foreground, width: Self.size, height: Self.size)
                return (image, Tensor(shape: [Self.size, Self.size], scalars: mask.pixels.map(Float.init)))
            }
            // One picture at a time, as the trainer computes taps.
            let taps = [reference.features(of: pictures[0].0), reference.features(of: pictures[1].0)]
            let pyramids = try reference.trainingPyramids(queryTaps: taps[0], supportTaps: taps[1], supportMask: pictures[1].1)
            let gradients = try reference.learnerLossAndGradients(pyramids: pyramids, queryMasks: pictures[0].1).gradients
            for (name, g) in gradients { if sum[name] == nil { sum[name] = g } else { sum[name]!.addScaled(g) } }
        }
        _ = try run.step()
        let after = run.learnerParameters
        var moved = 0
        for (name, value) in before {
            let mean = sum[name]! * (1 / Float(3))
            // torch's SGD: p.add_(g, alpha=-lr) in float32.
            let expected = value.zipMap(mean) { $0 + Float(-0.05) * $1 }
            XCTAssertEqual(after[name], expected, name)
            if after[name] != value { moved += 1 }
        }
        XCTAssertGreaterThan(moved, before.count / 2, "most parameters moved")
    }

    func testResumedRunEqualsUninterruptedRun() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-train-resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var settings = LearnerTrainingSettings(epochs: 2, episodesPerEpoch: 4, batch: 2, learningRate: 1e-3, algorithm: .adam,
                                               imageSize: Self.size, seed: 3, validationEpisodes: 3)
        func run(_ run: LearnerTraining) throws {
            while !run.isFinished {
                _ = try run.step()
                if run.position.step == 0 { _ = run.record(validationMIoU: try run.validate().miou, epoch: run.position.epoch) }
            }
        }
        let whole = try training(settings)
        try run(whole)

        settings.epochs = 1
        let first = try training(settings)
        try run(first)
        let snapshotURL = folder.appendingPathComponent("optimizer.safetensors")
        try LearnerTrainingFiles.snapshot(of: first, metadata: [:]).write(to: snapshotURL)
        settings.epochs = 2
        let resumed = try training(settings, resuming: try LearnerTrainingSnapshot.read(snapshotURL))
        XCTAssertEqual(resumed.completedSteps, 2)
        try run(resumed)

        XCTAssertEqual(resumed.learnerParameters, whole.learnerParameters)
        XCTAssertEqual(resumed.best?.miou, whole.best?.miou)
        XCTAssertEqual(LearnerTrainingFiles.snapshot(of: resumed, metadata: [:]).encoded(),
                       LearnerTrainingFiles.snapshot(of: whole, metadata: [:]).encoded())
    }

    func testEpisodesNeedTwoPicturesOfAClass() throws {
        let set = TrainingSet(layout: "folder", root: Self.folder, classes: [
            TrainingClass(name: "lonely", samples: [TrainingSample(image: "a.png", label: "a.png")]),
        ])
        XCTAssertThrowsError(try TrainingEpisodes(set, role: "training")) { error in
            XCTAssertTrue("\(error)".contains("no class with two pictures"), "\(error)")
        }
    }

    func testValidationLeavesTheBoundaryOut() throws {
        // One class, two pictures whose labels are a 20 x 20 block of class 1 with a 255
        // border; the prediction is scored on the class pixels and the background only.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-train-pascal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var samples: [TrainingSample] = []
        let domain = try SyntheticDomain(style: .source, classes: 1, imagesPerClass: 2, size: Self.size)
        for index in 0..<2 {
            let picture = domain.image(classIndex: 0, imageIndex: index)
            try picture.image.writePNG(to: folder.appendingPathComponent("p\(index).png"))
            let label = GrayImage(width: Self.size, height: Self.size, pixels: (0..<(Self.size * Self.size)).map { i in
                let (y, x) = (i / Self.size, i % Self.size)
                if (30..<60).contains(y) && (30..<60).contains(x) { return 1 }
                return (26..<64).contains(y) && (26..<64).contains(x) ? 255 : 0
            })
            try label.writePNG(to: folder.appendingPathComponent("l\(index).png"))
            samples.append(TrainingSample(image: "p\(index).png", label: "l\(index).png", classValue: 1))
        }
        let set = TrainingSet(layout: "pascal", root: folder, classes: [TrainingClass(name: "aeroplane", samples: samples)])
        let settings = LearnerTrainingSettings(epochs: 1, episodesPerEpoch: 1, batch: 1, imageSize: Self.size, validationEpisodes: 2)
        let run = try LearnerTraining(model: try model(), training: set, validation: set, settings: settings, cacheBytes: 64 << 20)
        let score = try run.validate()
        let totals = try XCTUnwrap(score.totals[0])
        let border = 38 * 38 - 30 * 30
        // Every pixel but the border is scored, twice (two episodes).
        XCTAssertEqual(totals.intersection.background + totals.union.foreground, 2 * (Self.size * Self.size - border))
    }
}
