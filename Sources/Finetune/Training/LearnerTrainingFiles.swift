import Foundation
import HSNetCore
import TensorCore

/// What a training run writes in its output folder:
///
/// - `last.safetensors`, `best.safetensors`: HSNet checkpoints with the reference's key names
///   (`hpn_learner.*`, and `backbone.*` when the backbone is included), which every command
///   and PyTorch's `load_state_dict(strict=False)` read. Metadata `training.*`: the settings
///   (JSON), `epoch`, `steps`, and for `best` its validation mIoU.
/// - `optimizer.safetensors`: the run's snapshot, everything `--resume` needs in one file
///   (the learner, the optimiser's buffers `optimizer.<buffer>.<parameter>`, its scalars, the
///   settings, the best result so far), written atomically before `last.safetensors`. A kill
///   at any moment leaves the old snapshot or the new one, never a learner of one step with
///   an optimiser of another.
/// - `log.jsonl`: one line per step and per epoch (`TrainingLog`).
public enum LearnerTrainingFiles {
    public static let last = "last.safetensors"
    public static let best = "best.safetensors"
    public static let snapshot = "optimizer.safetensors"
    public static let log = "log.jsonl"
    static let format = "cdfss-train-snapshot"
    static let optimizerPrefix = "optimizer."

    /// The checkpoint file of the run's current learner; `backbone` (the original, unfolded
    /// backbone state dict, named `backbone.*`) is stored too when given.
    public static func checkpoint(of run: LearnerTraining, backbone: [(name: String, tensor: Tensor)]?,
                                  metadata extra: [String: String] = [:]) -> SafetensorsFile {
        var tensors = run.learnerParameters
        for entry in backbone ?? [] { tensors[entry.name] = entry.tensor }
        var metadata = extra
        metadata["training.settings"] = run.settings.json
        metadata["training.steps"] = String(run.completedSteps)
        metadata["training.epoch"] = String(run.completedSteps / run.settings.stepsPerEpoch)
        return SafetensorsFile(tensors: tensors, metadata: metadata)
    }

    /// The snapshot `--resume` continues from.
    public static func snapshot(of run: LearnerTraining, metadata extra: [String: String]) -> SafetensorsFile {
        var file = checkpoint(of: run, backbone: nil, metadata: extra)
        let state = run.optimizer.state
        for (name, tensor) in state.tensors { file.tensors[optimizerPrefix + name] = tensor }
        for (key, value) in state.metadata { file.metadata[key] = value }
        file.metadata["format"] = format
        if let best = run.best {
            file.metadata["training.best_miou"] = "\(best.miou)"
            file.metadata["training.best_epoch"] = String(best.epoch)
        }
        return file
    }
}

/// A run's state as its snapshot holds it.
public struct LearnerTrainingSnapshot {
    public let settings: LearnerTrainingSettings
    public let learner: [(name: String, tensor: Tensor)]
    public let optimizerState: OptimizerState
    public let best: (miou: Double, epoch: Int)?
    /// The snapshot's other metadata (what the command recorded: checkpoint, datasets).
    public let metadata: [String: String]

    public static func read(_ url: URL) throws -> LearnerTrainingSnapshot {
        let file = try SafetensorsFile.read(url)
        guard file.metadata["format"] == LearnerTrainingFiles.format else {
            throw InputError("\(url.path): not a cdfss training snapshot (no format \(LearnerTrainingFiles.format) in its metadata)")
        }
        guard let settingsText = file.metadata["training.settings"] else {
            throw InputError("\(url.path): the snapshot has no training.settings")
        }
        let settings: LearnerTrainingSettings
        do { settings = try LearnerTrainingSettings(json: settingsText) } catch let error as InputError {
            throw InputError("\(url.path): \(error.message)")
        }
        let prefix = LearnerTrainingFiles.optimizerPrefix
        let buffers = file.tensors.filter { $0.key.hasPrefix(prefix) }
        let state: OptimizerState
        do {
            state = try OptimizerState(metadata: file.metadata, tensors: Dictionary(uniqueKeysWithValues: buffers.map {
                (String($0.key.dropFirst(prefix.count)), $0.value)
            }))
        } catch let error as InputError {
            throw InputError("\(url.path): \(error.message)")
        }
        var best: (Double, Int)?
        if let miou = file.metadata["training.best_miou"].flatMap(Double.init),
           let epoch = file.metadata["training.best_epoch"].flatMap(Int.init) {
            best = (miou, epoch)
        }
        let learner = file.tensors.filter { $0.key.hasPrefix(HSNet.learnerPrefix) || $0.key.hasPrefix("reference_layer") }
            .sorted { $0.key < $1.key }
            .map { (name: $0.key, tensor: $0.value) }
        return LearnerTrainingSnapshot(settings: settings, learner: learner, optimizerState: state, best: best,
                                       metadata: file.metadata)
    }

    func optimizer() throws -> any Optimizer {
        try settings.restoreOptimizer(optimizerState)
    }
}
