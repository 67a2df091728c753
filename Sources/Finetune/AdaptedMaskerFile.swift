import Datasets
import Evaluation
import Foundation
import FreqMask
import TensorCore

/// The masker a test-time domain adaptation trained (`cdfss test --adapt domain
/// --save-masker FILE`), kept as a masker file so that it can be used again with `--masker`
/// or in PyTorch. Its metadata holds the run with the keys fine-tuning writes (`training.*`:
/// settings, steps, variant, adaptation pictures, loss curve, skipped pairs) plus what the
/// caller adds (the benchmark, the checkpoint, the starting masker). There is no optimizer
/// state beside it: an adaptation is a finished run, not one to resume.
public enum AdaptedMaskerFile {
    /// The masker file's bytes, for the caller to publish with its other outputs.
    public static func encoded(_ run: MaskerFineTuning, metadata extra: [String: String]) throws -> Data {
        var metadata = extra.merging(run.settings.metadata) { _, new in new }
        metadata["training.steps"] = String(run.completedSteps)
        metadata["training.loss_curve"] = FineTunedMaskerFile.encodeLosses(run.lossCurve)
        metadata["training.adapt_images"] = try FineTunedMaskerFile.jsonText(run.episodes.images.map { [$0.imagePath, $0.maskPath] })
        metadata["training.skipped_pairs"] = try FineTunedMaskerFile.jsonText(run.skippedPairs.map(\.description))
        var state = try MaskerState(stateDict: run.model.maskerParameters(), metadata: metadata)
        state.metadata["training.variant"] = FineTunedMaskerFile.variant(of: state)
        return SafetensorsFile(tensors: state.stateDict, metadata: state.fullMetadata).encoded()
    }
}
