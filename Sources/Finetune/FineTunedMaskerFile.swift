import Foundation
import FreqMask
import HSNetCore
import TensorCore

/// What fine-tuning writes: the masker file (the reference's tensor names, so PyTorch loads it
/// as it loads any masker state) with the run in its metadata, and beside it the optimiser's
/// state (`<name>.optimizer.safetensors`), which `--resume` needs to continue exactly.
///
/// Masker metadata (`training.*`, all strings): the settings (`FineTuneSettings.metadata`),
/// `steps` completed, `variant` (e.g. `apm-m+acpa`), `adapt_images` (JSON list of
/// [image, mask] paths), `loss_curve` (JSON list, one loss per step), `skipped_pairs` (JSON
/// list of `support>query` image indices whose support mask is empty) and whatever the
/// caller adds (checkpoint, starting point).
public enum FineTunedMaskerFile {
    /// The optimiser-state file beside a masker file: `a.safetensors` -> `a.optimizer.safetensors`.
    public static func optimizerURL(for masker: URL) -> URL {
        let base = masker.pathExtension == "safetensors" ? masker.deletingPathExtension() : masker
        return base.appendingPathExtension("optimizer.safetensors")
    }

    /// Writes the run's current maskers and optimiser state, each file atomically, the
    /// optimiser's first (a masker file never names a step its optimiser file lacks).
    public static func write(_ run: MaskerFineTuning, to url: URL, metadata extra: [String: String] = [:]) throws {
        let optimizerState = run.optimizer.state
        var optimizerMetadata = optimizerState.metadata
        optimizerMetadata["format"] = "cdfss-optimizer"
        optimizerMetadata["training.steps"] = String(run.completedSteps)
        try SafetensorsFile(tensors: optimizerState.tensors, metadata: optimizerMetadata).write(to: optimizerURL(for: url))

        var metadata = extra.merging(run.settings.metadata) { _, new in new }
        metadata["training.steps"] = String(run.completedSteps)
        metadata["training.loss_curve"] = encodeLosses(run.lossCurve)
        metadata["training.adapt_images"] = try jsonText(run.episodes.images.map { [$0.imagePath, $0.maskPath] })
        metadata["training.skipped_pairs"] = try jsonText(run.skippedPairs.map(\.description))
        var state = try MaskerState(stateDict: run.model.maskerParameters(), metadata: metadata)
        var variant = state.amplitudePhase.map { "apm-\($0.variant.rawValue)" } ?? "apm-none"
        if state.channelAttention != nil { variant += "+acpa" }
        state.metadata["training.variant"] = variant
        try state.write(to: url)
    }

    /// A saved run, read back for `--resume`.
    public struct SavedRun {
        public let masker: MaskerState
        public let settings: FineTuneSettings
        public let optimizer: OptimizerState
        public let lossCurve: [Float]
        public let adaptImages: [[String]]
    }

    public static func read(_ url: URL) throws -> SavedRun {
        let masker = try MaskerState.read(url)
        let settings = try FineTuneSettings(metadata: masker.metadata, source: url.path)
        let optimizerURL = optimizerURL(for: url)
        guard FileManager.default.fileExists(atPath: optimizerURL.path) else {
            throw InputError("\(optimizerURL.path) does not exist: resuming needs the optimizer state written beside \(url.lastPathComponent)")
        }
        let optimizerFile = try SafetensorsFile.read(optimizerURL)
        let optimizer: OptimizerState
        do {
            optimizer = try OptimizerState(metadata: optimizerFile.metadata, tensors: optimizerFile.tensors)
        } catch let error as InputError {
            throw InputError("\(optimizerURL.path): \(error.message)")
        }
        let steps = masker.metadata["training.steps"]
        guard let steps, Int(steps) == optimizer.stepCount, optimizerFile.metadata["training.steps"] == steps else {
            throw InputError("\(url.path) records \(steps ?? "no") steps but \(optimizerURL.lastPathComponent) holds \(optimizer.stepCount): the two files are from different runs")
        }
        guard let curveText = masker.metadata["training.loss_curve"], let curve = decodeLosses(curveText) else {
            throw InputError("\(url.path): metadata training.loss_curve is missing or not a list of numbers")
        }
        guard let imagesText = masker.metadata["training.adapt_images"],
              let images = try? JSONSerialization.jsonObject(with: Data(imagesText.utf8)) as? [[String]] else {
            throw InputError("\(url.path): metadata training.adapt_images is missing or not a list of [image, mask] paths")
        }
        return SavedRun(masker: masker, settings: settings, optimizer: optimizer, lossCurve: curve, adaptImages: images)
    }

    /// Losses as a JSON list in Swift's shortest round-trip float32 form (so they read back exactly).
    static func encodeLosses(_ losses: [Float]) -> String {
        "[" + losses.map { "\($0)" }.joined(separator: ", ") + "]"
    }

    static func decodeLosses(_ text: String) -> [Float]? {
        let body = text.trimmingCharacters(in: .whitespaces)
        guard body.hasPrefix("["), body.hasSuffix("]") else { return nil }
        let inner = body.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
        if inner.isEmpty { return [] }
        var losses: [Float] = []
        for field in inner.split(separator: ",") {
            guard let value = Float(field.trimmingCharacters(in: .whitespaces)), value.isFinite else { return nil }
            losses.append(value)
        }
        return losses
    }

    static func jsonText(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.withoutEscapingSlashes]), as: UTF8.self)
    }
}
