import Foundation

/// The file formats cdfss writes, and the check that an output's name says which one it gets:
/// a picture named `x.jpg` holding PNG bytes, or a masker named `m.npy`, would be misread by
/// the next program that opens it. cdfss writes one format per output, so a name whose
/// extension is another format's, or that has none, is refused before any work.
public enum OutputFormat: String, Sendable {
    case png
    case npy
    case safetensors
    case json
    /// A self-contained report page (`--html`).
    case html

    /// What the format is called in messages.
    public var title: String {
        switch self {
        case .png: return "PNG"
        case .npy: return "a NumPy .npy array"
        case .safetensors: return "safetensors"
        case .json: return "JSON"
        case .html: return "HTML"
        }
    }

    /// Checks that `path`, given with `option`, ends in `.<format>` (any letter case).
    public func check(_ path: String, option: String) throws {
        let found = URL(fileURLWithPath: path).pathExtension
        guard found.lowercased() != rawValue else { return }
        let named = found.isEmpty ? "has no extension" : "ends in .\(found)"
        throw InputError("\(option) \(path): this output is written as \(title), but the name \(named); give a name ending in .\(rawValue)")
    }
}
