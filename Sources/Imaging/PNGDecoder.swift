import CPNG
import Foundation
import TensorCore

/// PNG decoding with libpng, giving what PIL gives after `convert('RGB')` / `convert('L')`:
///
/// - 1, 2 and 4-bit gray are scaled to 0...255 (x255, x85, x17); 8-bit gray is kept.
/// - 16-bit gray (PIL mode "I;16") is clipped to 255, as PIL's I;16 -> L conversion does:
///   a value of 1000 becomes 255, not 3. Masks stored as 16-bit 0/1 therefore stay 0/1.
/// - 16-bit RGB, RGBA and gray+alpha keep the high byte of each sample (PIL's "RGB;16B"
///   and "LA;16B" unpacking), not a rounded v/257.
/// - Palette images take their colours from PLTE; indices past the palette are black.
/// - Alpha (a channel or tRNS) is dropped without compositing; gAMA, sRGB, iCCP and sBIT
///   are ignored: the stored values are returned as they are.
///
/// Before libpng sees the bytes, the chunk structure is walked in Swift: signature,
/// IHDR, chunk lengths, the CRC of every critical chunk, IDAT and IEND present. That
/// refuses truncated and damaged files with a precise message; libpng's own errors return
/// through the landing points of the CPNG shim's wrappers.
enum PNGDecoder {
    struct Header {
        var width: Int
        var height: Int
        var bitDepth: Int
        var colorType: Int
        var interlaced: Bool

        var channels: Int {
            switch colorType {
            case 0, 3: return 1
            case 4: return 2
            case 2: return 3
            default: return 4
            }
        }
    }

