import Foundation

/// A PyTorch checkpoint (`torch.save` zip archive, `.pt`/`.pth`), read without Python.
///
/// The archive holds `<folder>/data.pkl`, a pickle describing the saved object, and one
/// record `<folder>/data/<key>` per storage with the raw little-endian bytes. Opening the
/// checkpoint reads only the pickle (through `RestrictedUnpickler`, which refuses anything
/// that would run code); tensor data are read when asked for, each storage record once,
/// straight into the float32 arrays that become the tensors.
///
/// Not thread-safe: the archive is read through one file descriptor.
public final class TorchCheckpoint {
    public let url: URL
    /// The saved object: a state dict, or a dict holding one (`state_dict`, `model`) next to
    /// training state (`epoch`, `optimizer`, ...).
    public let root: PickleValue
    /// The folder inside the archive holding `data.pkl` (torch names it after the file).
    public let recordFolder: String

    private let archive: ZipArchive
    private let storageRecords: [String: ZipRecord]
    private var fileSize: UInt64 { archive.fileSize }

    /// Opens `url` and reads its pickle. Errors name the file: missing, not a zip archive,
    /// truncated, no `data.pkl`, a refused global, a corrupt pickle.
    public init(contentsOf url: URL) throws {
        self.url = url
        let path = url.path
        try TorchCheckpoint.checkIsZipArchive(url)
        let archive = try ZipArchive(path: path)
        self.archive = archive

        var records: [String: ZipRecord] = [:]
        var order: [String] = []
        for entry in archive.records where records[entry.path] == nil {
            records[entry.path] = entry
            order.append(entry.path)
        }
        // torch writes `<folder>/data.pkl` at the top of the archive; the shallowest wins.
        let pickles = order.filter { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }
        guard let picklePath = pickles.min(by: { $0.split(separator: "/").count < $1.split(separator: "/").count }) else {
            if order.contains(where: { $0.hasSuffix("constants.pkl") }) {
                throw InputError("\(path): a TorchScript archive without data.pkl; save the model's state_dict() with torch.save instead")
            }
            throw InputError("\(path): not a torch.save archive (no data.pkl among its \(order.count) records)")
        }
        try TorchCheckpoint.checkRecordSizes(order.map { records[$0]! }, fileSize: archive.fileSize, in: path)
        let pickleEntry = records[picklePath]!
        guard pickleEntry.size <= UInt64(InputLimits.pickleBytes) else {
            throw InputError("\(path): \(picklePath) holds \(InputLimits.describeBytes(Int(clamping: pickleEntry.size))) of pickle; at most \(InputLimits.describeBytes(InputLimits.pickleBytes)) are read (a state dict's pickle is about 40 bytes per tensor)")
        }
        let folder = String(picklePath.dropLast("data.pkl".count))
        self.recordFolder = folder

        if let byteorder = records[folder + "byteorder"] {
            let text = String(decoding: try TorchCheckpoint.read(byteorder, of: archive), as: UTF8.self)
            guard text == "little" else {
                throw InputError("\(path): saved with byte order '\(text)'; only little-endian checkpoints are supported")
            }
        }
        var storages: [String: ZipRecord] = [:]
        let dataFolder = folder + "data/"
        for (name, entry) in records where name.hasPrefix(dataFolder) {
            storages[String(name.dropFirst(dataFolder.count))] = entry
        }
        self.storageRecords = storages

        let pickle = try TorchCheckpoint.read(pickleEntry, of: archive)
        do {
            root = try RestrictedUnpickler(pickle).load()
        } catch let error as InputError {
            throw InputError("\(path): \(picklePath): \(error.message)")
        }
    }

