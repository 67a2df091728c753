import Datasets
import Foundation
import TensorCore

/// The pictures a diagnostic runs on: every picture in a folder, the paths listed in a text
/// file, or `count` pictures drawn class by class from a benchmark with a seed.
public enum AnalysisImages {
    public static let extensions: Set<String> = ["png", "jpg", "jpeg", "tif", "tiff"]

    /// The pictures (PNG, JPEG, TIFF) directly inside `folder`, sorted by name.
    public static func inFolder(_ folder: URL) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InputError("--images \(folder.path): no such folder")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { extensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }
            .sorted()
        guard !names.isEmpty else { throw InputError("--images \(folder.path): no PNG, JPEG or TIFF pictures in the folder") }
        return names.map { folder.appendingPathComponent($0).path }
    }

    /// One picture path per line, relative to the list's folder (absolute paths stay as they
    /// are); blank lines and lines starting with `#` are skipped.
    public static func listed(in list: URL) throws -> [String] {
        let data = try readFile(list, what: "image list")
        guard let text = String(data: data, encoding: .utf8) else { throw InputError("\(list.path): not UTF-8 text (expected one picture path per line)") }
        let folder = list.deletingLastPathComponent()
        let paths = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            .map { $0.hasPrefix("/") ? $0 : folder.appendingPathComponent($0).path }
        guard !paths.isEmpty else { throw InputError("\(list.path): lists no pictures") }
        return paths
    }

    /// `count` pictures of `dataset`, drawn class by class in turn with `seed` (as the domain
    /// adaptation draws them), as absolute paths.
    public static func drawn(from dataset: TargetDataset, count: Int, seed: UInt64) throws -> [String] {
        let total = dataset.allSamples.count
        guard count >= 1 else { throw InputError("--count \(count): expected at least 1 picture") }
        guard count <= total else {
            throw InputError("--count \(count): the \(dataset.kind.rawValue) set at \(dataset.root.path) has \(total) pictures")
        }
        if count == total { return dataset.allSamples.map { dataset.url($0.image).path } }
        return try DomainAdaptationSet.draw(from: dataset, count: count, seed: seed).samples.map { dataset.url($0.image).path }
    }
}
