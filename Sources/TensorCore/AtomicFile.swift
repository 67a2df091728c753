import Foundation

/// Writes files so that a reader never sees half of one: the bytes go to a temporary file
/// beside the destination, which is then renamed over it.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw InputError("\(url.path): cannot write, folder \(directory.path) does not exist")
        }
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).partial")
        do {
            try data.write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw InputError("\(url.path): cannot write (\(error.localizedDescription))")
        }
        if rename(temporary.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw InputError("\(url.path): cannot write (\(reason))")
        }
    }
}

/// Reads a whole file, with an error that names it when it is missing or unreadable.
public func readFile(_ url: URL, what: String = "file") throws -> Data {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
        throw InputError("\(url.path): \(what) not found")
    }
    if isDirectory.boolValue { throw InputError("\(url.path): is a folder, expected a \(what)") }
    do {
        return try Data(contentsOf: url, options: .mappedIfSafe)
    } catch {
        throw InputError("\(url.path): cannot read \(what) (\(error.localizedDescription))")
    }
}