    static func decode(_ data: Data) throws -> DecodedImage {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            let header = try checkStructure(bytes)
            return try decodeRows(bytes, header: header)
        }
    }

    // MARK: structure

    /// Walks the chunks and returns the IHDR fields; throws on anything libpng would
    /// refuse for structural reasons.
    static func checkStructure(_ bytes: UnsafeBufferPointer<UInt8>) throws -> Header {
        let count = bytes.count
        guard count >= 8, Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else {
            throw InputError("not a PNG file (bad signature)")
        }
        func u32(_ at: Int) -> Int {
            Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        }
        var offset = 8
        var header: Header?
        var sawPalette = false
        var sawData = false
        var dataBytes = 0
        while true {
            guard offset + 8 <= count else {
                throw InputError("PNG is truncated (file ends at byte \(count) before the IEND chunk)")
            }
            let length = u32(offset)
            let typeBytes = Array(bytes[(offset + 4)..<(offset + 8)])
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard typeBytes.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                throw InputError("PNG is corrupt (invalid chunk type at byte \(offset))")
            }
            guard length <= 0x7FFF_FFFF else {
                throw InputError("PNG is corrupt (chunk \(type) at byte \(offset) has invalid length \(length))")
            }
            guard offset + 12 + length <= count else {
                throw InputError("PNG is truncated (chunk \(type) at byte \(offset) needs \(length + 12) bytes, \(count - offset) remain)")
            }
            let critical = typeBytes[0] & 0x20 == 0
            if critical {
                let stored = UInt32(u32(offset + 8 + length))
                let computed = CRC32.checksum(UnsafeBufferPointer(rebasing: bytes[(offset + 4)..<(offset + 8 + length)]))
                guard stored == computed else {
                    throw InputError("PNG is corrupt (CRC mismatch in chunk \(type) at byte \(offset))")
                }
            }
            if header == nil && type != "IHDR" {
                throw InputError("PNG is corrupt (first chunk is \(type), not IHDR)")
            }
            switch type {
            case "IHDR":
                guard header == nil, length == 13 else { throw InputError("PNG is corrupt (bad IHDR chunk)") }
                let at = offset + 8
                let h = Header(width: u32(at), height: u32(at + 4), bitDepth: Int(bytes[at + 8]),
                               colorType: Int(bytes[at + 9]), interlaced: bytes[at + 12] == 1)
                try checkImageSize(width: h.width, height: h.height, format: "PNG")
                let allowedDepths: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
                guard let depths = allowedDepths[h.colorType], depths.contains(h.bitDepth) else {
                    throw InputError("PNG is corrupt (colour type \(h.colorType) with bit depth \(h.bitDepth))")
                }
                guard bytes[at + 10] == 0, bytes[at + 11] == 0, bytes[at + 12] <= 1 else {
                    throw InputError("PNG is corrupt (unknown compression, filter or interlace method)")
                }
                header = h
            case "PLTE":
                sawPalette = true
            case "IDAT":
                if header!.colorType == 3 && !sawPalette {
                    throw InputError("PNG is corrupt (palette image without a PLTE chunk)")
                }
                sawData = true
                dataBytes += length
            case "IEND":
                guard sawData else { throw InputError("PNG has no image data (no IDAT chunk)") }
                try checkDataCanHoldImage(header!, dataBytes: dataBytes)
                return header!
            default:
                if critical {
                    throw InputError("PNG uses an unknown critical chunk \(type)")
                }
            }
            offset += 12 + length
        }
    }

    /// Deflate shrinks data at most 1032-fold (a 258-byte match in two bits), so IDAT chunks
    /// of n bytes hold at most about 1032 n bytes of rows. A file whose rows cannot fit is
    /// damaged (or made to make us allocate and fill a huge picture from a few kilobytes):
    /// refused before libpng starts.
    static func checkDataCanHoldImage(_ header: Header, dataBytes: Int) throws {
        // Sizes are within InputLimits.imagePixels, so these products cannot overflow.
        let rowBits = header.width * header.channels * header.bitDepth
        let rows = header.height * ((rowBits + 7) / 8)
        guard rows <= 1100 * dataBytes + 4096 else {
            throw InputError("PNG is truncated or corrupt (its \(dataBytes) bytes of image data cannot hold \(header.width)x\(header.height) pixels)")
        }
    }

    // MARK: decoding

    /// Hands `body` the image's samples as libpng delivers them (one byte per sample below 8
    /// bits, two big-endian bytes at 16, interlacing undone), row after row, and the palette
    /// (256 RGB entries, missing ones black). Shared by the picture path, which converts as PIL
    /// does, and the label path (`LabelImage`), which keeps the samples as they are.
    static func withSamples<T>(_ bytes: UnsafeBufferPointer<UInt8>, header: Header,
                               _ body: (_ samples: UnsafeBufferPointer<UInt8>, _ palette: UnsafePointer<UInt8>) throws -> T) throws -> T {
        let width = header.width, height = header.height
        // Rows as libpng delivers them with packing (one byte per sample below 8 bits)
        // and interlace handling: samples of 1 or 2 bytes, big-endian.
        let sampleBytes = header.bitDepth == 16 ? 2 : 1
        let rowBytes = width * header.channels * sampleBytes
        let rawCount = rowBytes * height
        let raw = UnsafeMutablePointer<UInt8>.allocate(capacity: rawCount)
        defer { raw.deallocate() }
        let rows = UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>.allocate(capacity: height)
        defer { rows.deallocate() }
        for y in 0..<height { rows[y] = raw + y * rowBytes }
        let palette = UnsafeMutablePointer<UInt8>.allocate(capacity: 256 * 3)
        defer { palette.deallocate() }
        palette.initialize(repeating: 0, count: 256 * 3)  // missing entries are black, as in PIL

        // libpng reads from `reader` and reports through it; its failures return through the
        // landing points of the CPNG shim's wrappers.
        let reader = UnsafeMutablePointer<cdfss_png_source>.allocate(capacity: 1)
        defer { reader.deallocate() }
        reader.initialize(to: cdfss_png_source())
        reader.pointee.data = bytes.baseAddress
        reader.pointee.size = bytes.count
        guard let created = cdfss_png_create(reader) else { throw InputError("libpng could not start (out of memory)") }
        var png: png_structp? = created
        var info: png_infop? = png_create_info_struct(png)
        defer { png_destroy_read_struct(&png, &info, nil) }
        func failure() -> InputError {
            let message = withUnsafeBytes(of: &reader.pointee.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            return InputError("PNG is corrupt (\(message))")
        }
        guard info != nil else { throw InputError("libpng could not start (out of memory)") }

        let delivered = cdfss_png_prepare(png, info, header.bitDepth < 8 ? 1 : 0, header.interlaced ? 1 : 0)
        guard delivered != 0 else { throw failure() }
        guard delivered == rowBytes else {
            throw InputError("PNG is corrupt (libpng delivers \(delivered) bytes per row, \(rowBytes) expected)")
        }
        if header.colorType == 3 {
            var colors: UnsafeMutablePointer<png_color>?
            var colorCount: Int32 = 0
            if png_get_PLTE(png, info, &colors, &colorCount) != 0, let colors {
                for i in 0..<min(Int(colorCount), 256) {
                    palette[3 * i] = colors[i].red
                    palette[3 * i + 1] = colors[i].green
                    palette[3 * i + 2] = colors[i].blue
                }
            }
        }
        guard cdfss_png_read_image(png, rows) != 0 else { throw failure() }
        return try body(UnsafeBufferPointer(start: raw, count: rawCount), UnsafePointer(palette))
    }

    private static func decodeRows(_ bytes: UnsafeBufferPointer<UInt8>, header: Header) throws -> DecodedImage {
        try withSamples(bytes, header: header) { source, palette in
            try convert(source, palette: palette, header: header)
        }
    }

    /// PIL's reading of the samples, before `convert('RGB')` or `convert('L')` picks a side.
    private static func convert(_ source: UnsafeBufferPointer<UInt8>, palette: UnsafePointer<UInt8>,
                                header: Header) throws -> DecodedImage {
        let width = header.width, height = header.height
        let sampleBytes = header.bitDepth == 16 ? 2 : 1
        let pixelCount = width * height
        switch (header.colorType, header.bitDepth) {
        case (0, let depth) where depth < 8:
            let scale = UInt8(255 / ((1 << depth) - 1))
            return .gray(GrayImage(width: width, height: height, pixels: source.map { $0 &* scale }))
        case (0, 8):
            return .gray(GrayImage(width: width, height: height, pixels: Array(source)))
        case (0, _):
            // I;16 -> L clips rather than scales.
            let pixels = [UInt8](unsafeUninitializedCapacity: pixelCount) { out, initialized in
                for i in 0..<pixelCount {
                    let v = Int(source[2 * i]) << 8 | Int(source[2 * i + 1])
                    out[i] = UInt8(min(v, 255))
                }
                initialized = pixelCount
            }
            return .gray(GrayImage(width: width, height: height, pixels: pixels))
        case (4, _):
            // Gray + alpha: the gray sample (its high byte at 16 bits), alpha dropped.
            let stride = 2 * sampleBytes
            let pixels = [UInt8](unsafeUninitializedCapacity: pixelCount) { out, initialized in
                for i in 0..<pixelCount { out[i] = source[stride * i] }
                initialized = pixelCount
            }
            return .gray(GrayImage(width: width, height: height, pixels: pixels))
        case (3, _):
            let pixels = [UInt8](unsafeUninitializedCapacity: pixelCount * 3) { out, initialized in
                for i in 0..<pixelCount {
                    let entry = Int(source[i]) * 3
                    out[3 * i] = palette[entry]
                    out[3 * i + 1] = palette[entry + 1]
                    out[3 * i + 2] = palette[entry + 2]
                }
                initialized = pixelCount * 3
            }
            return .rgb(RGBImage(width: width, height: height, pixels: pixels))
        default:
            // RGB or RGBA, 8 or 16 bits: the first byte of each of the first three samples.
            let stride = header.channels * sampleBytes
            let pixels = [UInt8](unsafeUninitializedCapacity: pixelCount * 3) { out, initialized in
                for i in 0..<pixelCount {
                    let at = stride * i
                    out[3 * i] = source[at]
                    out[3 * i + 1] = source[at + sampleBytes]
                    out[3 * i + 2] = source[at + 2 * sampleBytes]
                }
                initialized = pixelCount * 3
            }
            return .rgb(RGBImage(width: width, height: height, pixels: pixels))
        }
    }
}

/// The CRC-32 of PNG chunks (ISO 3309, polynomial 0xEDB88320, reflected).
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        table.withUnsafeBufferPointer { table in
            var c: UInt32 = 0xFFFF_FFFF
            for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
            return c ^ 0xFFFF_FFFF
        }
    }
}
