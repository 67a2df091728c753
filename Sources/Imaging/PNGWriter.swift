import CPNG
import Foundation
import TensorCore

/// PNG encoding with libpng's simplified API (which catches libpng's errors itself), and
/// writing through `AtomicFile`, so a reader never sees half a picture.
public enum PNGWriter {
    /// The PNG bytes of an 8-bit RGB picture.
    public static func encode(_ image: RGBImage) throws -> Data {
        try encode(image.pixels, width: image.width, height: image.height, format: UInt32(PNG_FORMAT_RGB))
    }

    /// The PNG bytes of an 8-bit gray picture (mode L). A 0/1 mask looks black: scale it
    /// first (`visibleMask`).
    public static func encode(_ image: GrayImage) throws -> Data {
        try encode(image.pixels, width: image.width, height: image.height, format: UInt32(PNG_FORMAT_GRAY))
    }

    private static func encode(_ pixels: [UInt8], width: Int, height: Int, format: UInt32) throws -> Data {
        guard width > 0, height > 0 else { throw InputError("cannot write an empty \(width)x\(height) picture as PNG") }
        guard width <= Int(Int32.max) / 4, height <= Int(Int32.max) else {
            throw InputError("cannot write a \(width)x\(height) picture as PNG (too large)")
        }
        // One compression pass into a buffer of zlib's worst-case size (libpng's
        // PNG_IMAGE_PNG_SIZE_MAX, a macro Swift cannot import: filtered rows plus stored-block
        // overhead and chunk headers). Should libpng need more, it says how much, and a second
        // pass with that size fits.
        let raw = height * (1 + pixels.count / height)
        var capacity = raw + raw / 8 + raw / 64 + 12 * (raw / 8192 + 1) + 4096
        for _ in 0..<2 {
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            image.width = UInt32(width)
            image.height = UInt32(height)
            image.format = format
            // Pictures are written often (panels, heatmaps); libpng's default tries every
            // row filter at the strongest compression, about 20 times slower for ~10% smaller files.
            image.flags = UInt32(PNG_IMAGE_FLAG_FAST)
            defer { png_image_free(&image) }
            var data = Data(count: capacity)
            var size = png_alloc_size_t(capacity)
            let ok = pixels.withUnsafeBytes { buffer in
                data.withUnsafeMutableBytes { out in
                    png_image_write_to_memory(&image, out.baseAddress, &size, 0, buffer.baseAddress, 0, nil)
                }
            }
            if ok != 0 {
                data.count = Int(size)
                return data
            }
            guard Int(size) > capacity else { throw InputError("cannot encode PNG (\(message(of: &image)))") }
            capacity = Int(size)
        }
        throw InputError("cannot encode PNG: libpng asked for ever more room")
    }

    private static func message(of image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

extension RGBImage {
    /// Writes the picture as a PNG file, atomically.
    public func writePNG(to url: URL) throws {
        do {
            try AtomicFile.write(PNGWriter.encode(self), to: url)
        } catch let error as InputError where !error.message.hasPrefix(url.path) {
            throw InputError("\(url.path): \(error.message)")
        }
    }
}

extension GrayImage {
    /// Writes the picture as an 8-bit gray PNG file, atomically.
    public func writePNG(to url: URL) throws {
        do {
            try AtomicFile.write(PNGWriter.encode(self), to: url)
        } catch let error as InputError where !error.message.hasPrefix(url.path) {
            throw InputError("\(url.path): \(error.message)")
        }
    }
}
