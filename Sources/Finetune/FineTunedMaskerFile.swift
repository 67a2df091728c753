import Datasets
import Evaluation
import Foundation
import FreqMask
import HSNetCore
import TensorCore

/// What fine-tuning writes: the masker file (the reference's tensor names, so PyTorch loads it
/// as it loads any masker state) with the run in its metadata, and beside it the run's
/// snapshot (`<name>.resume.safetensors`), which `--resume` continues from.
///
/// The snapshot is one file holding the masker, the optimiser's state and the masker file's
/// metadata, so it is consistent by construction: a kill at any moment leaves either the old
/// snapshot or the new one, never a masker of one step with an optimiser of another. It is
/// written first and the masker file second; a kill between the two leaves the masker file a
/// save behind, and the resumed run (or `restoreMaskerFile`) writes it again.
///
/// Masker metadata (`training.*`, all strings): the settings (`FineTuneSettings.metadata`),
/// `steps` completed, `variant` (e.g. `apm-m+acpa`, `apm-m+acpa@layer3,layer4`), `adapt_images` (JSON list of
/// [image, mask] paths), `loss_curve` (JSON list, one loss per step, each in the shortest form
/// that reads back as the same float32), `skipped_pairs` (JSON list of `support>query` image
/// indices whose support mask is empty) and whatever the caller adds (checkpoint, starting
/// point).
///
/// Snapshot layout: tensors `masker.<key>` and `optimizer.<buffer>.<parameter>`; metadata
/// `masker.<key>` (the masker file's metadata), `optimizer.*` (`OptimizerState.metadata`),
/// `format` = `cdfss-finetune-snapshot`, `format_version`.
public enum FineTunedMaskerFile {
    static let snapshotFormat = "cdfss-finetune-snapshot"
    static let snapshotVersion = "1"
    static let maskerPrefix = "masker."
    static let optimizerPrefix = "optimizer."

    /// The snapshot beside a masker file: `a.safetensors` -> `a.resume.safetensors`.
    public static func snapshotURL(for masker: URL) -> URL {
        let base = masker.pathExtension == "safetensors" ? masker.deletingPathExtension() : masker
        return base.appendingPathExtension("resume.safetensors")
    }

    /// Writes the run's snapshot, then its masker file, each atomically.
    public static func write(_ run: MaskerFineTuning, to url: URL, metadata extra: [String: String] = [:]) throws {
        let masker = try maskerState(of: run, metadata: extra)
        try AtomicFile.write(snapshot(masker: masker, optimizer: run.optimizer.state).encoded(), to: snapshotURL(for: url))
        try masker.write(to: url)
    }

    /// The masker file's content for the run as it stands.
    static func maskerState(of run: MaskerFineTuning, metadata extra: [String: String]) throws -> MaskerState {
        var metadata = extra.merging(run.settings.metadata) { _, new in new }
        metadata["training.steps"] = String(run.completedSteps)
        metadata["training.loss_curve"] = encodeLosses(run.lossCurve)
        metadata["training.adapt_images"] = try jsonText(run.episodes.images.map { [$0.imagePath, $0.maskPath] })
        metadata["training.skipped_pairs"] = try jsonText(run.skippedPairs.map(\.description))
        var state = try MaskerState(stateDict: run.model.maskerParameters(), metadata: metadata)
        state.metadata["training.variant"] = variant(of: state)
        return state
    }

    /// `apm-m+acpa` (`apm-none+acpa` without APM) for maskers on layer 4 alone; with other
    /// layers, the layers behind it (`apm-m+acpa@layer3,layer4`), or each layer's own when they
    /// differ (`layer3:apm-s;layer4:apm-m+acpa`).
    static func variant(of state: MaskerState) -> String {
        func name(_ parts: MaskerState.LayerMaskers) -> String {
            (parts.amplitudePhase.map { "apm-\($0.variant.rawValue)" } ?? "apm-none") + (parts.channelAttention == nil ? "" : "+acpa")
        }
        let names = state.layerNumbers.map { name(state[layer: $0]) }
        guard let first = names.first else { return "apm-none" }
        if state.layerNumbers == [4] { return first }
        if Set(names).count == 1 { return first + "@" + state.layerNumbers.map { "layer\($0)" }.joined(separator: ",") }
        return zip(state.layerNumbers, names).map { "layer\($0):\($1)" }.joined(separator: ";")
    }

