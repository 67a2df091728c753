import Foundation
import Imaging
import TensorCore

/// The segmentation of one query picture from K annotated support pictures.
public struct FewShotPrediction: Sendable {
    /// The predicted mask at the query picture's own size: 1 foreground, 0 background
    /// (`visibleMask` makes it 0/255 for viewing).
    public let mask: GrayImage
    /// For each pixel of the query picture, how many shots called it foreground.
    public let votes: [Int32]
    /// The foreground fraction of each shot's own decision (before the vote).
    public let shotForegroundFractions: [Double]
    /// The side of the square network input the pictures were resized to.
    public let imageSize: Int
    /// Each shot's logits at the network's resolution, [K, 2, S, S] (S = `imageSize`), when asked for.
    public let networkLogits: Tensor?

    public var shots: Int { shotForegroundFractions.count }

    /// The foreground fraction of the voted mask.
    public var foregroundFraction: Double {
        Double(mask.pixels.reduce(0) { $0 + Int($1) }) / Double(max(1, mask.pixels.count))
    }
}

extension HSNet {
    /// The largest layer-2 correlation pyramid (4 taps of (S/8)^4 floats) a prediction may
    /// allocate; 400 x 400 needs 100 MB, 640 x 640 about 1 GB.
    public static let maximumPyramidBytes = 1 << 30

    /// The largest network input side whose layer-2 correlation fits `maximumPyramidBytes`
    /// (720). Sizes are compared with it before any product of them is formed, so no size a
    /// user types can overflow the arithmetic below.
    public static let maximumImageSize: Int = {
        var size = 16
        while pyramidBytes(imageSize: size + 1) <= maximumPyramidBytes { size += 1 }
        return size
    }()

    /// The bytes of the layer-2 correlation pyramid at a network input side of `size`
    /// (small sizes only: see `maximumImageSize`).
    static func pyramidBytes(imageSize size: Int) -> Int {
        let layer2 = featureSize(layer: 2, imageHeight: size, imageWidth: size)
        let positions = layer2.height * layer2.width
        return 4 * 4 * positions * positions
    }

    /// Checks a network input size: at least 16 (the backbone's stride makes smaller inputs
    /// meaningless) and at most `maximumImageSize`, so that the layer-2 correlation fits
    /// `maximumPyramidBytes`.
    public static func checkImageSize(_ size: Int) throws {
        guard size >= 16 else { throw InputError("image size \(size) is too small (HSNet needs at least 16)") }
        guard size <= maximumImageSize else {
            // Past the limit the pyramid is at least 1 GiB; its exact size is only named while
            // the product cannot overflow (sides up to about 10^5).
            let detail = size <= 100_000 ? "needs a \(pyramidBytes(imageSize: size) >> 20) MiB layer-2 correlation" : "is far too large"
            throw InputError("image size \(size) \(detail); use \(maximumImageSize) or less (HSNet was trained at 400)")
        }
    }

    /// `checkImageSize`, and for this model's backbone, whose layer-4 taps must not be empty
    /// (VGG-16 needs 32: `BackboneKind.minimumImageSize`).
    public func checkImageSize(_ size: Int) throws {
        try Self.checkImageSize(size)
        let kind = backbone.kind
        guard size >= kind.minimumImageSize else {
            throw InputError("image size \(size) is too small (HSNet with a \(kind.name) backbone needs at least \(kind.minimumImageSize))")
        }
    }

    /// Refuses a support mask without foreground at the network size: HSNet multiplies the
    /// support features by the mask, so an empty one leaves nothing to correlate with and the
    /// prediction means nothing. The message says why a mask that looks right is empty: 0/1
    /// masks (binarised at 128) or a region too small to survive the resize.
    public static func checkSupportMask(_ mask: GrayImage, imageSize: Int) throws {
        guard !maskTensor(mask, size: imageSize).scalars.contains(1) else { return }
        let highest = mask.pixels.max() ?? 0
        if highest >= 128 {
            throw InputError("the support mask's foreground vanishes when it is resized to \(imageSize) x \(imageSize); a support needs a foreground region HSNet can see")
        }
        if highest == 1 {
            throw InputError("the support mask has no foreground: its values are 0 and 1, and masks are binarised at 128, so write them as 0 and 255")
        }
        throw InputError("the support mask has no foreground (no pixel >= 128; its highest value is \(highest)): a support needs a foreground region")
    }

