import Dispatch
import Foundation
import Imaging
import TensorCore

/// Everything `DatasetCheck` found in a benchmark folder (`cdfss datasets check --json`).
public struct DatasetCheckReport: Codable, Equatable, Sendable {
    public struct ClassSummary: Codable, Equatable, Sendable {
        public let name: String
        /// Absolute path of the class's folder.
        public let folder: String
        /// Images found (lung: masks, the pool), paired or not.
        public let images: Int
        /// Images with their mask.
        public let paired: Int
        /// Pairs whose image and mask decode and whose mask has foreground.
        public let usable: Int
        /// Problems found in the class's folders.
        public let problems: Int
    }

    public let benchmark: BenchmarkKind
    /// Absolute path of the datapath.
    public let datapath: String
    /// Whether the benchmark can be used as it is: it loads, has a class, every class has at
    /// least two usable samples, and no file of a sample fails to decode (a run draws from all
    /// of them and would stop at the first that does).
    public let usable: Bool
    /// Why not, one line per kind of blocking problem; empty when usable.
    public let reasons: [String]
    public let classes: [ClassSummary]
    /// In the order found: layout problems class by class, then decoding problems sample by sample.
    public let problems: [DatasetProblem]

    public func problems(_ kind: DatasetProblem.Kind) -> [DatasetProblem] {
        problems.filter { $0.kind == kind }
    }

