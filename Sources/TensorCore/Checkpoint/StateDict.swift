import Foundation

/// One tensor of a checkpoint's state dict, as stored: its name and where its data lie.
public struct CheckpointEntry: Equatable, Sendable {
    /// The name after normalisation (a DataParallel `module.` prefix removed).
    public let name: String
    /// The key as the file writes it.
    public let storedName: String
    public let tensor: TorchTensorReference

    public var dtype: TorchDType { tensor.dtype }
    public var shape: [Int] { tensor.shape }
    public var elementCount: Int { tensor.elementCount }
}

/// Where a checkpoint keeps its state dict, and its tensors in file order.
public struct StateDictListing: Equatable, Sendable {
    /// Keys followed from the top level: `[]` when the file is the state dict itself,
    /// `["state_dict"]` or `["model"]` for a training checkpoint.
    public let nesting: [String]
    /// `"module."` when every key had it (a model wrapped in nn.DataParallel) and it was removed.
    public let removedPrefix: String?
    public let entries: [CheckpointEntry]
}

extension TorchCheckpoint {
    /// The keys under which a training checkpoint nests its model's state dict, tried in order.
    public static let stateDictKeys = ["state_dict", "model"]

    /// Finds the state dict: the top-level dict when all its values are tensors, else the dict
    /// under `state_dict` or `model`. Removes a leading `module.` when every key has it. Checks
    /// each tensor's storage record without reading it, so listing a file also vets it.
    public func stateDictListing() throws -> StateDictListing {
        guard case .dict(let top) = root else {
            throw InputError("\(url.path): holds \(root.kindDescription), not a dict of tensors")
        }
        var nesting: [String] = []
        var dict = top
        if !TorchCheckpoint.isStateDict(top) {
            guard let key = TorchCheckpoint.stateDictKeys.first(where: { top[$0] != nil }) else {
                let keys = top.entries.prefix(12).map(\.key.summary).joined(separator: ", ")
                throw InputError("\(url.path): no state dict found (top-level keys: \(keys); expected tensors, or a 'state_dict' or 'model' entry)")
            }
            guard case .dict(let nested) = top[key]! else {
                throw InputError("\(url.path): entry '\(key)' is \(top[key]!.kindDescription), expected a dict of tensors")
            }
            nesting = [key]
            dict = nested
        }
        let location = nesting.isEmpty ? "" : "'\(nesting[0])' "
        var named: [(String, TorchTensorReference)] = []
        named.reserveCapacity(dict.entries.count)
        for (key, value) in dict.entries {
            guard let name = key.stringValue else {
                throw InputError("\(url.path): state dict \(location)has a key that is \(key.kindDescription), not a string")
            }
            guard case .tensor(let tensor) = value else {
                throw InputError("\(url.path): state dict \(location)entry '\(name)' is \(value.kindDescription), not a tensor")
            }
            named.append((name, tensor))
        }

        let prefix = "module."
        let strip = !named.isEmpty && named.allSatisfy { $0.0.hasPrefix(prefix) }
        var entries: [CheckpointEntry] = []
        entries.reserveCapacity(named.count)
        for (storedName, tensor) in named {
            let name = strip ? String(storedName.dropFirst(prefix.count)) : storedName
            try validate(tensor, name: storedName)
            entries.append(CheckpointEntry(name: name, storedName: storedName, tensor: tensor))
        }
        return StateDictListing(nesting: nesting, removedPrefix: strip ? prefix : nil, entries: entries)
    }

    /// A state dict: string keys, tensor values (an empty dict counts).
    static func isStateDict(_ dict: PickleDict) -> Bool {
        dict.entries.allSatisfy { $0.key.stringValue != nil && $0.value.tensorValue != nil }
    }

    /// The state dict's floating-point tensors as float32, in file order. Integer and boolean
    /// tensors (BatchNorm's `num_batches_tracked`) are left out; other dtypes are an error.
    public func loadStateDict() throws -> [(name: String, tensor: Tensor)] {
        let listing = try stateDictListing()
        let floating = listing.entries.filter { !$0.dtype.isInteger }
        let tensors = try loadTensors(floating.map { (name: $0.storedName, tensor: $0.tensor) })
        return zip(floating, tensors).map { (name: $0.name, tensor: $1) }
    }

    /// Opens `url` and loads its state dict (see `loadStateDict()`).
    public static func loadStateDict(from url: URL) throws -> [(name: String, tensor: Tensor)] {
        try TorchCheckpoint(contentsOf: url).loadStateDict()
    }
}