    /// HSNet's prediction with the output at the query picture's own size, as its evaluation
    /// with `use_original_imgsize` does: pictures resized to `imageSize` x `imageSize`
    /// (antialiased bilinear, as torchvision on PIL images) and normalised; support masks
    /// resized with torch's nearest rule and binarised at 128; every shot's logits resized
    /// (bilinear, align_corners=True) to the query picture's size; the shots' argmax masks
    /// summed and thresholded at half the top vote (`ShotVote`).
    ///
    /// With `keepingNetworkLogits`, each shot's logits are also resized to the network's input
    /// size and returned (`FewShotPrediction.networkLogits`).
    public func predict(query: RGBImage, supports: [RGBImage], supportMasks: [GrayImage],
                        imageSize: Int = 400, keepingNetworkLogits: Bool = false) throws -> FewShotPrediction {
        try checkImageSize(imageSize)
        guard !supports.isEmpty else { throw InputError("no support image given (one or more are needed)") }
        guard supports.count == supportMasks.count else {
            throw InputError("\(supports.count) support images but \(supportMasks.count) support masks (one mask per image)")
        }
        guard query.width > 0, query.height > 0 else { throw InputError("the query picture is empty") }
        for (index, (image, mask)) in zip(supports, supportMasks).enumerated() {
            guard image.width == mask.width, image.height == mask.height else {
                throw InputError("support \(index + 1): the mask is \(mask.width) x \(mask.height) but its image is \(image.width) x \(image.height)")
            }
        }
        for (index, mask) in supportMasks.enumerated() {
            do { try Self.checkSupportMask(mask, imageSize: imageSize) } catch let error as InputError {
                throw InputError("support mask \(index + 1): \(error.message)")
            }
        }
        // One shot at a time, its logits resized from the decoder's resolution straight to the
        // query picture's size, so K full-size logit maps never coexist.
        let (height, width) = (query.height, query.width)
        var votes = [Int32](repeating: 0, count: height * width)
        var fractions: [Double] = []
        let toQuerySize = BilinearResize(outputHeight: height, outputWidth: width)
        let toNetworkSize = BilinearResize(outputHeight: imageSize, outputWidth: imageSize)
        var networkLogits: [Float] = []
        try forEachShot(query: imageTensor(query, size: imageSize), shots: supports.count,
                        supportImage: { imageTensor(supports[$0], size: imageSize) },
                        supportMask: { maskTensor(supportMasks[$0], size: imageSize).reshaped([imageSize, imageSize]) },
                        observe: nil) { _, decoderLogits in
            let shotVotes = try ShotVote.votes(toQuerySize.forward(decoderLogits))
            fractions.append(Double(shotVotes.reduce(0) { $0 + Int($1) }) / Double(votes.count))
            for i in votes.indices { votes[i] += shotVotes[i] }
            if keepingNetworkLogits { networkLogits += toNetworkSize.forward(decoderLogits).scalars }
        }
        let voted = ShotVote.mask(votes: votes, height: height, width: width)
        return FewShotPrediction(mask: GrayImage(width: width, height: height, pixels: voted.scalars.map { $0 > 0 ? 1 : 0 }),
                                 votes: votes, shotForegroundFractions: fractions, imageSize: imageSize,
                                 networkLogits: keepingNetworkLogits
                                     ? Tensor(shape: [supports.count, 2, imageSize, imageSize], scalars: networkLogits) : nil)
    }

    /// `predict(query:supports:supportMasks:imageSize:)` on picture files (PNG, JPEG, TIFF);
    /// errors name the file.
    public func predict(queryFile: URL, supportFiles: [URL], supportMaskFiles: [URL],
                        imageSize: Int = 400, keepingNetworkLogits: Bool = false) throws -> FewShotPrediction {
        guard supportFiles.count == supportMaskFiles.count else {
            throw InputError("\(supportFiles.count) support images but \(supportMaskFiles.count) support masks (one mask per image)")
        }
        let query = try RGBImage(contentsOf: queryFile)
        let supports = try supportFiles.map { try RGBImage(contentsOf: $0) }
        let masks = try supportMaskFiles.map { try GrayImage(contentsOf: $0) }
        for (index, (image, mask)) in zip(supports, masks).enumerated()
        where image.width != mask.width || image.height != mask.height {
            throw InputError("\(supportMaskFiles[index].path): the mask is \(mask.width) x \(mask.height) but its image \(supportFiles[index].lastPathComponent) is \(image.width) x \(image.height)")
        }
        for (index, mask) in masks.enumerated() {
            do { try Self.checkSupportMask(mask, imageSize: imageSize) } catch let error as InputError {
                throw InputError("\(supportMaskFiles[index].path): \(error.message)")
            }
        }
        return try predict(query: query, supports: supports, supportMasks: masks, imageSize: imageSize,
                           keepingNetworkLogits: keepingNetworkLogits)
    }
}
