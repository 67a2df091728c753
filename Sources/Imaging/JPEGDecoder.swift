import CJPEG
import Foundation
import TensorCore

/// JPEG decoding with libjpeg(-turbo), set up as PIL sets it up: the accurate integer
/// IDCT, fancy upsampling, gray files as L, three-component files as RGB, four-component
/// files as CMYK, stored inverted ("CMYK;I", PIL's assumption of Adobe conventions) and
/// turned into RGB by PIL's formula R = (255 - K') - (C' (255 - K') + rounding) / 255.
/// The EXIF orientation is ignored, as `Image.open` ignores it.
///
/// Errors: the marker structure is checked in Swift first (SOI, segment lengths, SOF
/// before SOS, 8-bit samples, non-zero size, 1, 3 or 4 components), so damaged headers
/// are refused with a precise message. A file that ends early is refused too (libjpeg
/// would pad it with gray, PIL raises "image file is truncated"). Other libjpeg warnings
/// (corrupt entropy data, extraneous bytes) are ignored as PIL ignores them; libjpeg's
/// fatal errors return through the landing points of the CJPEG shim's wrappers.
enum JPEGDecoder {
    struct Frame {
        var width: Int
        var height: Int
        var components: Int
    }

    static func decode(_ data: Data) throws -> DecodedImage {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            let frame = try checkStructure(bytes)
            return try decodeScanlines(bytes, frame: frame)
        }
    }

    // MARK: structure

    /// Walks every marker and scan up to EOI and returns the frame header. The whole file is
    /// walked before libjpeg starts, so that a file cut short is refused at once (libjpeg would
    /// decode a whole progressive picture of gray from the first bytes of a scan), and a file
    /// with more than `InputLimits.jpegScans` scans too (each scan is a pass over the picture).
    static func checkStructure(_ bytes: UnsafeBufferPointer<UInt8>) throws -> Frame {
        let count = bytes.count
        guard count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8 else { throw InputError("not a JPEG file (no SOI marker)") }
        var offset = 2
        var frame: Frame?
        var scans = 0
        while true {
            guard offset < count else {
                if scans > 0 {
                    throw InputError("JPEG is truncated (the image data ends early: no EOI marker after scan \(scans))")
                }
                throw InputError("JPEG is truncated (file ends at byte \(count) before the image data)")
            }
            guard bytes[offset] == 0xFF else {
                throw InputError("JPEG is corrupt (expected a marker at byte \(offset), found 0x\(String(bytes[offset], radix: 16)))")
            }
            while offset < count && bytes[offset] == 0xFF { offset += 1 }  // fill bytes
            guard offset < count else { throw InputError("JPEG is truncated (file ends inside a marker)") }
            let marker = bytes[offset]
            let markerAt = offset - 1
            offset += 1
            let name = "0x" + String(marker, radix: 16, uppercase: true)
            switch marker {
            case 0x01, 0xD0...0xD7:
                continue  // stand-alone markers carry no segment
            case 0xD8:
                throw InputError("JPEG is corrupt (second SOI marker at byte \(markerAt))")
            case 0xD9:
                guard let frame, scans > 0 else {
                    throw InputError("JPEG has no image data (EOI at byte \(markerAt) before any scan)")
                }
                return frame
            case 0x02...0xBF, 0xC8, 0xDF, 0xF0...0xFD:
                throw InputError("JPEG is corrupt (unknown marker \(name) at byte \(markerAt))")
            default:
                break
            }
            guard offset + 2 <= count else { throw InputError("JPEG is truncated (file ends inside the \(name) marker)") }
            let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            guard length >= 2 else { throw InputError("JPEG is corrupt (marker \(name) at byte \(markerAt) has length \(length))") }
            guard offset + length <= count else {
                throw InputError("JPEG is truncated (marker \(name) at byte \(markerAt) needs \(length) bytes, \(count - offset) remain)")
            }
            let segment = offset + 2
            switch marker {
            case 0xC0, 0xC1, 0xC2, 0xC9, 0xCA:
                // Baseline, extended, progressive; Huffman or arithmetic coding.
                guard frame == nil else { throw InputError("JPEG is corrupt (two frame headers)") }
                guard length >= 8 else { throw InputError("JPEG is corrupt (short frame header)") }
                let precision = Int(bytes[segment])
                let height = Int(bytes[segment + 1]) << 8 | Int(bytes[segment + 2])
                let width = Int(bytes[segment + 3]) << 8 | Int(bytes[segment + 4])
                let components = Int(bytes[segment + 5])
                guard precision == 8 else {
                    throw InputError("JPEG with \(precision)-bit samples is not supported (8-bit JPEG is)")
                }
                try checkImageSize(width: width, height: height, format: "JPEG")
                guard [1, 3, 4].contains(components) else {
                    throw InputError("JPEG with \(components) components is not supported (1, 3 or 4 are)")
                }
                guard length == 8 + 3 * components else { throw InputError("JPEG is corrupt (bad frame header length)") }
                for c in 0..<components {
                    let sampling = bytes[segment + 7 + 3 * c]
                    let h = sampling >> 4, v = sampling & 15
                    guard (1...4).contains(h), (1...4).contains(v), bytes[segment + 8 + 3 * c] < 4 else {
                        throw InputError("JPEG is corrupt (bad sampling factors or table number in the frame header)")
                    }
                }
                frame = Frame(width: width, height: height, components: components)
            case 0xC3, 0xC7, 0xCB, 0xCF:
                throw InputError("lossless JPEG is not supported")
            case 0xC5, 0xC6, 0xCD, 0xCE, 0xDE:
                throw InputError("hierarchical JPEG is not supported")
            case 0xDA:
                guard frame != nil else { throw InputError("JPEG is corrupt (scan before the frame header)") }
                scans += 1
                guard scans <= InputLimits.jpegScans else {
                    throw InputError("JPEG has more than \(InputLimits.jpegScans) scans (encoders write about ten; each scan is another pass over the picture)")
                }
                offset = endOfEntropyCodedData(bytes, from: offset + length)
                continue
            default:
                break
            }
            offset += length
        }
    }

    /// Where the entropy-coded data starting at `start` ends: at the first marker that is
    /// not a stuffed zero (0xFF 0x00) or a restart marker, or at the end of the file.
    static func endOfEntropyCodedData(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var offset = start
        let count = bytes.count
        while offset < count {
            guard bytes[offset] == 0xFF else {
                offset += 1
                continue
            }
            guard offset + 1 < count else { return count }
            let next = bytes[offset + 1]
            if next == 0x00 || (0xD0...0xD7).contains(next) {
                offset += 2
            } else if next == 0xFF {
                offset += 1  // a fill byte before a marker
            } else {
                return offset
            }
        }
        return count
    }

    // MARK: decoding

    private static func decodeScanlines(_ bytes: UnsafeBufferPointer<UInt8>, frame: Frame) throws -> DecodedImage {
        let width = frame.width, height = frame.height, components = frame.components
        let rowBytes = width * components
        let raw = UnsafeMutablePointer<UInt8>.allocate(capacity: rowBytes * height)
        defer { raw.deallocate() }
        // libjpeg's structures live in memory owned here; its failures return through the
        // landing points of the shim's wrappers, and jpeg_destroy frees all it allocated.
        let decompressor = UnsafeMutablePointer<jpeg_decompress_struct>.allocate(capacity: 1)
        let errors = UnsafeMutablePointer<cdfss_jpeg_errors>.allocate(capacity: 1)
        memset(decompressor, 0, MemoryLayout<jpeg_decompress_struct>.size)
        var created = false
        defer {
            if created { jpeg_destroy_decompress(decompressor) }
            decompressor.deallocate()
            errors.deallocate()
        }
        func failure() -> InputError {
            let message = withUnsafeBytes(of: &errors.pointee.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            return InputError("JPEG is corrupt (\(message))")
        }

        guard cdfss_jpeg_create(decompressor, errors, bytes.baseAddress!, UInt(bytes.count)) != 0 else { throw failure() }
        created = true
        guard cdfss_jpeg_read_header(decompressor) != 0 else { throw failure() }
        switch components {
        case 1: decompressor.pointee.out_color_space = JCS_GRAYSCALE
        case 3: decompressor.pointee.out_color_space = JCS_RGB
        default: decompressor.pointee.out_color_space = JCS_CMYK
        }
        decompressor.pointee.dct_method = JDCT_ISLOW
        decompressor.pointee.do_fancy_upsampling = 1
        guard cdfss_jpeg_start_decompress(decompressor) != 0 else { throw failure() }
        let d = decompressor.pointee
        guard Int(d.output_width) == width, Int(d.output_height) == height, Int(d.output_components) == components else {
            throw InputError("JPEG is corrupt (libjpeg delivers \(d.output_width)x\(d.output_height)x\(d.output_components), expected \(width)x\(height)x\(components))")
        }
        while decompressor.pointee.output_scanline < decompressor.pointee.output_height {
            // A file that ran out of data is refused at once rather than decoded to the end as gray.
            if errors.pointee.truncated != 0 { break }
            guard cdfss_jpeg_read_scanline(decompressor, raw + Int(decompressor.pointee.output_scanline) * rowBytes) != 0 else {
                throw failure()
            }
        }
        if errors.pointee.truncated == 0 {
            guard cdfss_jpeg_finish_decompress(decompressor) != 0 else { throw failure() }
        }
        if errors.pointee.truncated != 0 { throw InputError("JPEG is truncated (the image data ends early)") }

        let pixelCount = width * height
        switch components {
        case 1:
            return .gray(GrayImage(width: width, height: height, pixels: Array(UnsafeBufferPointer(start: raw, count: pixelCount))))
        case 3:
            return .rgb(RGBImage(width: width, height: height, pixels: Array(UnsafeBufferPointer(start: raw, count: pixelCount * 3))))
        default:
            let pixels = [UInt8](unsafeUninitializedCapacity: pixelCount * 3) { out, initialized in
                for i in 0..<pixelCount {
                    // PIL stores libjpeg's CMYK inverted; with stored = 255 - raw, its
                    // 255 - K_stored is the raw K and C_stored is 255 - raw C.
                    let k = Int(raw[4 * i + 3])
                    for c in 0..<3 {
                        let t = (255 - Int(raw[4 * i + c])) * k + 128
                        let scaled = ((t >> 8) + t) >> 8
                        out[3 * i + c] = UInt8(max(0, min(255, k - scaled)))
                    }
                }
                initialized = pixelCount * 3
            }
            return .rgb(RGBImage(width: width, height: height, pixels: pixels))
        }
    }
}
