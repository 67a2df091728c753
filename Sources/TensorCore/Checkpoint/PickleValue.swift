/// What `RestrictedUnpickler` builds: plain data (numbers, strings, containers) and references
/// to tensors whose bytes stay in the archive until they are asked for. There is no case for
/// an arbitrary object, so a checkpoint cannot make us construct one.
public enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer beyond 64 bits: its little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case tensor(TorchTensorReference)
    /// A storage record named by a persistent id, before a tensor is built on it.
    case storage(TorchStorageReference)
    /// A legacy storage class such as `torch.FloatStorage`, named by the dtype of its elements.
    case storageClass(TorchDType)
    case dtype(TorchDType)
    /// One of the few globals the unpickler lets a checkpoint call.
    case callable(PickleCallable)

    /// A short name for the kind of value, for error messages ("a list", "an int").
    public var kindDescription: String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int, .bigInt: return "an int"
        case .float: return "a float"
        case .string: return "a string"
        case .bytes: return "bytes"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict: return "a dict"
        case .tensor: return "a tensor"
        case .storage: return "a storage"
        case .storageClass: return "a storage class"
        case .dtype: return "a dtype"
        case .callable(let callable): return callable.rawValue
        }
    }

    /// A one-line description for listings: the value for numbers and short strings,
    /// the kind and size for containers and tensors.
    public var summary: String {
        switch self {
        case .none: return "None"
        case .bool(let value): return value ? "True" : "False"
        case .int(let value): return String(value)
        case .bigInt(let bytes): return "an int of \(bytes.count) bytes"
        case .float(let value): return String(value)
        case .string(let text): return text.count <= 60 ? "'\(text)'" : "a string of \(text.count) characters"
        case .bytes(let bytes): return "\(bytes.count) bytes"
        case .tuple(let items): return "a tuple of \(items.count)"
        case .list(let list): return "a list of \(list.items.count)"
        case .dict(let dict): return "a dict of \(dict.entries.count) entries"
        case .tensor(let tensor):
            return "tensor \(tensor.dtype.rawValue) [" + tensor.shape.map(String.init).joined(separator: ", ") + "]"
        case .storage(let storage): return "storage \(storage.key)"
        case .storageClass(let dtype): return "storage class of \(dtype.rawValue)"
        case .dtype(let dtype): return "torch.\(dtype.rawValue)"
        case .callable(let callable): return callable.rawValue
        }
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var intValue: Int? {
        if case .int(let value) = self { return value }
        return nil
    }

    public var dictValue: PickleDict? {
        if case .dict(let dict) = self { return dict }
        return nil
    }

    public var tensorValue: TorchTensorReference? {
        if case .tensor(let tensor) = self { return tensor }
        return nil
    }

    /// The items of a tuple or a list.
    var sequenceItems: [PickleValue]? {
        switch self {
        case .tuple(let items): return items
        case .list(let list): return list.items
        default: return nil
        }
    }
}

/// The globals a checkpoint may call, and what each builds.
public enum PickleCallable: String, Sendable {
    case orderedDict = "collections.OrderedDict"
    case rebuildTensor = "torch._utils._rebuild_tensor"
    case rebuildTensorV2 = "torch._utils._rebuild_tensor_v2"
    case rebuildTensorV3 = "torch._utils._rebuild_tensor_v3"
    case rebuildParameter = "torch._utils._rebuild_parameter"
    case rebuildParameterWithState = "torch._utils._rebuild_parameter_with_state"
    /// `torch.Size(...)`: becomes a tuple of ints.
    case size = "torch.Size"
    /// `torch.device(...)`: becomes a string such as "cuda:0".
    case device = "torch.device"
    /// `_codecs.encode(text, "latin1")`: how protocol 2 writes Python 3 `bytes`.
    case encode = "_codecs.encode"
}

/// A Python list. A class because a pickle fills a list after storing it in the memo, and
/// every copy fetched from the memo must see the items.
public final class PickleList {
    public internal(set) var items: [PickleValue] = []
    /// Nesting depth of the items (0 when there are no containers inside).
    var depth = 1
    /// Set once the list is inside another container; changing it after that is refused
    /// (only recursive structures do that, and they have no place in a checkpoint).
    var isNested = false

    init() {}
}

/// A Python dict (or OrderedDict), keeping insertion order, which is the order of the file.
public final class PickleDict {
    public internal(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    /// Attributes set by BUILD, e.g. the `_metadata` torch attaches to a state dict's OrderedDict.
    public internal(set) var attributes: [(name: String, value: PickleValue)] = []
    private var index: [PickleKey: Int] = [:]
    var depth = 1
    var isNested = false

    init() {}

    /// The value stored under the string key `key`.
    public subscript(key: String) -> PickleValue? {
        index[.string(key)].map { entries[$0].value }
    }

    /// Whether every key is a string.
    public var hasOnlyStringKeys: Bool {
        entries.allSatisfy { $0.key.stringValue != nil }
    }

    /// Sets `value` under `key` (whose hashable form is `hashable`), replacing an equal key in
    /// place as Python does.
    func set(_ value: PickleValue, for key: PickleValue, hashedAs hashable: PickleKey) {
        if let position = index[hashable] {
            entries[position].value = value
        } else {
            index[hashable] = entries.count
            entries.append((key, value))
        }
    }
}

/// The hashable subset of pickle values, usable as dict keys.
enum PickleKey: Hashable {
    case none
    case bool(Bool)
    case int(Int)
    case bigInt([UInt8])
    case float(UInt64)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleKey])
    case dtype(TorchDType)

    /// The key of `value`, or nil when it cannot be hashed (a list or a dict, say) or when it
    /// holds more than `budget` values. Each value taken off `budget` counts once per
    /// occurrence: a tuple that holds one memo-shared tuple twice, level after level, is as
    /// large here as it would be in Python, so the budget (negative when exceeded) is what
    /// keeps such a key from taking exponential time.
    init?(_ value: PickleValue, budget: inout Int) {
        budget -= 1
        guard budget >= 0 else { return nil }
        switch value {
        case .none: self = .none
        case .bool(let value): self = .bool(value)
        case .int(let value): self = .int(value)
        case .bigInt(let bytes): self = .bigInt(bytes)
        case .float(let value): self = .float(value.bitPattern)
        case .string(let text): self = .string(text)
        case .bytes(let bytes): self = .bytes(bytes)
        case .dtype(let dtype): self = .dtype(dtype)
        case .tuple(let items):
            var keys: [PickleKey] = []
            keys.reserveCapacity(items.count)
            for item in items {
                guard let key = PickleKey(item, budget: &budget) else { return nil }
                keys.append(key)
            }
            self = .tuple(keys)
        default: return nil
        }
    }
}
