import Foundation

/// The target-domain benchmarks `cdfss` reads, by their command-line names.
public enum BenchmarkKind: String, CaseIterable, Codable, Sendable {
    /// Deepglobe land cover (satellite tiles), 6 classes.
    case deepglobe
    /// ISIC 2018 skin lesions, 3 classes.
    case isic
    /// Chest X-ray lung segmentation, 1 class.
    case lung
    /// FSS-1000, the 240 test classes of the standard split.
    case fss
    /// Any `ROOT/<class>/images/<name>` + `ROOT/<class>/masks/<name>.png` tree.
    case folder
}

/// One image and its mask, as paths relative to the dataset root with `/` separators
/// (the form reports record, so that they do not depend on where the data sits).
public struct LabelledImage: Hashable, Comparable, Codable, Sendable {
    public let image: String
    public let mask: String

    public init(image: String, mask: String) {
        self.image = image
        self.mask = mask
    }

    public static func < (a: LabelledImage, b: LabelledImage) -> Bool {
        (a.image, a.mask) < (b.image, b.mask)
    }
}

/// One class of a benchmark: its name (the folder or split name) and its labelled images in
/// a fixed order (the order episodes are drawn from).
public struct DatasetClass: Equatable, Sendable {
    public let name: String
    public let samples: [LabelledImage]

    public init(name: String, samples: [LabelledImage]) {
        self.name = name
        self.samples = samples
    }
}

/// A benchmark's classes as found under its root folder.
public struct TargetDataset: Equatable, Sendable {
    public let kind: BenchmarkKind
    /// The `--datapath` folder every sample path is relative to.
    public let root: URL
    public let classes: [DatasetClass]

    public init(kind: BenchmarkKind, root: URL, classes: [DatasetClass]) {
        self.kind = kind
        self.root = root
        self.classes = classes
    }

    /// The absolute location of a sample path.
    public func url(_ relativePath: String) -> URL {
        root.appendingPathComponent(relativePath)
    }

    /// Every labelled image, class by class.
    public var allSamples: [LabelledImage] { classes.flatMap(\.samples) }
}
