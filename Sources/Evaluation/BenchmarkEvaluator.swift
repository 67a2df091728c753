import Datasets
import Foundation
import FreqMask
import HSNetCore
import Imaging
import TensorCore

/// Runs test episodes of a benchmark through HSNet with whatever maskers are installed, and
/// scores them as the reference evaluator does.
///
/// Pictures are read as the reference loaders read them: the image resized to the network size
/// (antialiased bilinear) and normalised, the mask resized with torch's nearest rule and
/// binarised at 128. The prediction is scored at the network size, or with `originalSize` at
/// the query picture's own size (logits resized straight from the decoder, the mask as loaded).
/// k shots vote (`ShotVote`). Backbone taps are cached per picture (`BackboneFeatureCache`),
/// so pictures recurring across episodes cost one backbone pass.
public final class BenchmarkEvaluator {
    public let model: HSNet
    public let dataset: TargetDataset
    public let imageSize: Int
    public let originalSize: Bool
    public let backbone: BackboneFeatureCache
    /// A filter applied to every network input before the backbone (a frequency filter on
    /// the image's channels, for `analyze filter-sweep --target image`); nil for none.
    public let inputFilter: FeaturePlugin?
    private let pictures: MemoryBoundedCache<String, PreparedPicture>

    /// A picture and its mask at the network size (and the mask as loaded, for `originalSize`).
    struct PreparedPicture {
        let image: Tensor
        let mask: Tensor
        let originalMask: GrayImage?
        let original: RGBImage?

        var bytes: Int {
            4 * (image.count + mask.count) + (originalMask?.pixels.count ?? 0) + (original?.pixels.count ?? 0)
        }
    }

    /// `cacheBytes` bounds the cached taps and prepared pictures together.
    public init(model: HSNet, dataset: TargetDataset, imageSize: Int, originalSize: Bool, cacheBytes: Int,
                inputFilter: FeaturePlugin? = nil) throws {
        try model.checkImageSize(imageSize)
        self.model = model
        self.inputFilter = inputFilter
        self.dataset = dataset
        self.imageSize = imageSize
        self.originalSize = originalSize
        backbone = BackboneFeatureCache(model: model, budgetBytes: cacheBytes / 8 * 7)
        pictures = MemoryBoundedCache(budgetBytes: cacheBytes / 8)
    }

    /// The absolute path of a sample's picture, the key of every cache.
    func path(_ sample: LabelledImage) -> String { dataset.url(sample.image).path }

    func picture(_ sample: LabelledImage, keepingOriginal: Bool = false) throws -> PreparedPicture {
        let key = path(sample)
        if let found = pictures.lookUp(key), !keepingOriginal || found.original != nil { return found }
        let imageURL = dataset.url(sample.image), maskURL = dataset.url(sample.mask)
        let image = try RGBImage(contentsOf: imageURL)
        let mask = try GrayImage(contentsOf: maskURL)
        guard image.width == mask.width, image.height == mask.height else {
            throw InputError("\(maskURL.path): the mask is \(mask.width) x \(mask.height) but its image \(imageURL.lastPathComponent) is \(image.width) x \(image.height)")
        }
        var input = imageTensor(image, size: imageSize)
        if let inputFilter { input = try inputFilter(input) }
        let prepared = PreparedPicture(image: input,
                                       mask: maskTensor(mask, size: imageSize).reshaped([imageSize, imageSize]),
                                       originalMask: originalSize ? mask.binarized() : nil,
                                       original: keepingOriginal ? image : nil)
        pictures.insert(prepared, bytes: prepared.bytes, for: key)
        return prepared
    }

    /// A sample as fine-tuning takes it (the image path is the tap cache's key).
    public func adaptationImage(_ sample: LabelledImage) throws -> AdaptationImage {
        let prepared = try picture(sample)
        return AdaptationImage(imagePath: path(sample), maskPath: dataset.url(sample.mask).path,
                               image: prepared.image, mask: prepared.mask)
    }

    /// The outcome of one episode: the voted prediction and the ground truth (0/1, at the
    /// evaluation resolution) and their counts.
    public struct Outcome {
        public let prediction: GrayImage
        public let truth: GrayImage
        public let counts: EpisodeCounts
    }

    /// Predicts the query of `plan` from its supports with the installed plug-ins, and scores it.
    public func evaluate(_ plan: EpisodePlan) throws -> Outcome {
        let samples = [plan.query] + plan.supports
        let prepared = try samples.map { try picture($0) }
        let taps = try backbone.taps(of: samples.map(path)) { key in
            try picture(samples.first { path($0) == key }!).image
        }
        let query = try model.queryFeatures(fromTaps: taps[0])
        let (height, width): (Int, Int)
        let truth: GrayImage
        if originalSize, let mask = prepared[0].originalMask {
            (height, width, truth) = (mask.height, mask.width, mask)
        } else {
            let plane = prepared[0].mask.scalars.map { UInt8($0) }
            (height, width, truth) = (imageSize, imageSize, GrayImage(width: imageSize, height: imageSize, pixels: plane))
        }
        var votes = [Int32](repeating: 0, count: height * width)
        for shot in 1..<samples.count {
            let features = try model.shotFeatures(query: query, supportTaps: taps[shot], mask: prepared[shot].mask)
            let logits = try model.logits(queryTaps: features.query, supportTaps: features.support, height: height, width: width)
            for (i, vote) in try ShotVote.votes(logits).enumerated() { votes[i] += vote }
        }
        let voted = ShotVote.mask(votes: votes, height: height, width: width)
        let prediction = GrayImage(width: width, height: height, pixels: voted.scalars.map { $0 > 0 ? 1 : 0 })
        return Outcome(prediction: prediction, truth: truth, counts: try EpisodeCounts(predicted: prediction, truth: truth))
    }

    /// A sample's 13 taps after the query plug-ins (from the tap cache), as the episodes see
    /// the sample when it is their query.
    public func queryFeatures(_ sample: LabelledImage) throws -> [Tensor] {
        let taps = try backbone.taps(of: [path(sample)]) { _ in try picture(sample).image }
        return try model.queryFeatures(fromTaps: taps[0])
    }

    /// The picture of a sample at the evaluation resolution (for drawing episodes).
    public func displayPicture(_ sample: LabelledImage, height: Int, width: Int) throws -> RGBImage {
        let original = try picture(sample, keepingOriginal: true).original!
        return original.width == width && original.height == height
            ? original : resizeBilinearAntialiased(original, width: width, height: height)
    }

    /// A sample's mask (0/1) at `height` x `width`, resized with torch's nearest rule.
    public func displayMask(_ sample: LabelledImage, height: Int, width: Int) throws -> GrayImage {
        let mask = try GrayImage(contentsOf: dataset.url(sample.mask))
        return resizeNearestTorch(mask, width: width, height: height).binarized()
    }
}
