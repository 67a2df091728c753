import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes files so that a reader never sees half of one: the bytes go to a temporary beside
/// the destination, which is then renamed over it (see `StagedOutputs` for several files
/// published together).
///
/// Temporaries are named `.<name>.<UUID>.partial` and are locked (flock) by the process
/// writing them until they are renamed or removed. A process killed with SIGKILL cannot
/// clean up, but the kernel drops its locks, so a later run tells a dead writer's temporary
/// (unlocked) from a live one's (locked) and removes only the former
/// (`removeStaleTemporaries`).
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let staged = StagedOutputs()
        try staged.stage(data, to: url)
        try staged.commit()
    }

    /// A new name of our temporary naming for something called `name`.
    static func temporaryName(for name: String) -> String {
        ".\(name).\(UUID().uuidString).partial"
    }

    /// Whether `fileName` follows our temporary naming: `.<name>.<UUID>.partial`.
    static func isTemporaryName(_ fileName: String) -> Bool {
        let suffix = ".partial"
        guard fileName.hasPrefix("."), fileName.hasSuffix(suffix) else { return false }
        let body = fileName.dropFirst().dropLast(suffix.count)
        guard let dot = body.lastIndex(of: "."), dot > body.startIndex else { return false }
        return UUID(uuidString: String(body[body.index(after: dot)...])) != nil
    }

    /// Removes every temporary of ours in `folder` whose writer is gone (files and staging
    /// folders alike) and returns how many. A folder that cannot be read has nothing to clean.
    @discardableResult
    public static func removeStaleTemporaries(inFolder folder: URL) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return 0 }
        var removed = 0
        for name in names where isTemporaryName(name) {
            if removeIfUnlocked(folder.appendingPathComponent(name).path) { removed += 1 }
        }
        return removed
    }

    /// Removes `path` when no process holds its lock. The lock is taken first, so the writer
    /// cannot be between creating and locking it: a writer that finds its temporary gone after
    /// locking starts again under a new name (`StagingFolder.create`).
    private static func removeIfUnlocked(_ path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { return false }
        // Only what we locked: the name may have been reused since we opened it.
        var opened = stat(), named = stat()
        guard fstat(descriptor, &opened) == 0, lstat(path, &named) == 0,
              opened.st_dev == named.st_dev, opened.st_ino == named.st_ino else { return false }
        if (opened.st_mode & S_IFMT) == S_IFDIR {
            return (try? FileManager.default.removeItem(atPath: path)) != nil
        }
        return unlink(path) == 0
    }
}

/// A hidden folder of ours (`.cdfss-outputs.<UUID>.partial`) inside a destination folder,
/// locked while it lives, holding files under their destination names until they are
/// renamed into place. One lock covers any number of files, so a command writing hundreds of
/// pictures holds one descriptor per destination folder.
final class StagingFolder {
    let destinationFolder: URL
    let url: URL
    private var descriptor: Int32

    init(in destinationFolder: URL) throws {
        self.destinationFolder = destinationFolder
        func failure(_ what: String) -> InputError {
            InputError("\(destinationFolder.path): cannot write into the folder (\(what): \(String(cString: strerror(errno))))")
        }
        // A sweep of stale temporaries can remove the folder between mkdir and flock; then a
        // new name is tried (a few times: sweeps are rare, and a loop must end).
        for _ in 0..<8 {
            let candidate = destinationFolder.appendingPathComponent(AtomicFile.temporaryName(for: "cdfss-outputs"))
            guard mkdir(candidate.path, 0o700) == 0 else { throw failure("mkdir") }
            let fd = open(candidate.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else {
                let error = failure("open")
                rmdir(candidate.path)
                throw error
            }
            var status = stat()
            guard flock(fd, LOCK_EX) == 0 else {
                let error = failure("flock")
                close(fd)
                rmdir(candidate.path)
                throw error
            }
            if fstat(fd, &status) == 0, status.st_nlink > 0 {
                url = candidate
                descriptor = fd
                return
            }
            close(fd)
        }
        throw InputError("\(destinationFolder.path): cannot write into the folder (its staging folders keep disappearing)")
    }

    /// Writes `data` as `name` inside the staging folder, flushed to disk so that a rename
    /// never publishes bytes that are still only in memory.
    func write(_ data: Data, as name: String, for destination: URL) throws {
        let path = url.appendingPathComponent(name).path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw InputError("\(destination.path): cannot write (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw InputError("\(destination.path): cannot write (\(String(cString: strerror(errno))))")
                }
                offset += written
            }
        }
        guard fsync(fd) == 0 else { throw InputError("\(destination.path): cannot write (\(String(cString: strerror(errno))))") }
    }

    /// Moves the staged `name` over `destination` (same folder, so the rename is atomic).
    func publish(_ name: String, to destination: URL) throws {
        guard rename(url.appendingPathComponent(name).path, destination.path) == 0 else {
            throw InputError("\(destination.path): cannot write (\(String(cString: strerror(errno))))")
        }
    }

    /// Removes the staging folder and whatever is left in it, then lets go of the lock.
    func remove() {
        guard descriptor >= 0 else { return }
        try? FileManager.default.removeItem(at: url)
        close(descriptor)
        descriptor = -1
    }

    deinit { remove() }
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
