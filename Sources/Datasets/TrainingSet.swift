import Foundation
import Imaging
import TensorCore

/// One labelled picture of a training or validation set, as paths relative to the set's root
/// with `/` separators (the form a run's records keep, independent of where the data sits).
///
/// `classValue` says how the label file is read. With a value (PASCAL), the label is a map of
/// class indices and the sample's foreground is the pixels holding that index; the same
/// picture is a sample of each class it shows. Without one (nil), the label is a binary mask
/// whose pixels of 128 or more are foreground, as in every benchmark layout.
public struct TrainingSample: Hashable, Codable, Sendable {
    public let image: String
    public let label: String
    public let classValue: Int?

    public init(image: String, label: String, classValue: Int? = nil) {
        self.image = image
        self.label = label
        self.classValue = classValue
    }

    // snake_case, as every JSON cdfss writes.
    enum CodingKeys: String, CodingKey {
        case image, label
        case classValue = "class_value"
    }
}

/// One class of a training set: its name and its samples in a fixed order (the order episodes
/// are drawn from).
public struct TrainingClass: Equatable, Sendable {
    public let name: String
    public let samples: [TrainingSample]

    public init(name: String, samples: [TrainingSample]) {
        self.name = name
        self.samples = samples
    }
}

/// Classes of labelled pictures to draw few-shot episodes from while training the learner, or
/// to validate it on: PASCAL-5i (`pascal(datapath:fold:split:)`), a user's `folder` tree
/// (`folder(datapath:classes:)`), or any evaluation benchmark (`init(_:)`). Building one lists
/// files and checks that every listed one is there; nothing is decoded until `masks(_:)`.
public struct TrainingSet: Equatable, Sendable {
    /// The label value PASCAL VOC gives the band around each object: background in the
    /// training target, and not scored.
    public static let boundaryValue: UInt8 = 255

    /// Where the set comes from: "pascal", "folder", or a benchmark's name ("fss", "isic", ...).
    public let layout: String
    /// The datapath every sample path is relative to.
    public let root: URL
    public let classes: [TrainingClass]

    public init(layout: String, root: URL, classes: [TrainingClass]) {
        self.layout = layout
        self.root = root
        self.classes = classes
    }

    /// A benchmark as a validation (or training) set: its binary masks, no boundary.
    public init(_ dataset: TargetDataset) {
        self.init(layout: dataset.kind.rawValue, root: dataset.root, classes: dataset.classes.map { datasetClass in
            TrainingClass(name: datasetClass.name, samples: datasetClass.samples.map {
                TrainingSample(image: $0.image, label: $0.mask, classValue: nil)
            })
        })
    }

    /// The absolute location of a sample path.
    public func url(_ relativePath: String) -> URL {
        root.appendingPathComponent(relativePath)
    }

    /// Every sample, class by class.
    public var allSamples: [TrainingSample] { classes.flatMap(\.samples) }

    /// The sample's foreground as a 0/1 mask, and the pixels to leave out of its scores as a
    /// 0/1 mask (nil when there are none), both at the label file's own size.
    ///
    /// For a class value this is HSNet's `extract_ignore_idx`: foreground where the label is
    /// the class value, background everywhere else, the 255 boundary included; `ignored` where
    /// the label is 255. HSNet's evaluator drops those pixels from both the prediction and the
    /// ground truth of the query before counting (`Evaluator.classify_prediction`); the loss
    /// sees them as background, and a support's mask simply has them as background (HSNet
    /// computes a support's ignore map too but never uses it). HSNet resizes the label with
    /// nearest neighbours before extracting; both steps act pixel by pixel, so resizing these
    /// masks with the same rule gives the same result. Binary masks (no class value) are
    /// binarised at 128 and ignore nothing.
    public func masks(_ sample: TrainingSample) throws -> (foreground: GrayImage, ignored: GrayImage?) {
        let labelURL = url(sample.label)
        guard let classValue = sample.classValue else {
            return (try GrayImage(contentsOf: labelURL).binarized(), nil)
        }
        guard (0..<Int(Self.boundaryValue)).contains(classValue) else {
            throw InputError("\(labelURL.path): class value \(classValue) cannot be read from a label map (0 to 254; 255 is the boundary)")
        }
        let label = try LabelImage(contentsOf: labelURL)
        let ignored = label.contains(Self.boundaryValue) ? label.mask(of: Self.boundaryValue) : nil
        return (label.mask(of: UInt8(classValue)), ignored)
    }
}