    static func snapshot(masker: MaskerState, optimizer: OptimizerState) -> SafetensorsFile {
        var tensors: [String: Tensor] = [:]
        for (name, value) in masker.stateDict { tensors[maskerPrefix + name] = value }
        for (name, value) in optimizer.tensors { tensors[optimizerPrefix + name] = value }
        var metadata = optimizer.metadata
        for (key, value) in masker.fullMetadata { metadata[maskerPrefix + key] = value }
        metadata["format"] = snapshotFormat
        metadata["format_version"] = snapshotVersion
        return SafetensorsFile(tensors: tensors, metadata: metadata)
    }

    /// A saved run, read back for `--resume`.
    public struct SavedRun {
        /// The masker with the masker file's metadata.
        public let masker: MaskerState
        public let settings: FineTuneSettings
        public let optimizer: OptimizerState
        public let lossCurve: [Float]
        public let adaptImages: [[String]]
        public var completedSteps: Int { optimizer.stepCount }
    }

    /// Reads the snapshot beside the masker file `url`.
    public static func read(_ url: URL) throws -> SavedRun {
        let snapshotURL = snapshotURL(for: url)
        guard FileManager.default.fileExists(atPath: snapshotURL.path) else {
            throw InputError("\(snapshotURL.path) does not exist: resuming needs the snapshot fine-tuning writes beside \(url.lastPathComponent)")
        }
        let file = try SafetensorsFile.read(snapshotURL)
        let source = snapshotURL.path
        guard file.metadata["format"] == snapshotFormat else {
            throw InputError("\(source): not a fine-tuning snapshot (metadata format is \(file.metadata["format"].map { "\"\($0)\"" } ?? "missing"), expected \(snapshotFormat))")
        }
        guard file.metadata["format_version"] == snapshotVersion else {
            throw InputError("\(source): snapshot format_version \(file.metadata["format_version"] ?? "missing") is not \(snapshotVersion)")
        }
        func part(_ prefix: String) -> [String: Tensor] {
            Dictionary(uniqueKeysWithValues: file.tensors.filter { $0.key.hasPrefix(prefix) }.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
        }
        if let stray = file.tensors.keys.sorted().first(where: { !$0.hasPrefix(maskerPrefix) && !$0.hasPrefix(optimizerPrefix) }) {
            throw InputError("\(source): tensor \(stray) is neither masker.* nor optimizer.*")
        }
        let maskerMetadata = Dictionary(uniqueKeysWithValues: file.metadata.filter { $0.key.hasPrefix(maskerPrefix) }
            .map { (String($0.key.dropFirst(maskerPrefix.count)), $0.value) })
        let masker: MaskerState
        let optimizer: OptimizerState
        do {
            masker = try MaskerState(stateDict: part(maskerPrefix), metadata: maskerMetadata)
            optimizer = try OptimizerState(metadata: file.metadata, tensors: part(optimizerPrefix))
        } catch let error as InputError {
            throw InputError("\(source): \(error.message)")
        }
        let settings = try FineTuneSettings(metadata: masker.metadata, source: source)
        guard let steps = masker.metadata["training.steps"], Int(steps) == optimizer.stepCount else {
            throw InputError("\(source): the masker records \(masker.metadata["training.steps"] ?? "no") steps but the optimizer state \(optimizer.stepCount)")
        }
        guard let curveText = masker.metadata["training.loss_curve"], let curve = decodeLosses(curveText) else {
            throw InputError("\(source): metadata masker.training.loss_curve is missing or not a list of numbers")
        }
        guard let imagesText = masker.metadata["training.adapt_images"],
              let images = try? JSONSerialization.jsonObject(with: Data(imagesText.utf8)) as? [[String]] else {
            throw InputError("\(source): metadata masker.training.adapt_images is missing or not a list of [image, mask] paths")
        }
        return SavedRun(masker: masker, settings: settings, optimizer: optimizer, lossCurve: curve, adaptImages: images)
    }

    /// Writes the snapshot's masker to `url` when the masker file there is missing or from
    /// another step (a kill between the snapshot's rename and the masker file's). Returns
    /// whether it wrote.
    @discardableResult
    public static func restoreMaskerFile(from saved: SavedRun, to url: URL) throws -> Bool {
        let expected = try saved.masker.encoded(as: url)
        if let present = try? Data(contentsOf: url), present == expected { return false }
        try AtomicFile.write(expected, to: url)
        return true
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
