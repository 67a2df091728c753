import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a command will write and what it reads, checked before any work: a run of an hour
/// must not end in "folder does not exist", and an output must never replace an input.
///
/// Each output file's folder must exist and be writable, and the name must not be a folder;
/// each output folder must be a folder or creatable (the nearest existing ancestor a
/// writable folder). No output may be an input, nor another output: paths are compared
/// after resolving symbolic links and `..`, and existing files by identity (device and
/// inode), so `./q.png`, a link to it and a hard link all count as `q.png`. An output folder
/// may not lie inside an input folder (pictures written into a benchmark would become part
/// of it). Errors are one line naming the option and the path.
public struct OutputCheck {
    private var files: [(option: String, path: String)] = []
    private var folders: [(option: String, path: String)] = []
    private var inputs: [(option: String, path: String)] = []
    private var inputFolders: [(option: String, path: String)] = []

    public init() {}

    /// An output file (nil: the option was not given).
    public mutating func output(_ option: String, _ path: String?) {
        if let path { files.append((option, path)) }
    }

    /// A folder the command creates if needed and writes files into.
    public mutating func outputFolder(_ option: String, _ path: String?) {
        if let path { folders.append((option, path)) }
    }

    /// An input file (nil: not given). Inputs that do not exist are left to the reader's error.
    public mutating func input(_ option: String, _ path: String?) {
        if let path { inputs.append((option, path)) }
    }

    public mutating func inputs(_ option: String, _ paths: [String]) {
        for path in paths { inputs.append((option, path)) }
    }

    /// An input folder (a benchmark tree): no output folder may lie inside it.
    public mutating func inputFolder(_ option: String, _ path: String?) {
        if let path { inputFolders.append((option, path)) }
    }

    /// Checks everything, then removes the temporaries that killed runs left where these
    /// outputs go (see `AtomicFile`), so that a run after a kill leaves no stray files.
    public func prepare() throws {
        try verify()
        let places = Set(files.map { URL(fileURLWithPath: $0.path).deletingLastPathComponent().standardizedFileURL.path }
            + folders.map { URL(fileURLWithPath: $0.path).standardizedFileURL.path })
        for place in places.sorted() { AtomicFile.removeStaleTemporaries(inFolder: URL(fileURLWithPath: place)) }
    }

    /// The checks alone.
    public func verify() throws {
        var claimed: [(option: String, path: String, place: Place)] = []
        for file in files {
            try checkFileDestination(file.option, file.path)
            let place = Place(file.path)
            if let input = inputs.first(where: { Place($0.path).isSame(as: place) }) {
                throw InputError("\(file.option) \(file.path): is the same file as \(input.option) \(input.path); an output never replaces an input")
            }
            if let other = claimed.first(where: { $0.place.isSame(as: place) }) {
                throw InputError("\(file.option) \(file.path) and \(other.option) \(other.path) name the same file; give each output its own")
            }
            claimed.append((file.option, file.path, place))
        }
        for folder in folders {
            try checkFolderDestination(folder.option, folder.path)
            let place = Place(folder.path)
            if let input = inputFolders.first(where: { place.isInside(Place($0.path)) }) {
                throw InputError("\(folder.option) \(folder.path): lies inside \(input.option) \(input.path); write outputs outside the inputs")
            }
            if let input = inputs.first(where: { Place($0.path).isSame(as: place) }) {
                throw InputError("\(folder.option) \(folder.path): is \(input.option) \(input.path), a file; give a folder")
            }
            if let other = claimed.first(where: { $0.place.isSame(as: place) }) {
                throw InputError("\(folder.option) \(folder.path) and \(other.option) \(other.path) name the same place; give each output its own")
            }
            claimed.append((folder.option, folder.path, place))
        }
    }

    private func checkFileDestination(_ option: String, _ path: String) throws {
        guard !path.isEmpty else { throw InputError("\(option): the path is empty") }
        if path.hasSuffix("/") { throw InputError("\(option) \(path): names a folder; give a file name") }
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw InputError("\(option) \(path): is a folder; give a file name")
        }
        let folder = url.deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else {
            throw InputError("\(option) \(path): folder \(folder.path) does not exist")
        }
        guard isDirectory.boolValue else { throw InputError("\(option) \(path): \(folder.path) is a file, not a folder") }
        guard access(folder.path, W_OK | X_OK) == 0 else {
            throw InputError("\(option) \(path): folder \(folder.path) is not writable")
        }
    }

    private func checkFolderDestination(_ option: String, _ path: String) throws {
        guard !path.isEmpty else { throw InputError("\(option): the path is empty") }
        var probe = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: probe.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw InputError("\(option) \(path): is a file; give a folder") }
            guard access(probe.path, W_OK | X_OK) == 0 else { throw InputError("\(option) \(path): folder is not writable") }
            return
        }
        // Created at the first write: its nearest existing ancestor must be a writable folder.
        while !FileManager.default.fileExists(atPath: probe.path, isDirectory: &isDirectory) && probe.path != "/" {
            probe = probe.deletingLastPathComponent()
        }
        guard isDirectory.boolValue else { throw InputError("\(option) \(path): \(probe.path) is a file, not a folder") }
        guard access(probe.path, W_OK | X_OK) == 0 else {
            throw InputError("\(option) \(path): cannot create it, folder \(probe.path) is not writable")
        }
    }

    /// A one-line reason for a Foundation error (its POSIX cause when there is one), instead
    /// of the NSCocoaErrorDomain dump of its description.
    public static func reason(_ error: Error) -> String {
        let bridged = error as NSError
        // On Linux the underlying error is a Swift POSIXError, which `as? NSError` does not match.
        if let underlying = bridged.userInfo[NSUnderlyingErrorKey] as? Error {
            let cause = underlying as NSError
            if cause.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(cause.code))) }
        }
        if bridged.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(bridged.code))) }
        return bridged.localizedDescription.split(separator: "\n").first.map(String.init) ?? "unknown error"
    }
}

/// Where a path leads: its resolved absolute path (symbolic links and `..` followed as far as
/// the path exists) and, when it exists, the file's identity.
private struct Place {
    let resolved: String
    let identity: (device: UInt64, inode: UInt64)?

    init(_ path: String) {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL
        var status = stat()
        if stat(absolute.path, &status) == 0 {
            identity = (UInt64(status.st_dev), UInt64(status.st_ino))
            resolved = Place.realPath(absolute.path) ?? absolute.path
        } else {
            identity = nil
            // The missing tail is kept as written under its resolved existing ancestor.
            var existing = absolute
            var tail: [String] = []
            while stat(existing.path, &status) != 0 && existing.path != "/" {
                tail.insert(existing.lastPathComponent, at: 0)
                existing = existing.deletingLastPathComponent()
            }
            let base = Place.realPath(existing.path) ?? existing.path
            resolved = ([base == "/" ? "" : base] + tail).joined(separator: "/")
        }
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    func isSame(as other: Place) -> Bool {
        if let mine = identity, let theirs = other.identity { return mine == theirs }
        return resolved == other.resolved
    }

    /// Equal to `folder` or below it.
    func isInside(_ folder: Place) -> Bool {
        isSame(as: folder) || resolved.hasPrefix(folder.resolved.hasSuffix("/") ? folder.resolved : folder.resolved + "/")
    }
}
