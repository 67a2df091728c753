import ArgumentParser
import Foundation
import Datasets
import Evaluation
import Finetune
import Report
import FreqMask
import HSNetCore
import TensorCore

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune the frequency maskers on a few labelled target-domain images; every other weight stays frozen.",
        discussion: """
            From K labelled images every ordered (support, query) pair is an episode, a pair of \
            an image with itself included, so one image is enough. Each step trains on --batch \
            pairs dealt from seeded shuffles of all pairs. Backbone features, and the correlations \
            of the layers without maskers, are computed once per image and pair (kept within \
            --cache-mb); a step runs the paths of the maskers' layers only (layer 4 by default).

            The starting masker is --masker-init, else the checkpoint's apm.*/acpa.*, else a \
            fresh one (--apm, --acpa) on each tap group of --slots (default layer4, as the \
            paper; e.g. --slots layer3,layer4: one APM and one ACPA per layer). Maskers are \
            trained wherever they sit. The output is a masker file with the reference's tensor \
            names and the run in its metadata. Beside it goes the run's snapshot \
            (NAME.resume.safetensors: the masker and the optimizer state in one file, replaced \
            whole at each save), from which --resume continues exactly where the last save \
            stopped, whenever the run was killed.
            """)

    @Option(help: ArgumentHelp(ModelSource.help))
    var checkpoint: String

    @Option(help: "ResNet-50 state dict for the backbone, when the checkpoint has none.")
    var backboneWeights: String?

    @Option(name: .customLong("adapt-image"), help: "Labelled target-domain picture; repeat for several.")
    var adaptImages: [String] = []

    @Option(name: .customLong("adapt-mask"), help: "Mask of the --adapt-image at the same position (>= 128 is foreground).")
    var adaptMasks: [String] = []

    @Option(help: "Text file with one image<TAB>mask per line, paths relative to the file (instead of --adapt-image/--adapt-mask).")
    var adaptList: String?

    @Option(help: "Masker file to start from (wins over the checkpoint's maskers).")
    var maskerInit: String?

    @Option(help: "Fresh amplitude-phase masker when neither --masker-init nor the checkpoint gives one: m, s or none. (default: m)")
    var apm: APMChoice?

    @Flag(inversion: .prefixedNo, help: "Fresh masker with (or without) adaptive channel phase attention. (default: with)")
    var acpa: Bool?

    @Option(help: ArgumentHelp(MaskerSlots.help + " A masker from --masker-init, the checkpoint or --resume is trained on the layers it holds; --slots, if given, must name them."))
    var slots: String?

    @Option(parsing: .unconditional, help: "Optimizer steps in total (a resumed run counts the steps already taken; the same default as test --adapt).")
    var steps = FineTuneSettings.defaultSteps

    @Option(parsing: .unconditional, help: "Learning rate (> 0).")
    var lr = 1e-3

    @Option(help: "adam or sgd.")
    var optimizer: FineTuneSettings.Algorithm = .adam

    @Option(parsing: .unconditional, help: "SGD momentum.")
    var momentum = 0.0

    @Option(parsing: .unconditional, help: "L2 weight decay (added to the gradient, as torch.optim).")
    var weightDecay = 0.0

    @Option(help: "Learning-rate schedule: constant or cosine (annealed to 0 over --steps).")
    var schedule = "constant"

    @Option(parsing: .unconditional, help: "Pairs per step (the loss is their mean; at most \(FineTuneSettings.maximumBatch)).")
    var batch = 1

    @Option(parsing: .unconditional, help: "Seed of the pair shuffles and of a fresh masker's ACPA weights.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "Side of the square network input (16 to \(HSNet.maximumImageSize)).")
    var imageSize = 400

    @Option(parsing: .unconditional, help: "Memory for cached features, in MiB (less only recomputes more; at most \(CacheBudget.maximumMebibytes)).")
    var cacheMb = 4096

    @Option(help: "Where to write the fine-tuned masker (.safetensors).")
    var output: String

    @Option(parsing: .unconditional, help: "Also save the masker and the snapshot every N steps during the run.")
    var saveEvery: Int?

    @Flag(help: "Continue the run saved beside --output (same settings and images): the result is the uninterrupted run's, byte for byte.")
    var resume = false

    @Option(help: "Also write a self-contained HTML report here: the run's settings, the loss with its running mean, the masker's frequency factors and their change from the start.")
    var html: String?

    @Flag(help: "Print a JSON summary of the run on stdout instead of the text line.")
    var json = false

    func validate() throws {
        if let adaptList {
            guard adaptImages.isEmpty && adaptMasks.isEmpty else {
                throw ValidationError("--adapt-list \(adaptList) and --adapt-image/--adapt-mask exclude each other")
            }
        } else {
            guard !adaptImages.isEmpty else { throw ValidationError("give --adapt-image IMG --adapt-mask MASK (repeatable) or --adapt-list FILE") }
            guard adaptImages.count == adaptMasks.count else {
                throw ValidationError("\(adaptImages.count) --adapt-image pictures but \(adaptMasks.count) --adapt-mask files: give one mask per picture")
            }
        }
        if let saveEvery, saveEvery < 1 { throw ValidationError("--save-every \(saveEvery): expected at least 1") }
        _ = try CacheBudget.bytes(mebibytes: cacheMb)
        try HSNet.checkImageSize(imageSize)
        _ = try settings.learningRateSchedule()
        if let slots { _ = try HSNet.maskerLayers(slots) }
        _ = try BuiltinModel.named(checkpoint)
        try OutputFormat.safetensors.check(output, option: "--output")
        if let html { try OutputFormat.html.check(html, option: "--html") }
    }

    var settings: FineTuneSettings {
        FineTuneSettings(steps: steps, learningRate: lr, algorithm: optimizer, momentum: momentum, weightDecay: weightDecay,
                         schedule: schedule, batch: batch, seed: seed, imageSize: imageSize)
    }

    func run() throws {
        let settings = self.settings
        _ = try settings.learningRateSchedule()
        _ = try settings.makeOptimizer()
        let outputURL = URL(fileURLWithPath: output)
        let entries = try adaptList.map { try AdaptationList.read(URL(fileURLWithPath: $0)) }
            ?? zip(adaptImages, adaptMasks).map { (image: $0, mask: $1) }

        // Everything that can fail on bad input happens before anything is written.
        try checkOutputs(entries: entries)
        let saved = resume ? try savedRun(at: outputURL, entries: entries, settings: settings) : nil
        let images = try entries.map { try AdaptationImage.load(image: $0.image, mask: $0.mask, size: imageSize) }
        let model = try ModelSource.load(checkpoint: checkpoint, backboneWeights: backboneWeights)
        try model.checkImageSize(imageSize)
        let start = try installStartingMasker(on: model, saved: saved)
        // What this invocation starts from, for the report's before and after.
        let startState = html == nil ? nil : try MaskerState(stateDict: model.maskerParameters())
        let run = try MaskerFineTuning(model: model, images: images, settings: settings, cacheBytes: try CacheBudget.bytes(mebibytes: cacheMb),
                                       resuming: saved.map { ($0.optimizer, $0.lossCurve) })
        for image in images where image.hasEmptyMask {
            warn("\(image.maskPath) is empty at \(imageSize) x \(imageSize): its \(images.count) pairs as support are skipped")
        }
        var metadata = ["created_by": "cdfss \(CDFSS.version) finetune", "training.checkpoint": checkpoint,
                        "training.start": start]
        if let backboneWeights { metadata["training.backbone_weights"] = backboneWeights }
        if run.completedSteps >= steps {
            // A kill between the snapshot's rename and the masker file's leaves the latter behind.
            let restored = try saved.map { try FineTunedMaskerFile.restoreMaskerFile(from: $0, to: outputURL) } ?? false
            if let html { try page(run, startName: start, before: nil, entries: entries).write(to: URL(fileURLWithPath: html)) }
            if json {
                print(try summaryJSON(run, taken: 0, seconds: 0))
            } else {
                print("\(output) already holds \(run.completedSteps) steps (--steps \(steps)): nothing to do"
                    + (restored ? " (masker file written again from the snapshot, a kill had left it a save behind)" : ""))
            }
            return
        }

        let progress = ProgressLine(total: steps, first: run.completedSteps)
        let started = Date()
        let firstStep = run.completedSteps
        while run.completedSteps < steps {
            let loss: Float
            do {
                loss = try run.step()
            } catch let failure as NonFiniteLoss {
                progress.finish()
                metadata["training.stopped"] = failure.message
                try FineTunedMaskerFile.write(run, to: outputURL, metadata: metadata)
                throw InputError(failure.message + " (written to \(output))")
            }
            _ = loss
            progress.update(step: run.completedSteps, meanLoss: run.runningMeanLoss, window: run.stepsPerPass)
            if let saveEvery, run.completedSteps % saveEvery == 0, run.completedSteps < steps {
                try FineTunedMaskerFile.write(run, to: outputURL, metadata: metadata)
            }
        }
        progress.finish()
        // The page is made before the masker is written, so that nothing can fail between the two.
        let report = try html.map { _ in
            try page(run, startName: start,
                     before: startState.map { ($0, saved == nil ? "start (\(start))" : "masker saved at step \(saved!.completedSteps), where this run resumed") },
                     entries: entries)
        }
        try FineTunedMaskerFile.write(run, to: outputURL, metadata: metadata)
        if let html, let report { try report.write(to: URL(fileURLWithPath: html)) }

        let seconds = Date().timeIntervalSince(started)
        let taken = run.completedSteps - firstStep
        if json {
            print(try summaryJSON(run, taken: taken, seconds: seconds))
            return
        }
        print(LossSummary.text(run) + String(format: " over %d steps (%d this run, %.1f s, %.2f steps/s); wrote %@",
                                             run.completedSteps, taken, seconds, Double(taken) / max(seconds, 1e-9), output)
              + (html.map { " and \($0)" } ?? ""))
        if !run.skippedPairs.isEmpty {
            print("skipped \(run.skippedPairs.count) of \(run.skippedPairs.count + run.pairs.count) pairs whose support mask is empty")
        }
    }

    /// The report page of the run as it stands. `startName`: where the run's masker came from;
    /// `before`: the masker this invocation started from and what to call it, drawn beside the result.
    func page(_ run: MaskerFineTuning, startName: String, before: (MaskerState, String)?,
              entries: [(image: String, mask: String)]) throws -> HTMLReport {
        var configuration: [(key: String, value: String)] = [("checkpoint", checkpoint)]
        if let backboneWeights { configuration.append(("backbone weights", backboneWeights)) }
        configuration.append(("started from", startName))
        for (index, entry) in entries.enumerated() {
            configuration.append(("adaptation picture \(index)", "\(entry.image) (mask \(entry.mask))"))
        }
        configuration += [
            ("pairs", "\(run.pairs.count) (support, query) pairs, every ordered pair of the pictures, a picture with itself included"
                + (run.skippedPairs.isEmpty ? "" : "; \(run.skippedPairs.count) skipped (empty support mask)")),
            ("steps", "\(run.completedSteps) of \(steps)"),
            ("optimizer", optimizer == .sgd ? "sgd, momentum \(momentum)" : "adam (betas 0.9, 0.999, eps 1e-8)"),
            ("learning rate", "\(lr), \(schedule) schedule"),
            ("weight decay", "\(weightDecay)"),
            ("batch", "\(batch) pair\(batch == 1 ? "" : "s") per step"),
            ("seed", "\(seed)"),
            ("image size", "\(imageSize) x \(imageSize)"),
            ("output", "\(output) (snapshot \(FineTunedMaskerFile.snapshotURL(for: URL(fileURLWithPath: output)).path))"),
        ]
        let masker = try MaskerState(stateDict: run.model.maskerParameters())
        return try FineTuningPage(configuration: configuration, losses: run.lossCurve, stepsPerPass: run.stepsPerPass,
                                  pairs: run.pairs.count, skippedPairs: run.skippedPairs.count, batch: batch, masker: masker,
                                  start: before.map { (state: $0.0, name: $0.1) })
            .page(generator: "cdfss \(CDFSS.version) finetune")
    }

    /// The masker file and its snapshot may replace no input, and their folder must take them;
    /// --resume reads the snapshot it then replaces, which is the point of it.
    func checkOutputs(entries: [(image: String, mask: String)]) throws {
        var check = OutputCheck()
        check.output("--output", output)
        check.output("--output's snapshot", FineTunedMaskerFile.snapshotURL(for: URL(fileURLWithPath: output)).path)
        check.output("--html", html)
        check.model(checkpoint: checkpoint, backboneWeights: backboneWeights)
        check.input("--masker-init", maskerInit)
        check.input("--adapt-list", adaptList)
        check.inputs("--adapt-image", entries.map(\.image))
        check.inputs("--adapt-mask", entries.map(\.mask))
        try check.prepare()
    }

    /// The run as one line of JSON (snake_case keys, schema in the README).
    func summaryJSON(_ run: MaskerFineTuning, taken: Int, seconds: Double) throws -> String {
        let curve = run.lossCurve
        let summary: [String: Any] = [
            "output": output, "snapshot": FineTunedMaskerFile.snapshotURL(for: URL(fileURLWithPath: output)).path,
            "steps": run.completedSteps, "steps_this_run": taken, "seconds": seconds,
            "steps_per_second": Double(taken) / max(seconds, 1e-9),
            "first_loss": curve.first.map { Double($0) as Any } ?? NSNull(), "last_loss": curve.last.map { Double($0) as Any } ?? NSNull(),
            "pairs": run.pairs.count, "skipped_pairs": run.skippedPairs.count,
        ]
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// The saved run to continue, after checking it was made from the same images and settings.
    func savedRun(at url: URL, entries: [(image: String, mask: String)], settings: FineTuneSettings) throws
        -> FineTunedMaskerFile.SavedRun {
        let snapshot = FineTunedMaskerFile.snapshotURL(for: url)
        guard FileManager.default.fileExists(atPath: snapshot.path) else {
            throw InputError("--resume: nothing saved for \(url.path) (\(snapshot.path) does not exist; run without --resume to start)")
        }
        guard maskerInit == nil, apm == nil, acpa == nil else {
            throw InputError("--resume starts from \(url.path); --masker-init, --apm and --acpa do not apply")
        }
        let saved = try FineTunedMaskerFile.read(url)
        if let conflict = settings.resumeConflict(with: saved.settings) {
            throw InputError("--resume: \(url.path) cannot be continued: \(conflict)")
        }
        let given = entries.map { [$0.image, $0.mask] }
        guard given == saved.adaptImages else {
            throw InputError("--resume: \(url.path) was trained on \(saved.adaptImages.map { $0.joined(separator: " + ") }.joined(separator: ", ")); this run gives \(given.map { $0.joined(separator: " + ") }.joined(separator: ", "))")
        }
        return saved
    }

    /// Installs the starting maskers and says where they came from.
    func installStartingMasker(on model: HSNet, saved: FineTunedMaskerFile.SavedRun?) throws -> String {
        func install(_ state: MaskerState, from source: String) throws {
            try MaskerSlots.check(slots, against: state, source: source)
            do {
                try model.installFrequencyMaskers(state, imageSize: imageSize)
            } catch let error as InputError {
                throw InputError("\(source): \(error.message)")
            }
        }
        if let saved {
            try install(saved.masker, from: output)
            return saved.masker.metadata["training.start"] ?? "resumed"
        }
        let freshOptionsGiven = apm != nil || acpa != nil
        if let maskerInit {
            guard !freshOptionsGiven else { throw InputError("--apm/--acpa describe a fresh masker; --masker-init \(maskerInit) gives the starting masker") }
            try install(MaskerState.read(URL(fileURLWithPath: maskerInit)), from: maskerInit)
            return "masker-init \(maskerInit)"
        }
        let fromCheckpoint: MaskerState?
        do {
            fromCheckpoint = try model.installCheckpointMaskers(imageSize: imageSize)
        } catch let error as InputError {
            throw InputError("\(checkpoint): \(error.message)")
        }
        if let fromCheckpoint {
            try MaskerSlots.check(slots, against: fromCheckpoint, source: checkpoint)
            guard !freshOptionsGiven else { throw InputError("--apm/--acpa describe a fresh masker, but \(checkpoint) has its own (apm.*/acpa.*), which fine-tuning starts from") }
            return "checkpoint"
        }
        let variant = apm ?? .m
        let withAttention = acpa ?? true
        guard variant != .none || withAttention else { throw InputError("nothing to fine-tune: --apm none with --no-acpa") }
        let layers = try MaskerSlots.layers(slots)
        let fresh = try model.freshFrequencyMaskers(layers: layers, amplitudePhase: variant == .none ? nil : variant == .m ? .perChannel : .shared,
                                                    channelAttention: withAttention, imageSize: imageSize, seed: seed)
        try model.installFrequencyMaskers(fresh, imageSize: imageSize)
        return "fresh apm-\(variant.rawValue)\(withAttention ? "+acpa" : "")" + (layers == [4] ? "" : " at " + MaskerSlots.names(layers)) + " (seed \(seed))"
    }
}

func warn(_ message: String) {
    FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
}
