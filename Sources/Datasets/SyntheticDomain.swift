import Foundation
import Imaging
import TensorCore

/// The look of a synthetic target domain, each standing in for a real benchmark by its
/// frequency content: the property the frequency-domain maskers react to.
public enum SyntheticStyle: String, CaseIterable, Sendable {
    /// Everyday photographs (PASCAL-like): smooth gradients, soft clutter, coloured textured
    /// objects. The demo model's training domain: its pictures must not change.
    case source
    /// Deepglobe-like land cover: dense high-frequency textures, a land-cover region as
    /// foreground, under haze, a bluish cast and fine detector striping.
    case satellite
    /// Chest X-ray-like: gray, low contrast, soft large-scale shading, two lung lobes as
    /// foreground, the fine lines of an anti-scatter grid and a heel-effect ramp.
    case xray
    /// ISIC-like dermoscopy: a darker irregular blob on skin crossed by fine furrows and
    /// hairs, in the cool, uneven, washed-out light of a dermatoscope.
    case lesion
    /// FSS-1000-like: one distinct object on a woven check cloth, printed and scanned: a
    /// halftone screen, a warm cast, a side flash, faded contrast.
    case objects
}

/// A generated few-shot segmentation benchmark in the `folder` layout,
/// `<class>/images/<name>.png` + `<class>/masks/<name>.png`, standing in for the real target
/// domains in tests and the demo. Every class has its own foreground look (shape family,
/// colour, texture), kept across its images while position, size and rotation vary.
///
/// Each picture is drawn from a generator seeded by (seed, style, class, image), and each
/// class's look from one seeded by (seed, style, class), so a picture does not depend on the
/// order or the thread it is made on: the same arguments give byte-identical files.
public struct SyntheticDomain: Sendable {
    public let style: SyntheticStyle
    public let classes: Int
    public let imagesPerClass: Int
    /// Side of the square pictures, in pixels.
    public let size: Int
    public let seed: UInt64

    public static let sizeRange = 16...4096

    public init(style: SyntheticStyle, classes: Int = 6, imagesPerClass: Int = 12, size: Int = 400, seed: UInt64 = 0) throws {
        try Self.validate(classes: classes, imagesPerClass: imagesPerClass, size: size)
        self.style = style
        self.classes = classes
        self.imagesPerClass = imagesPerClass
        self.size = size
        self.seed = seed
    }

    /// Checks the counts and the size; the messages name the command-line options.
    public static func validate(classes: Int, imagesPerClass: Int, size: Int) throws {
        guard classes >= 1 else { throw InputError("--classes must be at least 1 (got \(classes))") }
        guard imagesPerClass >= 2 else {
            throw InputError("--images-per-class must be at least 2, one support and one query (got \(imagesPerClass))")
        }
        guard sizeRange.contains(size) else {
            throw InputError("--size must be between \(sizeRange.lowerBound) and \(sizeRange.upperBound) pixels (got \(size))")
        }
        // The product is formed with an overflow check: each count alone may be huge.
        let (pictures, overflow) = classes.multipliedReportingOverflow(by: imagesPerClass)
        guard !overflow, pictures <= maximumPictures else {
            throw InputError("--classes \(classes) x --images-per-class \(imagesPerClass) is more than the \(maximumPictures) pictures synth writes")
        }
    }

    /// The most pictures one synthetic set may have: the size of the largest benchmark
    /// (FSS-1000, 10,000 pictures) ten times over.
    public static let maximumPictures = 100_000

    /// `class-1`, `class-2`, ..., zero-padded when there are ten or more classes so that the
    /// folders sort in class order.
    public func className(_ classIndex: Int) -> String {
        "class-" + padded(classIndex + 1, to: String(classes).count)
    }

    /// `001.png`, `002.png`, ... (at least three digits).
    public func imageName(_ imageIndex: Int) -> String {
        padded(imageIndex + 1, to: max(3, String(imagesPerClass).count)) + ".png"
    }

