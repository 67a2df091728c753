import Foundation

/// What a file is, judged from its first bytes, so that a file given where another kind is
/// expected (a `.pt` checkpoint to `masker show`, a picture to `inspect`) is named for what it
/// is instead of being misread as the expected format ("header length 578712552184433488").
public enum FileKind: Equatable, Sendable {
    /// A zip archive: what `torch.save` writes since PyTorch 1.6.
    case torchZip
    /// A bare pickle stream (protocol 2 or later): `torch.save`'s legacy format, or any pickle.
    case pickle
    case safetensors
    case npy
    case png
    case jpeg
    case tiff
    /// Text starting with `{` or `[`: JSON such as a cdfss report.
    case json
    case unknown

    /// How messages name the kind.
    public var title: String {
        switch self {
        case .torchZip: return "a PyTorch checkpoint (zip archive, as torch.save writes)"
        case .pickle: return "a pickle stream (PyTorch's legacy torch.save format)"
        case .safetensors: return "a safetensors file"
        case .npy: return "a NumPy .npy array"
        case .png: return "a PNG picture"
        case .jpeg: return "a JPEG picture"
        case .tiff: return "a TIFF picture"
        case .json: return "JSON text"
        case .unknown: return "a file of unknown kind"
        }
    }

    /// The kind of a file from its first bytes (`prefix` needs at most 16).
    public static func sniff(_ prefix: Data) -> FileKind {
        let bytes = [UInt8](prefix.prefix(16))
        func starts(_ magic: [UInt8]) -> Bool { bytes.starts(with: magic) }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) { return .torchZip }
        if starts([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) { return .npy }
        if starts([0x89, 0x50, 0x4E, 0x47]) { return .png }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if bytes.count >= 2, bytes[0] == 0x80, (2...5).contains(bytes[1]) { return .pickle }
        // Safetensors: an 8-byte little-endian header length, then the JSON header.
        if bytes.count >= 9, bytes[8] == UInt8(ascii: "{") { return .safetensors }
        if let first = bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }),
           first == UInt8(ascii: "{") || first == UInt8(ascii: "[") { return .json }
        return .unknown
    }

    /// The kind of the file at `url` (`.unknown` when it cannot be read).
    public static func sniff(_ url: URL) -> FileKind {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return .unknown }
        defer { try? handle.close() }
        return sniff((try? handle.read(upToCount: 16)) ?? Data())
    }
}
