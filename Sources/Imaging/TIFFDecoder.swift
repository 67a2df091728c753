import CTIFF
import Foundation
import TensorCore

/// TIFF decoding with libtiff (first page only, as `Image.open`).
///
/// The layouts segmentation datasets use are unpacked here, row by row, the way PIL's
/// TIFF plugin unpacks them, so the values match `convert('RGB')` / `convert('L')`:
/// contiguous unsigned samples, photometric min-is-black, min-is-white (inverted) or RGB
/// at 1, 2, 4, 8 or 16 bits, palette at 1 to 8 bits (colour map values >> 8), extra
/// samples (alpha) dropped. At 16 bits gray is clipped to 255 (PIL's "I;16") and RGB keeps
/// the high byte; 16-bit min-is-white is not inverted, as PIL does not invert it.
/// Everything else (tiled files, planar separate, YCbCr, CMYK, Lab, ...) goes through
/// libtiff's RGBA interface, kept in file row order as PIL keeps it (the Orientation tag
/// is not applied). That is exact for 8-bit data; at 16 bits libtiff rounds where PIL
/// truncates, and associated alpha stays premultiplied.
///
/// libtiff reports errors through a handler and return codes, so no isolation is needed;
/// the handler collects the messages for the `InputError`.
enum TIFFDecoder {
    private final class Source {
        let base: UnsafeRawPointer
        let count: Int
        var offset = 0
        var messages: [String] = []
        init(base: UnsafeRawPointer, count: Int) {
            self.base = base
            self.count = count
        }

        func describe() -> String {
            messages.first ?? "damaged or truncated data"
        }
    }

    private struct Layout {
        var width = 0
        var height = 0
        var bitsPerSample = 1
        var samplesPerPixel = 1
        var photometric: Int?
        var planar = 1
        var sampleFormat = 1
        var tiled = false
    }