    private func padded(_ number: Int, to digits: Int) -> String {
        let text = String(number)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// The classes and the relative paths `write(to:)` creates, in class and image order.
    public var datasetClasses: [DatasetClass] {
        (0..<classes).map { c in
            let name = className(c)
            return DatasetClass(name: name, samples: (0..<imagesPerClass).map { i in
                LabelledImage(image: "\(name)/images/\(imageName(i))", mask: "\(name)/masks/\(imageName(i))")
            })
        }
    }

    /// One picture and its mask (0 background, 255 foreground).
    public func image(classIndex: Int, imageIndex: Int) -> (image: RGBImage, mask: GrayImage) {
        precondition((0..<classes).contains(classIndex) && (0..<imagesPerClass).contains(imageIndex),
                     "no picture \(imageIndex) of class \(classIndex) in a \(classes) x \(imagesPerClass) domain")
        var look = SeededGenerator(seed: mixedSeed(UInt64(classIndex), Self.classMarker))
        var picture = SyntheticPicture(size: size, classIndex: classIndex,
                                       random: SeededGenerator(seed: mixedSeed(UInt64(classIndex), UInt64(imageIndex))),
                                       domainHue: domainHue)
        let rgb: RGBImage
        switch style {
        case .source: rgb = picture.paintSource(look: ObjectLook(classIndex: classIndex, domainHue: domainHue, using: &look))
        case .objects: rgb = picture.paintObjects(look: ObjectLook(classIndex: classIndex, domainHue: domainHue, using: &look))
        case .satellite: rgb = picture.paintSatellite(look: LandCoverLook(classIndex: classIndex, using: &look))
        case .xray: rgb = picture.paintXray(look: LungLook(classIndex: classIndex, using: &look))
        case .lesion: rgb = picture.paintLesion(look: LesionLook(classIndex: classIndex, using: &look))
        }
        return (rgb, GrayImage(width: size, height: size, pixels: picture.mask))
    }

    /// Writes the benchmark into `folder`, which must not exist or be empty. The tree is built
    /// in a hidden sibling folder and renamed into place at the end, so `folder` is either
    /// absent or complete; pictures are made and encoded in parallel.
    public func write(to folder: URL) throws {
        let manager = FileManager.default
        let folder = folder.standardizedFileURL
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: folder.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw InputError("\(folder.path): exists and is not a folder") }
            let contents: [String]
            do {
                contents = try manager.contentsOfDirectory(atPath: folder.path)
            } catch {
                throw InputError("\(folder.path): cannot read folder (\(OutputCheck.reason(error)))")
            }
            guard contents.isEmpty else { throw InputError("\(folder.path): folder is not empty; give a new or empty folder") }
        }
        let parent = folder.deletingLastPathComponent()
        do {
            try manager.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw InputError("\(parent.path): cannot create folder (\(OutputCheck.reason(error)))")
        }
        let staging = parent.appendingPathComponent(".\(folder.lastPathComponent).\(UUID().uuidString).partial")
        // Locked while we build it, so that a later run's sweep removes it only after a kill.
        guard mkdir(staging.path, 0o755) == 0 else {
            throw InputError("\(folder.path): cannot write into \(parent.path) (\(String(cString: strerror(errno))))")
        }
        let lock = open(staging.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if lock >= 0 { flock(lock, LOCK_EX) }
        defer { if lock >= 0 { close(lock) } }
        do {
            let layout = datasetClasses
            for item in layout {
                for sub in ["images", "masks"] {
                    try manager.createDirectory(at: staging.appendingPathComponent("\(item.name)/\(sub)"), withIntermediateDirectories: true)
                }
            }
            let count = classes * imagesPerClass
            let lock = NSLock()
            var failures: [(index: Int, error: Error)] = []
            parallelFor(count) { range in
                for index in range {
                    let c = index / imagesPerClass, i = index % imagesPerClass
                    let sample = layout[c].samples[i]
                    do {
                        let (image, mask) = self.image(classIndex: c, imageIndex: i)
                        try PNGWriter.encode(image).write(to: staging.appendingPathComponent(sample.image))
                        try PNGWriter.encode(mask).write(to: staging.appendingPathComponent(sample.mask))
                    } catch {
                        lock.lock()
                        failures.append((index, error))
                        lock.unlock()
                    }
                }
            }
            if let first = failures.min(by: { $0.index < $1.index }) { throw first.error }
            // rename(2) also replaces an empty folder, atomically.
            if rename(staging.path, folder.path) != 0 {
                throw InputError("\(folder.path): cannot move the generated folder into place (\(String(cString: strerror(errno))))")
            }
        } catch {
            try? manager.removeItem(at: staging)
            if let error = error as? InputError { throw error }
            throw InputError("\(folder.path): cannot write (\(OutputCheck.reason(error)))")
        }
    }

    // MARK: Seeds

    /// Marks the class-look generator apart from every image generator (image indices are small).
    private static let classMarker = UInt64.max

    /// A seed for (seed, style, parts...): SplitMix64 steps chained over the parts, so that
    /// neighbouring indices give unrelated streams. The style enters through a fixed FNV-1a
    /// hash of its name (Swift's `Hasher` is randomised per process).
    func mixedSeed(_ parts: UInt64...) -> UInt64 {
        var styleHash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in style.rawValue.utf8 { styleHash = (styleHash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        var state: UInt64 = 0x6A09_E667_F3BC_C909
        for part in [seed, styleHash] + parts {
            var step = SeededGenerator(seed: state ^ part)
            state = step.next()
        }
        return state
    }

    /// The hue the classes' colours are spread from, so different seeds also give different palettes.
    private var domainHue: Float {
        var random = SeededGenerator(seed: mixedSeed(Self.classMarker))
        return random.uniform(0, 1)
    }
}

/// The state of one picture being made: its generator, its size and, once a style has drawn
/// it, its mask.
struct SyntheticPicture {
    let size: Int
    let classIndex: Int
    var random: SeededGenerator
    let domainHue: Float
    var mask: [UInt8] = []

    init(size: Int, classIndex: Int, random: SeededGenerator, domainHue: Float) {
        self.size = size
        self.classIndex = classIndex
        self.random = random
        self.domainHue = domainHue
    }

    var side: Float { Float(size) }
    /// Lengths are given for 400 x 400 pictures and scaled by this, so a style looks the same
    /// at any size (fine grain excepted, which stays at the pixel scale).
    var scale: Float { Float(size) / 400 }

    func plane(_ value: Float = 0) -> SyntheticPlane {
        SyntheticPlane(width: size, height: size, repeating: value)
    }

    mutating func noise(cell: Float, octaves: Int = 1, persistence: Float = 0.5) -> SyntheticPlane {
        SyntheticPlane.fractalNoise(width: size, height: size, cell: cell, octaves: octaves, persistence: persistence, using: &random)
    }

    mutating func uniform(_ low: Float, _ high: Float) -> Float {
        random.uniform(low, high)
    }

    /// Draws the foreground with `make` until its coverage is acceptable, and keeps its mask.
    mutating func foreground(_ make: (inout SeededGenerator) -> SyntheticRegion) -> SyntheticForeground {
        let drawn = SyntheticForeground.fitted(width: size, height: size, using: &random, make: make)
        mask = drawn.mask
        return drawn
    }
}
