import TensorCore

/// Hands out the tensors of a state dict by PyTorch name while keeping account of what was
/// missing, what had the wrong shape and what was never asked for, so that a loader can
/// report every problem of a checkpoint in one message instead of stopping at the first.
final class StateDictReader {
    private var entries: [String: Tensor] = [:]
    private var order: [String] = []
    private var used = Set<String>()
    private(set) var missing: [String] = []
    private(set) var mismatched: [String] = []
    /// Where the tensors came from, for messages ("state dict" or a file path).
    let source: String

    init(_ stateDict: [(name: String, tensor: Tensor)], source: String) throws {
        self.source = source
        for (name, tensor) in stateDict {
            guard entries[name] == nil else {
                throw InputError("\(source): parameter \(name) appears twice")
            }
            entries[name] = tensor
            order.append(name)
        }
    }

    /// The tensor called `name`, which must have `shape`; nil (and the problem recorded) when
    /// it is absent or has another shape.
    func take(_ name: String, shape: [Int]) -> Tensor? {
        guard let tensor = entries[name] else {
            missing.append(name)
            return nil
        }
        used.insert(name)
        guard tensor.shape == shape else {
            mismatched.append("\(name) has shape \(tensor.shapeDescription), expected \(Tensor.describe(shape))")
            return nil
        }
        return tensor
    }

    /// Marks `name` as known without using its value (BatchNorm's `num_batches_tracked`).
    func ignore(_ name: String) {
        if entries[name] != nil { used.insert(name) }
    }

    /// Marks every entry whose name starts with `prefix` as known and returns them in file
    /// order, the prefix removed.
    func takeAll(prefix: String) -> [(name: String, tensor: Tensor)] {
        order.filter { $0.hasPrefix(prefix) }.map { name in
            used.insert(name)
            return (String(name.dropFirst(prefix.count)), entries[name]!)
        }
    }

    var unexpected: [String] { order.filter { !used.contains($0) } }

    /// Throws one `InputError` listing every missing, misshapen and unexpected entry.
    func finish(what: String) throws {
        var problems: [String] = []
        if !missing.isEmpty { problems.append("missing \(Self.list(missing))") }
        if !mismatched.isEmpty { problems.append("wrong shape: \(Self.list(mismatched))") }
        let extra = unexpected
        if !extra.isEmpty { problems.append("unexpected \(Self.list(extra))") }
        guard problems.isEmpty else {
            throw InputError("\(source): does not fit \(what): " + problems.joined(separator: "; "))
        }
    }

    /// At most eight names, then how many more: keeps the message on one readable line.
    static func list(_ names: [String]) -> String {
        let shown = names.prefix(8).joined(separator: ", ")
        return names.count > 8 ? "\(names.count) entries: \(shown), and \(names.count - 8) more" : shown
    }
}

extension Tensor {
    /// A shape written the way PyTorch prints it.
    static func describe(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}
