import Foundation
import TensorCore

/// Output folders of the diagnostics, checked before any work: the folder is created when its
/// parent exists, and must be a writable folder.
enum AnalysisOutput {
    static func prepareFolder(_ path: String, option: String) throws {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw InputError("\(option) \(path): is a file, not a folder") }
        } else {
            let parent = url.deletingLastPathComponent()
            guard FileManager.default.fileExists(atPath: parent.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw InputError("\(option) \(path): the folder \(parent.path) does not exist")
            }
            do {
                try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
            } catch {
                throw InputError("\(option) \(path): cannot create the folder (\(error.localizedDescription))")
            }
        }
        guard FileManager.default.isWritableFile(atPath: url.path) else { throw InputError("\(option) \(path): the folder is not writable") }
    }
}
