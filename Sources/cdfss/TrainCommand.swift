import ArgumentParser
import Datasets
import Evaluation
import Finetune
import Foundation
import HSNetCore
import TensorCore

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train HSNet's learner (or PATNet's learner and reference layers) on a source domain: the backbone frozen, 1-shot episodes, Adam.",
        discussion: """
            Every step trains on --batch episodes (query and support of one class) with the mean \
            two-class cross-entropy of the query logits at image resolution; PASCAL's boundary \
            pixels count as background in the loss and are left out of validation scores, as \
            HSNet does. Backbone taps are computed once per picture, and the pyramids of an \
            episode that recurs once per episode, within --cache-mb. No augmentation.

            The learner starts from --checkpoint's, or fresh (torch's default initialisation, \
            seeded by --seed) over --backbone-weights or --backbone builtin:deterministic. After \
            each epoch the learner is scored on --val-episodes fixed validation episodes; \
            best.safetensors keeps the best. The output folder holds last.safetensors, \
            best.safetensors, optimizer.safetensors (the snapshot --resume continues from, bit \
            for bit the uninterrupted run) and log.jsonl.

            PATNet (--model patnet, or a PATNet --checkpoint) trains its three reference layers \
            with the learner, as its train.py; its pyramids depend on them, so they are formed \
            at every step. Fresh reference weights are Kaiming normal (fan_in, linear), seeded \
            by --seed.
            """)

    @Option(help: ArgumentHelp("HSNet checkpoint whose learner to start from (its backbone too, unless --backbone-weights)."))
    var checkpoint: String?

    @Option(help: "hsnet or patnet. patnet adds fresh reference layers to a model without them (default: what --checkpoint holds, hsnet for a fresh learner).")
    var model: String?

    @Option(help: "torchvision ResNet-50, ResNet-101 or VGG-16 state dict for the backbone.")
    var backboneWeights: String?

    @Option(help: "Built-in backbone: builtin:deterministic (seeded weights, nothing to download) or builtin:deterministic-vgg16 (the same, VGG-16).")
    var backbone: String?

    @Option(help: "Training data layout: pascal or folder.")
    var benchmark: String

    @Option(help: "Root of the training data (pascal: the folder holding VOC2012/).")
    var datapath: String

    @Option(help: "PASCAL-5i fold: 0, 1, 2, 3 (train on the 15 other classes) or all (the 20 classes, as CD-FSS trains).")
    var fold: String?

    @Option(help: "folder layout: the classes to train on, comma-separated (default: all).")
    var classes: String?

    @Option(parsing: .unconditional, help: "Epochs in total (a resumed run may raise it).")
    var epochs = 10

    @Option(parsing: .unconditional, help: "Episodes per epoch.")
    var episodesPerEpoch = 1000

    @Option(parsing: .unconditional, help: "Episodes per step (the loss is their mean).")
    var batch = 4

    @Option(parsing: .unconditional, help: "Learning rate.")
    var lr = 1e-3

    @Option(help: "adam or sgd.")
    var optimizer: FineTuneSettings.Algorithm = .adam

    @Option(parsing: .unconditional, help: "Side of the square network input (16 to \(HSNet.maximumImageSize)).")
    var imageSize = 400

    @Option(parsing: .unconditional, help: "Seed of the training episodes and of a fresh learner.")
    var seed: UInt64 = 0

    @Option(help: "Validation layout: pascal (the fold's validation classes), folder, fss (FSS-1000's validation classes), deepglobe, isic, lung.")
    var valBenchmark: String?

    @Option(help: "Root of the validation data.")
    var valDatapath: String?

    @Option(help: "folder validation layout: the classes to validate on, comma-separated (default: all).")
    var valClasses: String?

    @Option(parsing: .unconditional, help: "Validation episodes after each epoch (fixed seed, every class in turn).")
    var valEpisodes = 200

    @Option(parsing: .unconditional, help: "Memory for cached taps and pyramids, in MiB (less only recomputes more).")
    var cacheMb = 4096

    @Option(help: "Output folder.")
    var output: String

    @Option(parsing: .unconditional, help: "Also save the snapshot and last.safetensors every N steps (they are always saved after each epoch).")
    var saveEvery: Int?

    @Flag(help: "Continue the run in --output from its snapshot (same settings and data; only --epochs may grow).")
    var resume = false

    @Flag(help: "Store backbone.* in last.safetensors and best.safetensors too (a checkpoint that stands alone).")
    var includeBackbone = false

    @Flag(help: "Record every training episode (class, query, support) in log.jsonl.")
    var logEpisodes = false

    @Flag(help: "Print a JSON summary on stdout instead of the text lines.")
    var json = false

    var settings: LearnerTrainingSettings {
        LearnerTrainingSettings(epochs: epochs, episodesPerEpoch: episodesPerEpoch, batch: batch, learningRate: lr,
                                algorithm: optimizer, imageSize: imageSize, seed: seed,
                                validationEpisodes: valBenchmark == nil ? 0 : valEpisodes)
    }

    func validate() throws {
        let sources = [checkpoint, backbone].compactMap { $0 }.count + (checkpoint == nil && backboneWeights != nil ? 1 : 0)
        guard sources == 1 else {
            throw ValidationError("give one of --checkpoint FILE, --backbone-weights FILE or --backbone builtin:deterministic")
        }
        if let backbone, try BuiltinModel.named(backbone) == nil {
            throw ValidationError("--backbone \(backbone): expected \(BuiltinModel.allCases.map(\.rawValue).joined(separator: " or ")) (a backbone file goes to --backbone-weights)")
        }
        guard ["pascal", "folder"].contains(benchmark) else {
            throw ValidationError("--benchmark \(benchmark): training reads pascal or folder")
        }
        if benchmark == "pascal" { _ = try PascalFold(parsing: fold ?? "") } else if fold != nil {
            throw ValidationError("--fold applies to --benchmark pascal")
        }
        if classes != nil && benchmark != "folder" { throw ValidationError("--classes applies to --benchmark folder") }
        if (valBenchmark == nil) != (valDatapath == nil) {
            throw ValidationError("--val-benchmark and --val-datapath go together")
        }
        if let valBenchmark, valBenchmark != "pascal", BenchmarkKind(rawValue: valBenchmark) == nil {
            throw ValidationError("--val-benchmark \(valBenchmark): expected pascal, \(BenchmarkKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if valBenchmark == "pascal" && fold == nil { throw ValidationError("--val-benchmark pascal needs --fold") }
        if valClasses != nil && valBenchmark != "folder" { throw ValidationError("--val-classes applies to --val-benchmark folder") }
        if let saveEvery, saveEvery < 1 { throw ValidationError("--save-every \(saveEvery): expected at least 1") }
        _ = try CacheBudget.bytes(mebibytes: cacheMb)
        try HSNet.checkImageSize(imageSize)
        try settings.check()
    }

    /// What the run reads, recorded in every file it writes; a resumed run must read the same.
    var provenance: [String: String] {
        var entries = ["training.benchmark": benchmark, "training.datapath": datapath]
        entries["training.fold"] = fold
        entries["training.classes"] = classes
        entries["training.val_benchmark"] = valBenchmark
        entries["training.val_datapath"] = valDatapath
        entries["training.val_classes"] = valClasses
        entries["training.checkpoint"] = checkpoint
        entries["training.backbone_weights"] = backboneWeights
        entries["training.backbone"] = backbone
        return entries
    }

    func run() throws {
        let folder = URL(fileURLWithPath: output)
        let file = { (name: String) in folder.appendingPathComponent(name) }
        var check = OutputCheck()
        check.outputFolder("--output", output)
        check.input("--checkpoint", checkpoint)
        check.input("--backbone-weights", backboneWeights)
        check.inputFolder("--datapath", datapath)
        check.inputFolder("--val-datapath", valDatapath)
        try check.prepare()

        // Everything that can fail on bad input happens before anything is written.
        let snapshotURL = file(LearnerTrainingFiles.snapshot)
        let snapshot = resume ? try resumedSnapshot(snapshotURL) : nil
        if !resume, FileManager.default.fileExists(atPath: snapshotURL.path) {
            throw InputError("\(output) already holds a training run (\(LearnerTrainingFiles.snapshot)): add --resume to continue it, or choose another --output")
        }
        let trainingSet = try loadTrainingSet()
        let validationSet = try loadValidationSet()
        let (model, backboneEntries) = try loadModel()
        let run = try LearnerTraining(model: model, training: trainingSet, validation: validationSet, settings: settings,
                                      cacheBytes: try CacheBudget.bytes(mebibytes: cacheMb), resuming: snapshot)
        for (role, episodes) in [("training", run.training), ("validation", run.validation)] {
            if let episodes, !episodes.skippedClasses.isEmpty {
                warn("\(role) classes with fewer than two pictures are left out: \(episodes.skippedClasses.joined(separator: ", "))")
            }
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let log = try TrainingLog(url: file(LearnerTrainingFiles.log),
                                  keepingUpTo: snapshot.map { _ in (run.completedSteps, run.position.epoch) })
        let metadata = provenance.merging(["created_by": "cdfss \(CDFSS.version) train"]) { a, _ in a }

        func save() throws {
            try AtomicFile.write(LearnerTrainingFiles.snapshot(of: run, metadata: metadata).encoded(), to: snapshotURL)
            try LearnerTrainingFiles.checkpoint(of: run, backbone: backboneEntries, metadata: metadata)
                .write(to: file(LearnerTrainingFiles.last))
        }

        let settings = self.settings
        let progress = ProgressLine(total: settings.totalSteps, first: run.completedSteps)
        let started = Date()
        var epochStarted = Date()
        var epochLosses: [Float] = []
        var lastValidation: (miou: Double, fbiou: Double)?
        let firstStep = run.completedSteps
        while !run.isFinished {
            let episodes = logEpisodes ? run.nextEpisodes : nil
            let loss = try run.step()
            epochLosses.append(loss)
            let (epoch, position) = run.position
            try log.step(run.completedSteps, epoch: position == 0 ? epoch : epoch + 1, loss: loss, episodes: episodes?.map {
                ["class": run.training.dataset.classes[$0.classIndex].name, "query": $0.query.image, "support": $0.support.image]
            })
            let mean = epochLosses.reduce(0, +) / Float(epochLosses.count)
            progress.update(position: run.completedSteps, figures: String(format: "epoch %d  loss %.4f (epoch mean %.4f)",
                                                                         position == 0 ? epoch : epoch + 1, loss, mean))
            if position == 0 {
                // An epoch ended: validate, keep the best, save, log.
                var validation: (miou: Double, fbiou: Double)?
                var isBest = false
                if run.validation != nil {
                    progress.note("epoch \(epoch): validating on \(settings.validationEpisodes) episodes")
                    let score = try run.validate()
                    validation = (score.miou, score.fbiou)
                    isBest = run.record(validationMIoU: score.miou, epoch: epoch)
                    if isBest {
                        var bestMetadata = metadata
                        bestMetadata["training.val_miou"] = "\(score.miou)"
                        try LearnerTrainingFiles.checkpoint(of: run, backbone: backboneEntries, metadata: bestMetadata)
                            .write(to: file(LearnerTrainingFiles.best))
                    }
                    lastValidation = validation
                }
                try save()
                let seconds = Date().timeIntervalSince(epochStarted)
                try log.epoch(epoch, trainLoss: Double(mean), validation: validation, best: isBest, seconds: seconds)
                progress.note(String(format: "epoch %d: train loss %.4f", epoch, mean)
                    + (validation.map { String(format: ", validation mIoU %.2f, FB-IoU %.2f%@", $0.miou, $0.fbiou, isBest ? " (best)" : "") } ?? "")
                    + String(format: ", %.0f s", seconds))
                epochLosses = []
                epochStarted = Date()
            } else if let saveEvery, run.completedSteps % saveEvery == 0 {
                try save()
            }
        }
        progress.finish()
        let seconds = Date().timeIntervalSince(started)
        if json {
            var summary: [String: Any] = ["steps": run.completedSteps, "steps_this_run": run.completedSteps - firstStep,
                                          "seconds": seconds, "output": output]
            if let best = run.best { summary["best_val_miou"] = best.miou; summary["best_epoch"] = best.epoch }
            if let lastValidation { summary["last_val_miou"] = lastValidation.miou; summary["last_val_fbiou"] = lastValidation.fbiou }
            print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        print(String(format: "trained %d steps (%d this run) in %.1f s; wrote %@", run.completedSteps, run.completedSteps - firstStep,
                     seconds, output)
              + (run.best.map { String(format: " (best validation mIoU %.2f at epoch %d)", $0.miou, $0.epoch) } ?? ""))
        print(run.cacheStatistics)
    }

    /// The snapshot of the run to continue, which must have been made with these settings
    /// (only --epochs may grow) and this data and model.
    func resumedSnapshot(_ url: URL) throws -> LearnerTrainingSnapshot {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw InputError("--resume: \(url.path) does not exist; there is no run to continue in \(output)")
        }
        let snapshot = try LearnerTrainingSnapshot.read(url)
        var saved = snapshot.settings
        saved.epochs = epochs
        let done = snapshot.learner.isEmpty ? 0 : Int(snapshot.metadata["training.epoch"] ?? "") ?? 0
        guard done <= epochs else {
            throw InputError("--resume: the run has done \(done) epochs already, more than --epochs \(epochs)")
        }
        if saved != settings {
            let mirror = (Mirror(reflecting: saved).children, Mirror(reflecting: settings).children)
            let options = ["episodesPerEpoch": "--episodes-per-epoch", "batch": "--batch", "learningRate": "--lr",
                           "algorithm": "--optimizer", "imageSize": "--image-size", "seed": "--seed", "validationEpisodes": "--val-episodes"]
            for (a, b) in zip(mirror.0, mirror.1) where "\(a.value)" != "\(b.value)" {
                let option = options[a.label ?? ""] ?? a.label ?? "?"
                throw InputError("--resume: the run was made with \(option) \(a.value), this command asks for \(b.value)")
            }
        }
        for (key, value) in provenance.sorted(by: { $0.key < $1.key }) where snapshot.metadata[key] != value {
            throw InputError("--resume: the run was made with \(key.dropFirst("training.".count)) \(snapshot.metadata[key] ?? "unset"), this command gives \(value)")
        }
        for key in snapshot.metadata.keys.sorted() where key.hasPrefix("training.") && provenance[key] == nil
            && !["training.settings", "training.steps", "training.epoch", "training.best_miou", "training.best_epoch"].contains(key) {
            throw InputError("--resume: the run was made with \(key.dropFirst("training.".count)) \(snapshot.metadata[key]!), this command gives none")
        }
        return snapshot
    }

    func loadTrainingSet() throws -> TrainingSet {
        let root = URL(fileURLWithPath: datapath)
        if benchmark == "pascal" {
            return try TrainingSet.pascal(datapath: root, fold: try PascalFold(parsing: fold ?? ""), split: .training)
        }
        return try TrainingSet.folder(datapath: root, classes: classes.map(Self.names))
    }

    func loadValidationSet() throws -> TrainingSet? {
        guard let valBenchmark, let valDatapath else { return nil }
        let root = URL(fileURLWithPath: valDatapath)
        switch valBenchmark {
        case "pascal": return try TrainingSet.pascal(datapath: root, fold: try PascalFold(parsing: fold ?? ""), split: .validation)
        case "folder": return try TrainingSet.folder(datapath: root, classes: valClasses.map(Self.names))
        // FSS-1000's validation classes, as PATNet validates; the other benchmarks as they are tested.
        case "fss": return TrainingSet(try TargetDataset.load(.fss, datapath: root, fssSplit: .val))
        default: return TrainingSet(try TargetDataset.load(BenchmarkKind(rawValue: valBenchmark)!, datapath: root))
        }
    }

    static func names(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The model to train and, for --include-backbone, its backbone as the source holds it
    /// (unfolded BatchNorm, `backbone.*` names).
    func loadModel() throws -> (HSNet, [(name: String, tensor: Tensor)]?) {
        let (model, backbone) = try loadSourceModel()
        switch self.model {
        case nil: break
        case "hsnet"?:
            if model.prototypeTransformation != nil {
                throw InputError("--model hsnet: --checkpoint \(checkpoint ?? "") holds PATNet (reference_layer1..3); drop --model or give an HSNet checkpoint")
            }
        case "patnet"?:
            if model.prototypeTransformation == nil { model.prototypeTransformation = try .freshlyInitialized(seed: seed) }
        case let other?:
            throw InputError("--model \(other): expected hsnet or patnet")
        }
        return (model, backbone)
    }

    func loadSourceModel() throws -> (HSNet, [(name: String, tensor: Tensor)]?) {
        let wanted = Set(BackboneKind.allCases.flatMap { Backbone.parameterShapes(kind: $0).map(\.name) })
        func backboneEntries(_ stateDict: [(name: String, tensor: Tensor)], prefix: String) -> [(name: String, tensor: Tensor)] {
            stateDict.filter { $0.name.hasPrefix(prefix) && wanted.contains(String($0.name.dropFirst(prefix.count))) }
                .map { (name: "backbone." + $0.name.dropFirst(prefix.count), tensor: $0.tensor) }
        }
        if let checkpoint {
            let model = try ModelSource.load(checkpoint: checkpoint, backboneWeights: backboneWeights)
            // The source's backbone is read again only when the checkpoints are to carry it.
            guard includeBackbone else { return (model, nil) }
            let source = try backboneWeights.map { try HSNet.readStateDict(URL(fileURLWithPath: $0)) }
            let entries = try source.map { dict in backboneEntries(dict, prefix: dict.contains { $0.name.hasPrefix("backbone.") } ? "backbone." : "") }
                ?? (try BuiltinModel.named(checkpoint) != nil
                    ? HSNet.deterministicBackboneStateDict(depth: model.backbone.kind) : backboneEntries(try HSNet.readStateDict(URL(fileURLWithPath: checkpoint)), prefix: "backbone."))
            return (model, entries)
        }
        if let backboneWeights {
            let dict = try HSNet.readStateDict(URL(fileURLWithPath: backboneWeights))
            try SupportedModels.check(dict.map(\.name), source: backboneWeights)
            let prefix = dict.contains { $0.name.hasPrefix("backbone.") } ? "backbone." : ""
            let backbone = try Backbone(stateDict: dict, prefix: prefix, source: backboneWeights)
            let fresh = try HPNLearner.freshlyInitialized(seed: seed, backbone: backbone.kind)
            return (HSNet(backbone: backbone, learner: fresh), includeBackbone ? backboneEntries(dict, prefix: prefix) : nil)
        }
        let model = try BuiltinModel.named(backbone!)!.load()
        model.learner = try HPNLearner.freshlyInitialized(seed: seed, backbone: model.backbone.kind)
        return (model, includeBackbone ? HSNet.deterministicBackboneStateDict(depth: model.backbone.kind) : nil)
    }
}
