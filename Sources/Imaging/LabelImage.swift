import Foundation
import TensorCore

/// A label map: one class index per pixel (`width * height` bytes, row by row), as in PASCAL
/// VOC's `SegmentationClass` (palette PNG) and `SegmentationClassAug` (8-bit gray PNG), where
/// 0 is background, 1...20 the classes and 255 the boundary band.
///
/// Labels are not grey levels: `GrayImage(contentsOf:)` would take a palette PNG's colours
/// through the luma formula, so VOC's class 1 (dark red) would read as 19. This reads what
/// HSNet's loader gets from `np.array(Image.open(path))` for the one-channel kinds of PNG:
///
/// - palette PNGs give their palette indices (at any bit depth), whatever the colours;
/// - 8-bit gray gives its values; 16-bit gray too (a value above 255 is refused: no label
///   map in use has one, and it would not fit the byte a label is kept in);
/// - 1-bit gray gives 0 and 1, and 2- and 4-bit gray the values Pillow scales them to
///   (x85, x17), as Pillow hands them to numpy.
///
/// Pictures with colour or alpha (RGB, RGBA, gray+alpha) are refused: numpy would give a
/// third axis, and a colour-coded map cannot be read as indices without its colour table.
/// Only PNG is read; a lossy JPEG cannot keep indices exact.
public struct LabelImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// The class index of each pixel.
    public var indices: [UInt8]

    public init(width: Int, height: Int, indices: [UInt8]) {
        precondition(width >= 0 && height >= 0, "negative label map size \(width)x\(height)")
        precondition(indices.count == width * height,
                     "a \(width)x\(height) label map needs \(width * height) indices, got \(indices.count)")
        self.width = width
        self.height = height
        self.indices = indices
    }

    /// Reads a PNG label map; errors name the file and what is wrong, in one line.
    public init(contentsOf url: URL) throws {
        let data = try readFile(url, what: "label map")
        self = try LabelImage(decoding: data, source: url.path)
    }

    /// Decodes PNG bytes as a label map; `source` names them in error messages.
    public init(decoding data: Data, source: String) throws {
        do {
            guard !data.isEmpty else { throw InputError("label map file is empty") }
            guard let format = ImageFormat(detecting: data) else { throw InputError(ImageFormat.describeUnknown(data)) }
            guard format == .png else {
                throw InputError("a label map must be a PNG of class indices (8-bit gray or palette), this is \(format.name)")
            }
            self = try data.withUnsafeBytes { raw in
                let bytes = raw.bindMemory(to: UInt8.self)
                return try PNGDecoder.decodeLabels(bytes, header: PNGDecoder.checkStructure(bytes))
            }
        } catch let error as InputError {
            throw InputError("\(source): \(error.message)")
        }
    }

    /// 1 where the index is `value`, 0 elsewhere: the mask of one class.
    public func mask(of value: UInt8) -> GrayImage {
        GrayImage(width: width, height: height, pixels: indices.map { $0 == value ? 1 : 0 })
    }

    /// Whether any pixel has index `value`.
    public func contains(_ value: UInt8) -> Bool {
        indices.contains(value)
    }
}

extension PNGDecoder {
    /// The samples of a one-channel PNG as class indices (see `LabelImage`).
    static func decodeLabels(_ bytes: UnsafeBufferPointer<UInt8>, header: Header) throws -> LabelImage {
        switch header.colorType {
        case 0, 3: break
        case 2: throw InputError("a label map must hold class indices (8-bit gray or palette PNG), this is an RGB PNG, whose colours are not indices")
        case 6: throw InputError("a label map must hold class indices (8-bit gray or palette PNG), this is an RGBA PNG, whose colours are not indices")
        default: throw InputError("a label map must hold class indices (8-bit gray or palette PNG), this is a gray+alpha PNG")
        }
        let width = header.width, height = header.height, count = width * height
        return try withSamples(bytes, header: header) { samples, _ in
            var indices = [UInt8](repeating: 0, count: count)
            switch (header.colorType, header.bitDepth) {
            case (0, 16):
                for i in 0..<count {
                    let value = Int(samples[2 * i]) << 8 | Int(samples[2 * i + 1])
                    guard value <= 255 else {
                        throw InputError("16-bit label map value \(value) at x \(i % width), y \(i / width) is above 255, the largest class index read")
                    }
                    indices[i] = UInt8(value)
                }
            case (0, 2), (0, 4):
                // Pillow unpacks 2- and 4-bit gray to the full 0...255 range before numpy sees it.
                let scale = UInt8(255 / ((1 << header.bitDepth) - 1))
                for i in 0..<count { indices[i] = samples[i] &* scale }
            default:
                // 8-bit gray, 1-bit gray (numpy's False/True) and palette indices: the samples themselves.
                for i in 0..<count { indices[i] = samples[i] }
            }
            return LabelImage(width: width, height: height, indices: indices)
        }
    }
}
