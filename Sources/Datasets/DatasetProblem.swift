import Foundation

/// One thing wrong with a benchmark folder, found while walking its layout or decoding its
/// files. `TargetDataset.load` throws the first blocking one; `DatasetCheck` reports them all.
public struct DatasetProblem: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, CaseIterable, Sendable {
        /// A folder the layout needs does not exist.
        case missingFolder
        /// A `folder` datapath without any class folder.
        case noClasses
        /// A class folder without a single image (lung: mask) of the layout's form.
        case emptyClass
        /// An image whose mask is not there.
        case imageWithoutMask
        /// A mask whose image is not there (blocking only for lung, whose pool is the masks).
        case maskWithoutImage
        /// Two images that would pair with the same mask (`a.jpg` and `a.png`), or two lung masks with the same image.
        case ambiguousPair
        /// An image that does not decode.
        case unreadableImage
        /// A mask that does not decode.
        case unreadableMask
        /// A mask without a single pixel >= 128: all background once binarised.
        case emptyMask
        /// A mask with values other than 0 and 255 (or 0 and 1).
        case nonBinaryMask
        /// An image and its mask of different sizes (usually a wrong pairing).
        case sizeMismatch
        /// A class with fewer than two usable samples: no episode (support + query) can be drawn.
        case tooFewSamples
        /// A file or folder the layout does not read (wrong extension, subfolder, lung image without mask).
        case ignoredFile
    }

    public let kind: Kind
    /// The class concerned, nil for problems of the whole datapath or of a folder shared by classes.
    public let className: String?
    /// Absolute path of the file or folder concerned.
    public let path: String
    /// The other file involved, absolute: the expected mask of an image without one, the
    /// expected image of a mask without one, the other image of an ambiguous pair, the mask
    /// whose size differs.
    public let otherPath: String?
    /// What the decoder said, which values a mask holds, the two sizes.
    public let detail: String?
    /// Whether the problem stops the benchmark from being used.
    public let blocking: Bool
    /// One line naming what is wrong where.
    public let message: String

    // snake_case, as every JSON cdfss writes.
    enum CodingKeys: String, CodingKey {
        case kind
        case className = "class_name"
        case path
        case otherPath = "other_path"
        case detail, blocking, message
    }

    init(_ kind: Kind, className: String?, path: String, otherPath: String? = nil, detail: String? = nil, blocking: Bool) {
        self.kind = kind
        self.className = className
        self.path = path
        self.otherPath = otherPath
        self.detail = detail
        self.blocking = blocking
        self.message = Self.describe(kind, path: path, otherPath: otherPath, detail: detail)
    }

    private static func describe(_ kind: Kind, path: String, otherPath: String?, detail: String?) -> String {
        let other = otherPath ?? "?"
        let base: String
        switch kind {
        case .missingFolder: base = detail == nil ? "folder \(path) does not exist" : "folder \(path) cannot be read"
        case .noClasses: base = "folder \(path) has no class folders"
        case .emptyClass: base = "folder \(path) has no samples"
        case .imageWithoutMask: base = "image \(path) has no mask (expected \(other))"
        case .maskWithoutImage: base = "mask \(path) has no image (expected \(other))"
        case .ambiguousPair: base = "\(path) and \(other) pair with the same file"
        case .unreadableImage: base = "image \(path) cannot be decoded"
        case .unreadableMask: base = "mask \(path) cannot be decoded"
        case .emptyMask: base = "mask \(path) is empty (no pixel >= 128)"
        case .nonBinaryMask: base = "mask \(path) is not binary"
        case .sizeMismatch: base = "image \(path) and mask \(other) differ in size"
        case .tooFewSamples: base = "class folder \(path) has fewer than 2 usable samples"
        case .ignoredFile: base = "\(path) is not read by the layout"
        }
        return detail.map { "\(base): \($0)" } ?? base
    }
}
