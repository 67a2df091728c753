import Foundation

/// What a file is, judged from its first bytes, for errors when a file of one kind is given
/// where another is expected (a `.pt` checkpoint to `masker show`, a picture to `masker
/// apply`): naming what the file is helps more than what its bytes mean in the wrong format.
public enum FileSignature {
    /// "a PyTorch checkpoint (zip archive)" and the like, or nil when the bytes match no
    /// format we know.
    public static func describe(_ data: Data) -> String? {
        let head = [UInt8](data.prefix(16))
        func starts(_ magic: [UInt8]) -> Bool { head.starts(with: magic) }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) {
            return "a zip archive (a PyTorch checkpoint as torch.save writes it)"
        }
        // torch's legacy format opens with a protocol-2 pickle of its magic number.
        if starts([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]) {
            return "a PyTorch checkpoint in torch's legacy format"
        }
        // Safetensors: a little-endian header length that fits the file, then a JSON object.
        // Tested before the pickle, whose two-byte signature such a length can start with.
        if head.count >= 9, head[8] == UInt8(ascii: "{"),
           data.count >= 8, data.withUnsafeBytes({ UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }) <= UInt64(data.count - 8) {
            return "a safetensors file"
        }
        if head.count >= 2, head[0] == 0x80, (2...5).contains(head[1]) { return "a Python pickle" }
        if starts([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) { return "a NumPy .npy array" }
        if starts([0x89, 0x50, 0x4E, 0x47]) { return "a PNG image" }
        if starts([0xFF, 0xD8, 0xFF]) { return "a JPEG image" }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A])
            || starts([0x49, 0x49, 0x2B, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2B]) {
            return "a TIFF image"
        }
        if starts(Array("GIF8".utf8)) { return "a GIF image" }
        if starts([0x1F, 0x8B]) { return "a gzip file" }
        if starts([0x89, 0x48, 0x44, 0x46]) { return "an HDF5 file" }
        if let first = head.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }),
           first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
            return "JSON text"
        }
        return nil
    }
}
