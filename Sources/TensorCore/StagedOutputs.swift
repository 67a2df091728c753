import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The outputs of one command, published together at the end: each is written into a locked
/// staging folder beside its destination as soon as it is ready (`stage`), and only `commit`
/// renames them into place. A command that fails before committing leaves none of them: the
/// staging folders are removed when it throws (or by the next run's sweep when it is killed),
/// and folders created for the outputs are removed again when they stayed empty.
public final class StagedOutputs {
    private var folders: [String: StagingFolder] = [:]
    /// Destinations in the order staged, each with its name in its staging folder.
    private var staged: [(destination: URL, folder: StagingFolder)] = []
    private var createdFolders: [URL] = []
    private var committed = false

    public init() {}

    /// Writes `data` towards `url`; it replaces `url` at `commit`. Staging the same
    /// destination twice keeps the later bytes.
    public func stage(_ data: Data, to url: URL) throws {
        precondition(!committed, "staging after commit")
        let destination = url.standardizedFileURL
        let parent = destination.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InputError("\(url.path): cannot write, folder \(parent.path) does not exist")
        }
        let folder = try folders[parent.path] ?? StagingFolder(in: parent)
        folders[parent.path] = folder
        try folder.write(data, as: destination.lastPathComponent, for: url)
        if !staged.contains(where: { $0.destination == destination }) { staged.append((destination, folder)) }
    }

    /// Creates `folder` (and missing parents) for outputs to come; a failed command removes
    /// the ones it created, if they are still empty.
    public func createFolder(_ folder: URL, option: String) throws {
        var missing: [URL] = []
        var probe = folder.standardizedFileURL
        while !FileManager.default.fileExists(atPath: probe.path) && probe.path != "/" {
            missing.append(probe)
            probe = probe.deletingLastPathComponent()
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw InputError("\(option) \(folder.path): cannot create the folder (\(OutputCheck.reason(error)))")
        }
        // Shallowest first, so that removal (in reverse) goes deepest first.
        createdFolders.append(contentsOf: missing.reversed())
    }

    /// Renames every staged file into place, in the order staged. When a rename fails, the
    /// files already renamed are removed too, so the command leaves none of its outputs.
    public func commit() throws {
        precondition(!committed, "committing twice")
        committed = true
        var published: [URL] = []
        for item in staged {
            do {
                try item.folder.publish(item.destination.lastPathComponent, to: item.destination)
                published.append(item.destination)
            } catch {
                for url in published { unlink(url.path) }
                release()
                removeCreatedFolders()
                throw error
            }
        }
        release()
    }

    /// Drops everything staged (and the folders created for it); the destinations are untouched.
    public func discard() {
        release()
        if !committed { removeCreatedFolders() }
    }

    private func release() {
        for folder in folders.values { folder.remove() }
        folders = [:]
        staged = []
    }

    private func removeCreatedFolders() {
        // rmdir refuses folders that hold anything: only what stayed empty goes.
        for folder in createdFolders.reversed() { rmdir(folder.path) }
        createdFolders = []
    }

    deinit { discard() }
}
