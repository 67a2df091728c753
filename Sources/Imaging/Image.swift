import Foundation
import TensorCore

/// An 8-bit RGB picture: `width * height * 3` bytes, row by row, R G B interleaved.
public struct RGBImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "negative image size \(width)x\(height)")
        precondition(pixels.count == width * height * 3,
                     "a \(width)x\(height) RGB image needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A gray picture as RGB, each gray value copied to the three channels (PIL's `convert('RGB')` of an L image).
    public init(_ gray: GrayImage) {
        var pixels = [UInt8](repeating: 0, count: gray.width * gray.height * 3)
        pixels.withUnsafeMutableBufferPointer { out in
            gray.pixels.withUnsafeBufferPointer { source in
                for i in 0..<source.count {
                    let v = source[i]
                    out[3 * i] = v
                    out[3 * i + 1] = v
                    out[3 * i + 2] = v
                }
            }
        }
        self.init(width: gray.width, height: gray.height, pixels: pixels)
    }

    /// Reads a PNG, JPEG or TIFF file as PIL's `Image.open(url).convert('RGB')` does.
    public init(contentsOf url: URL) throws {
        self = try DecodedImage(contentsOf: url).rgb
    }
}

/// An 8-bit one-channel picture (PIL mode "L"): `width * height` bytes, row by row.
/// Masks are GrayImages too, either with their 0...255 values or binarised to 0/1.
public struct GrayImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "negative image size \(width)x\(height)")
        precondition(pixels.count == width * height,
                     "a \(width)x\(height) gray image needs \(width * height) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The ITU-R 601-2 luma of an RGB picture, computed as PIL's `convert('L')` does:
    /// L = (19595 R + 38470 G + 7471 B + 2^15) >> 16, the weights 0.299, 0.587, 0.114
    /// in 16-bit fixed point with rounding. (Checked against Pillow on random pixels.)
    public init(_ rgb: RGBImage) {
        var pixels = [UInt8](repeating: 0, count: rgb.width * rgb.height)
        pixels.withUnsafeMutableBufferPointer { out in
            rgb.pixels.withUnsafeBufferPointer { source in
                for i in 0..<out.count {
                    let r = UInt32(source[3 * i]), g = UInt32(source[3 * i + 1]), b = UInt32(source[3 * i + 2])
                    out[i] = UInt8(truncatingIfNeeded: (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
                }
            }
        }
        self.init(width: rgb.width, height: rgb.height, pixels: pixels)
    }

    /// Reads a PNG, JPEG or TIFF file as PIL's `Image.open(url).convert('L')` does
    /// (the way segmentation masks are loaded).
    public init(contentsOf url: URL) throws {
        self = try DecodedImage(contentsOf: url).gray
    }

    /// 1 where the value is at least `threshold`, 0 elsewhere (masks: `mask >= 128`).
    public func binarized(threshold: UInt8 = 128) -> GrayImage {
        GrayImage(width: width, height: height, pixels: pixels.map { $0 >= threshold ? 1 : 0 })
    }
}

/// A decoded file before the caller picks RGB or L. Every file format reduces to one of
/// two cases, because PIL's conversions to RGB and to L only depend on whether the source
/// was gray (L, LA, 1, I;16: the value is copied) or coloured (RGB, RGBA, P, CMYK: the
/// luma formula applies). Alpha channels are dropped without compositing, as PIL does.
public enum DecodedImage: Equatable, Sendable {
    case gray(GrayImage)
    case rgb(RGBImage)

    public var width: Int {
        switch self {
        case .gray(let image): return image.width
        case .rgb(let image): return image.width
        }
    }

    public var height: Int {
        switch self {
        case .gray(let image): return image.height
        case .rgb(let image): return image.height
        }
    }

    /// PIL's `convert('RGB')`.
    public var rgb: RGBImage {
        switch self {
        case .gray(let image): return RGBImage(image)
        case .rgb(let image): return image
        }
    }

    /// PIL's `convert('L')`.
    public var gray: GrayImage {
        switch self {
        case .gray(let image): return image
        case .rgb(let image): return GrayImage(image)
        }
    }

    /// Reads and decodes a file; errors name the file.
    public init(contentsOf url: URL) throws {
        let data = try readFile(url, what: "image")
        self = try DecodedImage(decoding: data, source: url.path)
    }

    /// Decodes PNG, JPEG or TIFF bytes; the format comes from the first bytes, not from a
    /// file name. `source` names the bytes in error messages (usually the path).
    public init(decoding data: Data, source: String) throws {
        do {
            guard !data.isEmpty else { throw InputError("image file is empty") }
            guard let format = ImageFormat(detecting: data) else {
                throw InputError(ImageFormat.describeUnknown(data))
            }
            let decoded: DecodedImage
            switch format {
            case .png: decoded = try PNGDecoder.decode(data)
            case .jpeg: decoded = try JPEGDecoder.decode(data)
            case .tiff: decoded = try TIFFDecoder.decode(data)
            }
            guard decoded.width > 0, decoded.height > 0 else {
                throw InputError("\(format.name) image has zero size (\(decoded.width)x\(decoded.height))")
            }
            self = decoded
        } catch let error as InputError {
            throw InputError("\(source): \(error.message)")
        }
    }
}

/// The image formats we decode, recognised by their first bytes.
public enum ImageFormat: String, Sendable {
    case png, jpeg, tiff

    public init?(detecting data: Data) {
        let head = [UInt8](data.prefix(8))
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            self = .png
        } else if head.starts(with: [0xFF, 0xD8, 0xFF]) {
            self = .jpeg
        } else if head.starts(with: [0x49, 0x49, 0x2A, 0x00]) || head.starts(with: [0x4D, 0x4D, 0x00, 0x2A])
                    || head.starts(with: [0x49, 0x49, 0x2B, 0x00]) || head.starts(with: [0x4D, 0x4D, 0x00, 0x2B]) {
            self = .tiff  // classic TIFF and BigTIFF, either byte order
        } else {
            return nil
        }
    }

    var name: String {
        switch self {
        case .png: return "PNG"
        case .jpeg: return "JPEG"
        case .tiff: return "TIFF"
        }
    }

    /// Says what an unrecognised file seems to be, so the user knows what to convert.
    static func describeUnknown(_ data: Data) -> String {
        let head = [UInt8](data.prefix(12))
        let known: [(String, [UInt8])] = [
            ("GIF", Array("GIF8".utf8)), ("BMP", Array("BM".utf8)), ("WebP", Array("RIFF".utf8)),
            ("PNG (damaged signature)", [0x89, 0x50, 0x4E, 0x47]), ("JPEG 2000", [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50]),
        ]
        for (name, magic) in known where head.starts(with: magic) {
            return "unsupported image format \(name) (PNG, JPEG and TIFF are read)"
        }
        let hex = head.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        return "unknown image format (first bytes \(hex)); PNG, JPEG and TIFF are read"
    }
}

/// Refuses a picture beyond `InputLimits.imagePixels` from its declared size, before
/// anything is allocated for it; the limit also keeps every byte count of the decoders
/// (pixels x channels x 2 bytes) far from overflowing.
func checkImageSize(width: Int, height: Int, format: String) throws {
    guard width > 0, height > 0 else {
        throw InputError("\(format) image has zero size (\(width)x\(height))")
    }
    guard width <= InputLimits.imagePixels / height else {
        throw InputError("\(format) image is too large (\(width)x\(height); at most \(InputLimits.imagePixels) pixels are read)")
    }
}