    /// The report as a table of classes followed by the problems grouped by kind, at most
    /// `limit` listed per kind.
    public func text(listing limit: Int = 20) -> String {
        var lines = ["\(benchmark.rawValue) benchmark at \(datapath): \(classes.count) class\(classes.count == 1 ? "" : "es"), "
                     + "\(classes.reduce(0) { $0 + $1.usable }) usable samples"]
        if !classes.isEmpty {
            let width = max(5, classes.map(\.name.count).max() ?? 0)
            func row(_ cells: [String]) -> String {
                cells[0].padding(toLength: width, withPad: " ", startingAt: 0)
                    + cells.dropFirst().map { String(repeating: " ", count: max(0, 9 - $0.count)) + $0 }.joined()
            }
            lines.append(row(["class", "images", "paired", "usable", "problems"]))
            for summary in classes {
                lines.append(row([summary.name, String(summary.images), String(summary.paired), String(summary.usable),
                                  String(summary.problems)]))
            }
        }
        for kind in DatasetProblem.Kind.allCases {
            let found = problems(kind)
            guard !found.isEmpty else { continue }
            lines.append("\(kind.title): \(found.count)\(found.contains(where: \.blocking) ? " (blocking)" : "")")
            lines += found.prefix(limit).map { "  " + $0.message }
            if found.count > limit { lines.append("  ... and \(found.count - limit) more") }
        }
        lines.append(usable ? "usable: yes" : "usable: no (\(reasons.joined(separator: "; ")))")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Walks a benchmark's layout and decodes every sample, reporting all problems instead of
/// stopping at the first one: counts per class, images without masks and masks without
/// images, files that do not decode, masks that are empty or not binary, and whether the
/// benchmark is usable.
public enum DatasetCheck {
    /// An episode needs a support and a different query.
    public static let minimumSamplesPerClass = 2

    /// Checks `kind` under `datapath`; for FSS-1000, the classes of `fssSplit` (test by default).
    public static func run(_ kind: BenchmarkKind, datapath: URL, fssSplit: FSS1000Split = .test) throws -> DatasetCheckReport {
        let root = datapath.standardizedFileURL
        try TargetDataset.checkSplit(kind, fssSplit)
        let scan = try LayoutScan.scan(kind, datapath: root, fssSplit: fssSplit)
        var problems = scan.problems

        // Decoding is the slow part and each sample is independent; results land in a slot
        // per sample, so the report does not depend on which thread finished first.
        let samples = scan.classes.flatMap { listed in listed.samples.map { (className: listed.name, sample: $0) } }
        var inspections = [SampleInspection?](repeating: nil, count: samples.count)
        inspections.withUnsafeMutableBufferPointer { slots in
            DispatchQueue.concurrentPerform(iterations: samples.count) { index in
                slots[index] = SampleInspection(image: scan.path(samples[index].sample.image),
                                                mask: scan.path(samples[index].sample.mask))
            }
        }
        var usableCount: [String: Int] = [:]
        for (index, inspection) in inspections.enumerated() {
            guard let inspection else { continue }
            problems += inspection.problems(className: samples[index].className)
            if inspection.usable { usableCount[samples[index].className, default: 0] += 1 }
        }

        for listed in scan.classes where listed.listed > 0 {
            let usable = usableCount[listed.name] ?? 0
            guard usable < minimumSamplesPerClass else { continue }
            problems.append(DatasetProblem(.tooFewSamples, className: listed.name, path: listed.folder,
                                           detail: "\(usable) usable of \(listed.samples.count) paired", blocking: true))
        }

        let classes = scan.classes.map { listed in
            DatasetCheckReport.ClassSummary(
                name: listed.name, folder: listed.folder, images: listed.listed, paired: listed.samples.count,
                usable: usableCount[listed.name] ?? 0, problems: problems.filter { $0.className == listed.name }.count)
        }
        var reasons = DatasetProblem.Kind.allCases.compactMap { kind -> String? in
            let count = problems.filter { $0.kind == kind && $0.blocking }.count
            return count == 0 ? nil : kind.counted(count)
        }
        if classes.isEmpty && reasons.isEmpty { reasons.append("no classes") }
        return DatasetCheckReport(benchmark: kind, datapath: root.path, usable: reasons.isEmpty, reasons: reasons,
                                  classes: classes, problems: problems)
    }
}

/// What decoding one sample's image and mask showed.
private struct SampleInspection {
    let imagePath: String
    let maskPath: String
    var imageSize: (width: Int, height: Int)?
    var imageError: String?
    var maskSize: (width: Int, height: Int)?
    var maskError: String?
    /// How many mask pixels have each gray value (as PIL's convert('L') reads the mask).
    var histogram = [Int](repeating: 0, count: 256)
    var maskIsColour = false

    init(image: String, mask: String) {
        imagePath = image
        maskPath = mask
        do {
            let decoded = try DecodedImage(contentsOf: URL(fileURLWithPath: image))
            imageSize = (decoded.width, decoded.height)
        } catch {
            imageError = Self.reason(error, path: image)
        }
        do {
            let decoded = try DecodedImage(contentsOf: URL(fileURLWithPath: mask))
            maskSize = (decoded.width, decoded.height)
            if case .rgb = decoded { maskIsColour = true }
            for value in decoded.gray.pixels { histogram[Int(value)] += 1 }
        } catch {
            maskError = Self.reason(error, path: mask)
        }
    }

    /// The decoder's message without the path it starts with (the problem names the path).
    private static func reason(_ error: Error, path: String) -> String {
        let message = (error as? InputError)?.message ?? String(describing: error)
        return message.hasPrefix(path + ": ") ? String(message.dropFirst(path.count + 2)) : message
    }

    /// Mask pixels that binarise to foreground (>= 128, the loaders' threshold).
    var foreground: Int { histogram[128...].reduce(0, +) }

    /// Decodes on both sides, has something to segment, and the mask covers its image pixel
    /// for pixel (`test` and `finetune` refuse a pair whose sizes differ).
    var usable: Bool {
        imageError == nil && maskError == nil && foreground > 0 && !sizesDiffer
    }

    var sizesDiffer: Bool {
        guard let imageSize, let maskSize else { return false }
        return imageSize != maskSize
    }

    func problems(className: String) -> [DatasetProblem] {
        var found: [DatasetProblem] = []
        if let imageError {
            found.append(DatasetProblem(.unreadableImage, className: className, path: imagePath, detail: imageError, blocking: true))
        }
        if let maskError {
            found.append(DatasetProblem(.unreadableMask, className: className, path: maskPath, detail: maskError, blocking: true))
        }
        if maskError == nil {
            let values = (0..<256).filter { histogram[$0] > 0 }
            let zeroOne = values.allSatisfy { $0 == 0 || $0 == 1 }
            let binary = zeroOne || values.allSatisfy { $0 == 0 || $0 == 255 }
            let colour = maskIsColour ? " (a colour PNG, read as gray)" : ""
            if foreground == 0 {
                let detail = zeroOne && values.contains(1)
                    ? "its values are 0 and 1; masks are binarised at 128, so write them as 0 and 255"
                    : "its highest value is \(values.last ?? 0)\(colour)"
                found.append(DatasetProblem(.emptyMask, className: className, path: maskPath, detail: detail, blocking: false))
            }
            if !binary {
                let total = histogram.reduce(0, +)
                let between = total - histogram[0] - histogram[255]
                let shown = values.prefix(6).map(String.init).joined(separator: ", ") + (values.count > 6 ? ", ..." : "")
                let detail = "\(values.count) gray values (\(shown)); "
                    + String(format: "%.1f%%", 100 * Double(between) / Double(max(total, 1)))
                    + " of pixels are neither 0 nor 255\(colour)"
                found.append(DatasetProblem(.nonBinaryMask, className: className, path: maskPath, detail: detail, blocking: false))
            }
        }
        if let imageSize, let maskSize, imageSize != maskSize {
            found.append(DatasetProblem(.sizeMismatch, className: className, path: imagePath, otherPath: maskPath,
                                        detail: "image \(imageSize.width)x\(imageSize.height), mask \(maskSize.width)x\(maskSize.height)",
                                        blocking: true))
        }
        return found
    }
}

extension DatasetProblem.Kind {
    /// Heading of the kind in the text report.
    var title: String {
        switch self {
        case .missingFolder: return "missing folders"
        case .noClasses: return "no class folders"
        case .emptyClass: return "classes without samples"
        case .imageWithoutMask: return "images without a mask"
        case .maskWithoutImage: return "masks without an image"
        case .ambiguousPair: return "files pairing with the same partner"
        case .unreadableImage: return "images that do not decode"
        case .unreadableMask: return "masks that do not decode"
        case .emptyMask: return "empty masks"
        case .nonBinaryMask: return "masks that are not binary"
        case .sizeMismatch: return "images and masks of different sizes"
        case .tooFewSamples: return "classes with fewer than \(DatasetCheck.minimumSamplesPerClass) usable samples"
        case .ignoredFile: return "files the layout does not read"
        }
    }

    /// "3 images without a mask".
    func counted(_ count: Int) -> String {
        let one = count == 1
        switch self {
        case .missingFolder: return one ? "1 folder missing or unreadable" : "\(count) folders missing or unreadable"
        case .noClasses: return "no class folders"
        case .emptyClass: return one ? "1 class without samples" : "\(count) classes without samples"
        case .imageWithoutMask: return one ? "1 image without a mask" : "\(count) images without a mask"
        case .maskWithoutImage: return one ? "1 mask without an image" : "\(count) masks without an image"
        case .ambiguousPair: return one ? "1 file pairing with another's partner" : "\(count) files pairing with another's partner"
        case .unreadableImage: return one ? "1 image that does not decode" : "\(count) images that do not decode"
        case .unreadableMask: return one ? "1 mask that does not decode" : "\(count) masks that do not decode"
        case .emptyMask: return one ? "1 empty mask" : "\(count) empty masks"
        case .nonBinaryMask: return one ? "1 mask that is not binary" : "\(count) masks that are not binary"
        case .sizeMismatch: return one ? "1 image and mask of different sizes" : "\(count) images and masks of different sizes"
        case .tooFewSamples:
            let minimum = DatasetCheck.minimumSamplesPerClass
            return one ? "1 class with fewer than \(minimum) usable samples" : "\(count) classes with fewer than \(minimum) usable samples"
        case .ignoredFile: return one ? "1 file not read" : "\(count) files not read"
        }
    }
}