    static func decode(_ data: Data) throws -> DecodedImage {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let source = Source(base: raw.baseAddress!, count: raw.count)
            let handle = Unmanaged.passUnretained(source).toOpaque()
            guard let options = TIFFOpenOptionsAlloc() else { throw InputError("libtiff could not start (out of memory)") }
            defer { TIFFOpenOptionsFree(options) }
            TIFFOpenOptionsSetErrorHandlerExtR(options, tiffError, handle)
            TIFFOpenOptionsSetWarningHandlerExtR(options, tiffWarning, nil)
            // libtiff sizes its strip and tile buffers from the file's tags; no buffer of a
            // picture within InputLimits.imagePixels needs more than 8 bytes a pixel (16-bit
            // RGBA), so a tag asking for more is refused by libtiff instead of allocated.
            TIFFOpenOptionsSetMaxSingleMemAlloc(options, tmsize_t(8 * InputLimits.imagePixels))
            let tif = TIFFClientOpenExt("image", "r", handle, tiffRead, tiffWrite, tiffSeek, tiffClose, tiffSize,
                                        tiffMap, tiffUnmap, options)
            guard let tif else { throw InputError("TIFF is corrupt (\(source.describe()))") }
            defer { TIFFClose(tif) }
            return try withExtendedLifetime(source) { try decode(tif, source: source) }
        }
    }

    private static func decode(_ tif: OpaquePointer, source: Source) throws -> DecodedImage {
        var layout = Layout()
        layout.width = Int(field32(tif, TIFFTAG_IMAGEWIDTH) ?? 0)
        layout.height = Int(field32(tif, TIFFTAG_IMAGELENGTH) ?? 0)
        try checkImageSize(width: layout.width, height: layout.height, format: "TIFF")
        layout.bitsPerSample = Int(field16(tif, TIFFTAG_BITSPERSAMPLE, defaulted: true) ?? 1)
        layout.samplesPerPixel = Int(field16(tif, TIFFTAG_SAMPLESPERPIXEL, defaulted: true) ?? 1)
        layout.photometric = field16(tif, TIFFTAG_PHOTOMETRIC, defaulted: false).map(Int.init)
        layout.planar = Int(field16(tif, TIFFTAG_PLANARCONFIG, defaulted: true) ?? 1)
        layout.sampleFormat = Int(field16(tif, TIFFTAG_SAMPLEFORMAT, defaulted: true) ?? 1)
        layout.tiled = TIFFIsTiled(tif) != 0

        if let decoded = try decodeScanlines(tif, layout: layout, source: source) {
            return decoded
        }
        return try decodeRGBA(tif, layout: layout, source: source)
    }

    /// PIL's unpacking of the common layouts; nil when the layout is not one of them.
    private static func decodeScanlines(_ tif: OpaquePointer, layout: Layout, source: Source) throws -> DecodedImage? {
        guard !layout.tiled, layout.planar == 1, layout.sampleFormat == 1, let photometric = layout.photometric else { return nil }
        let bits = layout.bitsPerSample, samples = layout.samplesPerPixel
        let width = layout.width, height = layout.height
        enum Kind { case gray(inverted: Bool), rgb, palette }
        let kind: Kind
        switch photometric {
        case 0...1 where [1, 2, 4, 8, 16].contains(bits) && samples >= 1:
            kind = .gray(inverted: photometric == 0 && bits != 16)
        case 2 where [8, 16].contains(bits) && samples >= 3:
            kind = .rgb
        case 3 where [1, 2, 4, 8].contains(bits) && samples == 1:
            kind = .palette
        default:
            return nil
        }
        // Samples of a row, unpacked to integers one row at a time.
        let lineSize = Int(TIFFScanlineSize(tif))
        let packedBits = width * samples * bits
        guard lineSize >= (packedBits + 7) / 8 else {
            throw InputError("TIFF is corrupt (scanline of \(lineSize) bytes for \(width) pixels)")
        }
        let line = UnsafeMutableRawPointer.allocate(byteCount: lineSize, alignment: 8)
        defer { line.deallocate() }
        let outChannels: Int
        if case .gray = kind { outChannels = 1 } else { outChannels = 3 }
        var pixels = [UInt8](repeating: 0, count: width * height * outChannels)

        var colorMap: [UInt8] = []
        if case .palette = kind {
            let entries = 1 << bits
            var red: UnsafeMutablePointer<UInt16>?, green: UnsafeMutablePointer<UInt16>?, blue: UnsafeMutablePointer<UInt16>?
            let found = withVaList([withUnsafeMutablePointer(to: &red) { $0 }, withUnsafeMutablePointer(to: &green) { $0 },
                                    withUnsafeMutablePointer(to: &blue) { $0 }]) {
                TIFFVGetField(tif, UInt32(TIFFTAG_COLORMAP), $0)
            }
            guard found != 0, let red, let green, let blue else { throw InputError("palette TIFF without a colour map") }
            colorMap = [UInt8](repeating: 0, count: entries * 3)
            for i in 0..<entries {
                colorMap[3 * i] = UInt8(red[i] >> 8)
                colorMap[3 * i + 1] = UInt8(green[i] >> 8)
                colorMap[3 * i + 2] = UInt8(blue[i] >> 8)
            }
        }

        let scale = bits < 8 ? 255 / ((1 << bits) - 1) : 1
        try pixels.withUnsafeMutableBufferPointer { out in
            for y in 0..<height {
                guard TIFFReadScanline(tif, line, UInt32(y), 0) == 1 else {
                    throw InputError("TIFF is corrupt (row \(y): \(source.describe()))")
                }
                let row = out.baseAddress! + y * width * outChannels
                switch kind {
                case .gray(let inverted):
                    if bits == 16 {
                        let values = line.assumingMemoryBound(to: UInt16.self)  // libtiff swaps to host order
                        for x in 0..<width { row[x] = UInt8(min(Int(values[x * samples]), 255)) }
                    } else {
                        let bytes = line.assumingMemoryBound(to: UInt8.self)
                        for x in 0..<width {
                            let v = sample(bytes, index: x * samples, bits: bits) * scale
                            row[x] = UInt8(inverted ? 255 - v : v)
                        }
                    }
                case .rgb:
                    if bits == 16 {
                        let values = line.assumingMemoryBound(to: UInt16.self)
                        for x in 0..<width {
                            for c in 0..<3 { row[3 * x + c] = UInt8(values[x * samples + c] >> 8) }
                        }
                    } else {
                        let bytes = line.assumingMemoryBound(to: UInt8.self)
                        for x in 0..<width {
                            for c in 0..<3 { row[3 * x + c] = bytes[x * samples + c] }
                        }
                    }
                case .palette:
                    let bytes = line.assumingMemoryBound(to: UInt8.self)
                    for x in 0..<width {
                        let entry = sample(bytes, index: x, bits: bits) * 3
                        row[3 * x] = colorMap[entry]
                        row[3 * x + 1] = colorMap[entry + 1]
                        row[3 * x + 2] = colorMap[entry + 2]
                    }
                }
            }
        }
        if outChannels == 1 { return .gray(GrayImage(width: width, height: height, pixels: pixels)) }
        return .rgb(RGBImage(width: width, height: height, pixels: pixels))
    }

    /// Sample `index` of a row packed at `bits` per sample (most significant bits first).
    @inline(__always)
    private static func sample(_ bytes: UnsafeMutablePointer<UInt8>, index: Int, bits: Int) -> Int {
        if bits == 8 { return Int(bytes[index]) }
        let bit = index * bits
        let shift = 8 - bits - (bit & 7)
        return Int(bytes[bit >> 3] >> UInt8(shift)) & ((1 << bits) - 1)
    }

    /// libtiff's RGBA interface for every other layout, in file row order.
    private static func decodeRGBA(_ tif: OpaquePointer, layout: Layout, source: Source) throws -> DecodedImage {
        var reason = [CChar](repeating: 0, count: 1024)
        guard TIFFRGBAImageOK(tif, &reason) != 0 else {
            throw InputError("TIFF layout is not supported (\(String(cString: reason)))")
        }
        let width = layout.width, height = layout.height
        let orientation = Int32(field16(tif, TIFFTAG_ORIENTATION, defaulted: true) ?? 1)
        var raster = [UInt32](repeating: 0, count: width * height)
        let ok = raster.withUnsafeMutableBufferPointer {
            TIFFReadRGBAImageOriented(tif, UInt32(width), UInt32(height), $0.baseAddress, orientation, 1)
        }
        // Stop at the first damaged strip or tile rather than return a partial picture.
        guard ok != 0, source.messages.isEmpty else { throw InputError("TIFF is corrupt (\(source.describe()))") }
        let gray = layout.photometric == 0 || layout.photometric == 1
        if gray {
            return .gray(GrayImage(width: width, height: height, pixels: raster.map { UInt8(truncatingIfNeeded: $0) }))
        }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        pixels.withUnsafeMutableBufferPointer { out in
            for (i, abgr) in raster.enumerated() {
                out[3 * i] = UInt8(truncatingIfNeeded: abgr)
                out[3 * i + 1] = UInt8(truncatingIfNeeded: abgr >> 8)
                out[3 * i + 2] = UInt8(truncatingIfNeeded: abgr >> 16)
            }
        }
        return .rgb(RGBImage(width: width, height: height, pixels: pixels))
    }

    // MARK: tags (TIFFGetField is variadic, so its va_list form is used)

    private static func field32(_ tif: OpaquePointer, _ tag: Int32) -> UInt32? {
        var value: UInt32 = 0
        let found = withUnsafeMutablePointer(to: &value) { pointer in
            withVaList([pointer]) { TIFFVGetField(tif, UInt32(tag), $0) }
        }
        return found != 0 ? value : nil
    }

    private static func field16(_ tif: OpaquePointer, _ tag: Int32, defaulted: Bool) -> UInt16? {
        var value: UInt16 = 0
        let found = withUnsafeMutablePointer(to: &value) { pointer in
            withVaList([pointer]) {
                defaulted ? TIFFVGetFieldDefaulted(tif, UInt32(tag), $0) : TIFFVGetField(tif, UInt32(tag), $0)
            }
        }
        return found != 0 ? value : nil
    }

    // MARK: in-memory client procedures

    private static func source(_ handle: thandle_t?) -> Source {
        Unmanaged<Source>.fromOpaque(handle!).takeUnretainedValue()
    }

    private static let tiffRead: TIFFReadWriteProc = { handle, buffer, size in
        let s = source(handle)
        let n = max(0, min(Int(size), s.count - s.offset))
        if n > 0, let buffer { buffer.copyMemory(from: s.base + s.offset, byteCount: n) }
        s.offset += n
        return tmsize_t(n)
    }

    private static let tiffWrite: TIFFReadWriteProc = { _, _, _ in 0 }

    private static let tiffSeek: TIFFSeekProc = { handle, offset, whence in
        let s = source(handle)
        let origin: Int
        switch whence {
        case SEEK_CUR: origin = s.offset
        case SEEK_END: origin = s.count
        default: origin = 0
        }
        let target = origin + Int(Int64(bitPattern: offset))
        guard target >= 0 else { return UInt64.max }
        s.offset = target
        return UInt64(target)
    }

    private static let tiffClose: TIFFCloseProc = { _ in 0 }
    private static let tiffSize: TIFFSizeProc = { handle in UInt64(source(handle).count) }

    private static let tiffMap: TIFFMapFileProc = { handle, base, size in
        let s = source(handle)
        base?.pointee = UnsafeMutableRawPointer(mutating: s.base)
        size?.pointee = UInt64(s.count)
        return 1
    }

    private static let tiffUnmap: TIFFUnmapFileProc = { _, _, _ in }

    private static let tiffError: TIFFErrorHandlerExtR = { _, userData, module, format, arguments in
        guard let userData, let format, let arguments else { return 1 }
        var buffer = [CChar](repeating: 0, count: 512)
        _ = vsnprintf(&buffer, buffer.count, format, arguments)
        let text = String(cString: buffer)
        let s = Unmanaged<Source>.fromOpaque(userData).takeUnretainedValue()
        s.messages.append(module.map { "\(String(cString: $0)): \(text)" } ?? text)
        return 1  // handled: libtiff prints nothing
    }

    private static let tiffWarning: TIFFErrorHandlerExtR = { _, _, _, _, _ in 1 }
}