    /// Refuses files that are not zip archives before the zip reader sees them, with a message
    /// that says what they are instead.
    private static func checkIsZipArchive(_ url: URL) throws {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw InputError("\(path): checkpoint not found")
        }
        guard !isDirectory.boolValue else { throw InputError("\(path): is a folder, expected a checkpoint file") }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw InputError("\(path): cannot read checkpoint") }
        defer { try? handle.close() }
        let head: Data
        do {
            head = try handle.read(upToCount: 16) ?? Data()
        } catch {
            throw InputError("\(path): cannot read checkpoint (\(error.localizedDescription))")
        }
        let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
        if head.starts(with: legacyMagic) {
            throw InputError("\(path): saved in torch's legacy format (torch < 1.6 or _use_new_zipfile_serialization=False); load it in PyTorch and save it again with torch.save")
        }
        guard head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) else {
            let kind = FileSignature.describe(head).map { "; it is \($0)" } ?? ""
            throw InputError("\(path): not a PyTorch checkpoint (not a zip archive\(kind))")
        }
    }

    /// A whole small record (the pickle, `byteorder`), CRC-checked.
    private static func read(_ entry: ZipRecord, of archive: ZipArchive) throws -> [UInt8] {
        try checkPlausibleSize(entry, fileSize: archive.fileSize, in: archive.path)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(clamping: entry.size))
        try archive.stream(entry) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Refuses a directory entry whose sizes cannot be true for this file, before anything is
    /// allocated for it: a stored record cannot be larger than the file, and deflate expands
    /// data at most about a thousandfold.
    private static func checkPlausibleSize(_ entry: ZipRecord, fileSize: UInt64, in path: String) throws {
        let plausible = entry.isCompressed
            ? entry.storedSize <= fileSize && entry.size / 1100 <= entry.storedSize
            : entry.size == entry.storedSize && entry.size <= fileSize
        guard plausible else {
            throw InputError("\(path): corrupt zip archive (record \(entry.path) claims \(entry.size) bytes in a file of \(fileSize))")
        }
    }

    /// Refuses an archive whose records together would inflate beyond
    /// `InputLimits.checkpointBytes`, before any is inflated. (The zip reader has already
    /// checked that records lie inside the file and share no bytes.)
    private static func checkRecordSizes(_ entries: [ZipRecord], fileSize: UInt64, in path: String) throws {
        var inflated: UInt64 = 0
        for entry in entries {
            try checkPlausibleSize(entry, fileSize: fileSize, in: path)
            // Each size is at most the file's size times 1100 (checked above), so the sum
            // of a few million records stays far from overflowing.
            inflated += entry.size
        }
        guard inflated <= UInt64(InputLimits.checkpointBytes) else {
            throw InputError("\(path): its \(entries.count) records inflate to \(InputLimits.describeBytes(Int(clamping: inflated))); at most \(InputLimits.describeBytes(InputLimits.checkpointBytes)) are read from a checkpoint")
        }
    }

    // MARK: Tensors

    /// Checks that `reference`'s storage record exists and holds the elements the view reaches,
    /// without reading it.
    func validate(_ reference: TorchTensorReference, name: String) throws {
        let storage = reference.storage
        do {
            _ = try InputLimits.checkShape(reference.shape)
        } catch let error as InputError {
            throw InputError("\(url.path): tensor '\(name)': \(error.message)")
        }
        let needed = reference.storageEnd * reference.dtype.byteCount
        guard needed <= storage.byteCount else {
            throw InputError("\(url.path): tensor '\(name)': size \(reference.shape) with stride \(reference.strides) from offset \(reference.storageOffset) needs \(reference.storageEnd) elements, its storage '\(storage.key)' holds \(storage.byteCount / reference.dtype.byteCount)")
        }
        guard let record = storageRecords[storage.key] else {
            throw InputError("\(url.path): tensor '\(name)': storage record \(recordFolder)data/\(storage.key) is missing")
        }
        try TorchCheckpoint.checkPlausibleSize(record, fileSize: fileSize, in: url.path)
        guard record.size >= UInt64(storage.byteCount) else {
            throw InputError("\(url.path): tensor '\(name)': storage record \(record.path) holds \(record.size) bytes, its storage needs \(storage.byteCount)")
        }
    }

    /// Reads the tensors `entries` refer to, as float32, in the same order. Each storage record
    /// is read once however many tensors view it; a tensor that is its storage's whole
    /// contiguous window takes the decoded array as is, other views are gathered from it.
    public func loadTensors(_ entries: [(name: String, tensor: TorchTensorReference)]) throws -> [Tensor] {
        var groups: [String: [Int]] = [:]
        var keys: [String] = []
        for (position, entry) in entries.enumerated() {
            let reference = entry.tensor
            guard reference.dtype.isLoadable else {
                throw InputError("\(url.path): tensor '\(entry.name)': dtype \(reference.dtype.rawValue) is not supported (float32, float16, bfloat16 and float64 are)")
            }
            try validate(reference, name: entry.name)
            if let first = groups[reference.storage.key]?.first {
                let other = entries[first].tensor
                guard other.storage == reference.storage, other.dtype == reference.dtype else {
                    throw InputError("\(url.path): tensors '\(entries[first].name)' and '\(entry.name)' describe storage '\(reference.storage.key)' differently")
                }
            } else {
                keys.append(reference.storage.key)
            }
            groups[reference.storage.key, default: []].append(position)
        }

        try checkLoadedSize(entries.map(\.tensor), groups: groups, keys: keys)

        var tensors = [Tensor?](repeating: nil, count: entries.count)
        for key in keys {
            let members = groups[key]!
            let views = members.map { entries[$0].tensor }
            let (low, high) = TorchCheckpoint.window(of: views)
            var window: [Float] = []
            if high > low {
                let record = storageRecords[key]!
                let dtype = views[0].dtype
                window = try [Float](unsafeUninitializedCapacity: high - low) { buffer, initialized in
                    var decoder = StorageDecoder(dtype: dtype, elements: low..<high, into: buffer.baseAddress!)
                    try archive.stream(record) { decoder.consume($0) }
                    precondition(decoder.written == high - low, "storage record shorter than checked")
                    initialized = high - low
                }
            }
            for (position, view) in zip(members, views) {
                var tensor: Tensor
                if view.isContiguous && view.storageOffset == low && view.elementCount == window.count {
                    tensor = Tensor(shape: view.shape, scalars: window)
                } else {
                    tensor = window.withUnsafeBufferPointer { source in
                        Tensor(shape: view.shape) { out in
                            if view.elementCount > 0 {
                                gatherStrided(from: source.baseAddress!, offset: view.storageOffset - low,
                                              shape: view.shape, strides: view.strides, into: out.baseAddress!)
                            }
                        }
                    }
                }
                if view.isNegated {
                    tensor.withUnsafeMutableBufferPointer { values in
                        for i in values.indices { values[i] = -values[i] }
                    }
                }
                tensors[position] = tensor
            }
        }
        return tensors.map { $0! }
    }

    /// The part of a storage its views reach, in elements: `low..<high` (empty when they are).
    private static func window(of views: [TorchTensorReference]) -> (low: Int, high: Int) {
        let nonEmpty = views.filter { $0.elementCount > 0 }
        return (nonEmpty.map(\.storageOffset).min() ?? 0, nonEmpty.map(\.storageEnd).max() ?? 0)
    }

    /// Refuses, before anything is allocated, a load whose float32 arrays would pass
    /// `InputLimits.loadedBytes`: each storage's decoded window, plus every view that is not
    /// that window itself (stride-0 views of one small storage can claim any size).
    private func checkLoadedSize(_ references: [TorchTensorReference], groups: [String: [Int]], keys: [String]) throws {
        // Each window is at most its record (checked against the archive's total) and each
        // view at most `InputLimits.tensorElements`, so these sums cannot overflow.
        var elements = 0
        for key in keys {
            let views = groups[key]!.map { references[$0] }
            let (low, high) = TorchCheckpoint.window(of: views)
            elements += high - low
            for view in views where !(view.isContiguous && view.storageOffset == low && view.elementCount == high - low) {
                elements += view.elementCount
            }
        }
        guard elements <= InputLimits.loadedBytes / 4 else {
            throw InputError("\(url.path): its tensors take \(InputLimits.describeBytes(elements * 4)) as float32; at most \(InputLimits.describeBytes(InputLimits.loadedBytes)) are loaded from one file")
        }
    }
}
