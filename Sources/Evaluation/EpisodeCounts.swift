import Datasets
import Imaging
import TensorCore

/// What one episode contributes to the score: the intersection and the union of the predicted
/// and the ground-truth regions, for the background (0) and the foreground (1) class.
///
/// This is the reference evaluator's `classify_prediction` (HSNet / PATNet
/// `common/evaluation.py`) for one query: there the intersection is the 2-bin histogram of
/// the pixels where prediction and ground truth agree and the union is
/// `histogram(prediction) + histogram(truth) - intersection`. On 0/1 masks that is
///
///     intersection = [#(p = 0 and t = 0), #(p = 1 and t = 1)]
///     union        = [#(p = 0 or  t = 0), #(p = 1 or  t = 1)]
///
/// so for every episode `intersection.background + union.foreground` and
/// `intersection.foreground + union.background` both equal the pixel count.
public struct EpisodeCounts: Equatable, Hashable, Codable, Sendable {
    public var intersection: PixelCounts
    public var union: PixelCounts

    public init(intersection: PixelCounts, union: PixelCounts) {
        self.intersection = intersection
        self.union = union
    }

    /// Counts a predicted mask against the ground truth, both row-major planes of 0 and 1 of
    /// the same length. Any other value is an error: it means a mask was not binarised.
    public init(predicted: [Float], truth: [Float]) throws {
        guard predicted.count == truth.count else {
            throw InputError("predicted mask has \(predicted.count) pixels but the ground-truth mask has \(truth.count)")
        }
        self = try predicted.withUnsafeBufferPointer { p in
            try truth.withUnsafeBufferPointer { t in try Self.count(p, t) }
        }
    }

    /// Counts mask tensors of the same shape, ignoring dimensions of size 1 (so a [1, H, W]
    /// ground truth from `maskTensor` matches a [H, W] prediction from `ShotVote.mask`).
    public init(predicted: Tensor, truth: Tensor) throws {
        let squeeze = { (shape: [Int]) in shape.filter { $0 != 1 } }
        guard squeeze(predicted.shape) == squeeze(truth.shape) else {
            throw InputError("predicted mask has shape \(predicted.shapeDescription) but the ground-truth mask has shape \(truth.shapeDescription)")
        }
        try self.init(predicted: predicted.scalars, truth: truth.scalars)
    }

    /// Counts 0/1 masks held as pictures (a `FewShotPrediction.mask` against a ground truth
    /// read with `GrayImage(contentsOf:)` and `binarized()`).
    public init(predicted: GrayImage, truth: GrayImage) throws {
        guard predicted.width == truth.width, predicted.height == truth.height else {
            throw InputError("predicted mask is \(predicted.width) x \(predicted.height) but the ground-truth mask is \(truth.width) x \(truth.height)")
        }
        self = try predicted.pixels.withUnsafeBufferPointer { p in
            try truth.pixels.withUnsafeBufferPointer { t in try Self.count(p, t) }
        }
    }

    /// One pass: the two foreground areas and their overlap determine all four counts.
    private static func count<Value: Numeric>(_ predicted: UnsafeBufferPointer<Value>,
                                              _ truth: UnsafeBufferPointer<Value>) throws -> EpisodeCounts {
        var (predictedArea, truthArea, overlap) = (0, 0, 0)
        for i in 0..<predicted.count {
            let p = predicted[i], t = truth[i]
            if p == 1 {
                predictedArea += 1
                if t == 1 { overlap += 1 }
            } else if p != 0 {
                throw InputError("predicted mask has value \(p) at pixel \(i), expected 0 or 1")
            }
            if t == 1 {
                truthArea += 1
            } else if t != 0 {
                throw InputError("ground-truth mask has value \(t) at pixel \(i), expected 0 or 1")
            }
        }
        let pixels = predicted.count
        let backgroundOverlap = pixels - predictedArea - truthArea + overlap
        return EpisodeCounts(
            intersection: PixelCounts(background: backgroundOverlap, foreground: overlap),
            union: PixelCounts(background: pixels - overlap, foreground: predictedArea + truthArea - overlap))
    }

    /// Whether these counts can come from two masks of one size: no count negative, every
    /// intersection within its union, and both ways of counting the pixels agreeing.
    public var isConsistent: Bool {
        intersection.background >= 0 && intersection.foreground >= 0
            && intersection.background <= union.background && intersection.foreground <= union.foreground
            && intersection.background + union.foreground == intersection.foreground + union.background
    }
}
