/// Reads the pickle inside a `torch.save` archive (`data.pkl`) without running anything it names.
///
/// A pickle is a program for a small stack machine, and Python's unpickler will import and
/// call any global the program names (`os.system`, `builtins.eval`, ...). This one knows the
/// opcodes of protocols 2 to 5 that hold data, and a short list of globals that torch uses to
/// describe tensors and state dicts (`PickleCallable`, storage classes, dtypes). Any other
/// global is refused by name before anything is built, so loading a checkpoint never runs code.
///
/// Tensors come out as `TorchTensorReference`s; their bytes are read later from the archive.
public struct RestrictedUnpickler {
    private let bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Runs the pickle and returns the value it leaves on the stack. Errors say what is wrong
    /// and at which byte, without a file name (the caller adds it).
    public func load() throws -> PickleValue {
        try bytes.withUnsafeBufferPointer { buffer in
            var machine = Machine(buffer)
            return try machine.run()
        }
    }
}

/// A value on the unpickler's stack or in its memo, with the depth of containers inside it.
private struct Slot {
    var value: PickleValue
    var depth: Int

    /// Lists and dicts grow after they are made, so their depth is read from the object.
    var currentDepth: Int {
        switch value {
        case .list(let list): return list.depth
        case .dict(let dict): return dict.depth
        default: return depth
        }
    }
}

private struct Machine {
    let input: UnsafeBufferPointer<UInt8>
    var position = 0
    var stack: [Slot] = []
    var marks: [Int] = []
    var memo: [Int: Slot] = [:]
    /// Values dict keys may still hash (see `InputLimits.pickleKeyValuesPerByte`).
    var keyBudget: Int

    init(_ input: UnsafeBufferPointer<UInt8>) {
        self.input = input
        keyBudget = InputLimits.pickleKeyBase + InputLimits.pickleKeyValuesPerByte * input.count
    }

    // MARK: Reading the opcode stream

    func failure(_ message: String) -> InputError {
        InputError("pickle: \(message)")
    }

    mutating func byte() throws -> UInt8 {
        guard position < input.count else { throw failure("truncated at byte \(position) of \(input.count)") }
        defer { position += 1 }
        return input[position]
    }

    /// The next `count` bytes.
    mutating func take(_ count: Int) throws -> UnsafeBufferPointer<UInt8> {
        guard count >= 0, count <= input.count - position else {
            throw failure("truncated at byte \(position) of \(input.count) (needs \(count) more bytes)")
        }
        defer { position += count }
        return UnsafeBufferPointer(rebasing: input[position..<(position + count)])
    }

    mutating func littleEndian(_ count: Int) throws -> UInt64 {
        let raw = try take(count)
        var value: UInt64 = 0
        for i in stride(from: count - 1, through: 0, by: -1) { value = value << 8 | UInt64(raw[i]) }
        return value
    }

    /// A length field: unsigned and no larger than what is left of the pickle.
    mutating func length(_ count: Int) throws -> Int {
        let value = try littleEndian(count)
        guard value <= UInt64(input.count - position) else {
            throw failure("truncated at byte \(position) of \(input.count) (a length of \(value) bytes runs past the end)")
        }
        return Int(value)
    }

    /// A newline-terminated line (GLOBAL and the text opcodes), without the newline.
    mutating func line() throws -> String {
        let start = position
        while position < input.count, input[position] != 0x0A { position += 1 }
        guard position < input.count else { throw failure("truncated at byte \(position) of \(input.count)") }
        let text = try utf8(UnsafeBufferPointer(rebasing: input[start..<position]))
        position += 1
        return text
    }

    func utf8(_ raw: UnsafeBufferPointer<UInt8>) throws -> String {
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw failure("string at byte \(position) is not valid UTF-8")
        }
        return text
    }

    // MARK: The stack

    mutating func push(_ value: PickleValue, depth: Int = 0) {
        stack.append(Slot(value: value, depth: depth))
    }

    mutating func pop() throws -> Slot {
        guard let top = stack.popLast() else { throw failure("corrupt (stack empty at byte \(position - 1))") }
        if let mark = marks.last, stack.count < mark { throw failure("corrupt (pops past a mark at byte \(position - 1))") }
        return top
    }

    func top() throws -> Slot {
        guard let top = stack.last, stack.count > (marks.last ?? 0) else {
            throw failure("corrupt (stack empty at byte \(position - 1))")
        }
        return top
    }

    /// The slots pushed since the last MARK, which is removed.
    mutating func popToMark() throws -> [Slot] {
        guard let mark = marks.popLast() else { throw failure("corrupt (no MARK before byte \(position - 1))") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    /// Depth of a container holding `items`; marks list and dict items as nested.
    func containerDepth(_ items: [Slot]) throws -> Int {
        var depth = 1
        for item in items {
            markNested(item.value)
            depth = max(depth, item.currentDepth + 1)
        }
        guard depth <= InputLimits.pickleDepth else {
            throw failure("containers nest deeper than \(InputLimits.pickleDepth) levels")
        }
        return depth
    }

    func markNested(_ value: PickleValue) {
        switch value {
        case .list(let list): list.isNested = true
        case .dict(let dict): dict.isNested = true
        default: break
        }
    }

    /// The list on top of the stack, which may still grow.
    func topList(_ opcode: String) throws -> PickleList {
        guard case .list(let list) = try top().value else { throw failure("\(opcode) on something that is not a list at byte \(position - 1)") }
        guard !list.isNested else { throw failure("recursive structure at byte \(position - 1) (a list changed after it was nested)") }
        return list
    }

    func topDict(_ opcode: String) throws -> PickleDict {
        guard case .dict(let dict) = try top().value else { throw failure("\(opcode) on something that is not a dict at byte \(position - 1)") }
        guard !dict.isNested else { throw failure("recursive structure at byte \(position - 1) (a dict changed after it was nested)") }
        return dict
    }

    func append(_ items: [Slot], to list: PickleList) throws {
        if items.contains(where: { if case .list(let item) = $0.value { return item === list } else { return false } }) {
            throw failure("recursive structure at byte \(position - 1) (a list inside itself)")
        }
        list.depth = max(list.depth, try containerDepth(items))
        list.items.append(contentsOf: items.map(\.value))
    }

    mutating func setItems(_ items: [Slot], in dict: PickleDict) throws {
        guard items.count % 2 == 0 else { throw failure("corrupt (odd number of items for a dict at byte \(position - 1))") }
        if items.contains(where: { if case .dict(let item) = $0.value { return item === dict } else { return false } }) {
            throw failure("recursive structure at byte \(position - 1) (a dict inside itself)")
        }
        dict.depth = max(dict.depth, try containerDepth(items))
        for pair in stride(from: 0, to: items.count, by: 2) {
            let key = items[pair].value
            guard let hashable = PickleKey(key, budget: &keyBudget) else {
                if keyBudget < 0 {
                    throw failure("dict keys at byte \(position - 1) hold more values than the whole pickle could describe (tuples nested through the memo); checkpoints key dicts by strings and ints")
                }
                throw failure("dict key of type \(key.kindDescription) cannot be hashed (byte \(position - 1))")
            }
            dict.set(items[pair + 1].value, for: key, hashedAs: hashable)
        }
    }

    // MARK: Running

    mutating func run() throws -> PickleValue {
        while true {
            let opcode = try byte()
            switch opcode {
            case 0x80:  // PROTO
                let version = try byte()
                guard version <= 5 else { throw failure("protocol \(version) is not supported (0 to 5 are)") }
            case 0x95:  // FRAME: a hint for buffered readers; we hold the whole pickle.
                _ = try littleEndian(8)
            case UInt8(ascii: "."):  // STOP
                return try pop().value
            case UInt8(ascii: "("):  // MARK
                marks.append(stack.count)
            case UInt8(ascii: "0"):  // POP
                if let mark = marks.last, mark == stack.count { marks.removeLast() } else { _ = try pop() }
            case UInt8(ascii: "1"):  // POP_MARK
                _ = try popToMark()
            case UInt8(ascii: "2"):  // DUP
                stack.append(try top())

            case UInt8(ascii: "N"): push(.none)
            case 0x88: push(.bool(true))
            case 0x89: push(.bool(false))
            case UInt8(ascii: "J"):  // BININT: signed 32-bit
                push(.int(Int(Int32(truncatingIfNeeded: try littleEndian(4)))))
            case UInt8(ascii: "K"): push(.int(Int(try byte())))  // BININT1
            case UInt8(ascii: "M"): push(.int(Int(try littleEndian(2))))  // BININT2
            case 0x8A: push(integer(try take(Int(try byte()))))  // LONG1
            case 0x8B:  // LONG4
                let count = Int32(truncatingIfNeeded: try littleEndian(4))
                guard count >= 0 else { throw failure("negative LONG4 length at byte \(position - 4)") }
                push(integer(try take(Int(count))))
            case UInt8(ascii: "G"):  // BINFLOAT: big-endian double
                let raw = try take(8)
                push(.float(Double(bitPattern: raw.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })))
            case UInt8(ascii: "I"):  // INT (text); "01"/"00" are protocol 0's True and False
                let text = try line()
                if text == "01" { push(.bool(true)) } else if text == "00" { push(.bool(false)) } else {
                    guard let value = Int(text) else { throw failure("bad INT '\(text)'") }
                    push(.int(value))
                }
            case UInt8(ascii: "L"):  // LONG (text)
                let text = try line()
                guard let value = Int(text.hasSuffix("L") ? String(text.dropLast()) : text) else {
                    throw failure("integer '\(text)' does not fit in 64 bits")
                }
                push(.int(value))

            case UInt8(ascii: "X"): push(.string(try utf8(try take(try length(4)))))  // BINUNICODE
            case 0x8C: push(.string(try utf8(try take(try length(1)))))  // SHORT_BINUNICODE
            case 0x8D: push(.string(try utf8(try take(try length(8)))))  // BINUNICODE8
            case UInt8(ascii: "T"): push(.string(latin1(try take(try length(4)))))  // BINSTRING (Python 2 str)
            case UInt8(ascii: "U"): push(.string(latin1(try take(try length(1)))))  // SHORT_BINSTRING
            case UInt8(ascii: "B"): push(.bytes(Array(try take(try length(4)))))  // BINBYTES
            case UInt8(ascii: "C"): push(.bytes(Array(try take(try length(1)))))  // SHORT_BINBYTES
            case 0x8E, 0x96: push(.bytes(Array(try take(try length(8)))))  // BINBYTES8, BYTEARRAY8

            case UInt8(ascii: "}"): push(.dict(PickleDict()), depth: 1)  // EMPTY_DICT
            case UInt8(ascii: "]"): push(.list(PickleList()), depth: 1)  // EMPTY_LIST
            case UInt8(ascii: ")"): push(.tuple([]), depth: 1)  // EMPTY_TUPLE
            case UInt8(ascii: "t"):  // TUPLE
                let items = try popToMark()
                push(.tuple(items.map(\.value)), depth: try containerDepth(items))
            case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
                var items: [Slot] = []
                for _ in 0..<Int(opcode - 0x84) { items.insert(try pop(), at: 0) }
                push(.tuple(items.map(\.value)), depth: try containerDepth(items))
            case UInt8(ascii: "l"):  // LIST
                let items = try popToMark()
                let list = PickleList()
                try append(items, to: list)
                push(.list(list), depth: list.depth)
            case UInt8(ascii: "d"):  // DICT
                let items = try popToMark()
                let dict = PickleDict()
                try setItems(items, in: dict)
                push(.dict(dict), depth: dict.depth)
            case UInt8(ascii: "a"):  // APPEND
                let item = try pop()
                try append([item], to: try topList("APPEND"))
            case UInt8(ascii: "e"):  // APPENDS
                let items = try popToMark()
                try append(items, to: try topList("APPENDS"))
            case UInt8(ascii: "s"):  // SETITEM
                let value = try pop()
                let key = try pop()
                try setItems([key, value], in: try topDict("SETITEM"))
            case UInt8(ascii: "u"):  // SETITEMS
                let items = try popToMark()
                try setItems(items, in: try topDict("SETITEMS"))

            case UInt8(ascii: "q"): memo[Int(try byte())] = try top()  // BINPUT
            case UInt8(ascii: "r"): memo[Int(try littleEndian(4))] = try top()  // LONG_BINPUT
            case 0x94: memo[memo.count] = try top()  // MEMOIZE
            case UInt8(ascii: "p"):  // PUT (text)
                let text = try line()
                guard let index = Int(text) else { throw failure("bad PUT index '\(text)'") }
                memo[index] = try top()
            case UInt8(ascii: "h"): try recall(Int(try byte()))  // BINGET
            case UInt8(ascii: "j"): try recall(Int(try littleEndian(4)))  // LONG_BINGET
            case UInt8(ascii: "g"):  // GET (text)
                let text = try line()
                guard let index = Int(text) else { throw failure("bad GET index '\(text)'") }
                try recall(index)

            case UInt8(ascii: "c"):  // GLOBAL
                let module = try line()
                let name = try line()
                push(try global(module: module, name: name))
            case 0x93:  // STACK_GLOBAL
                let name = try pop().value
                let module = try pop().value
                guard let moduleText = module.stringValue, let nameText = name.stringValue else {
                    throw failure("STACK_GLOBAL with a module or name that is not a string at byte \(position - 1)")
                }
                push(try global(module: moduleText, name: nameText))
            case UInt8(ascii: "R"), 0x81:  // REDUCE, NEWOBJ: callable(*args)
                let arguments = try pop()
                let callable = try pop()
                try call(callable.value, arguments)
            case 0x92:  // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs); no keyword arguments expected
                let keywords = try pop()
                let arguments = try pop()
                let callable = try pop()
                guard case .dict(let dict) = keywords.value, dict.entries.isEmpty else {
                    throw failure("keyword arguments to \(callable.value.kindDescription) are not supported (byte \(position - 1))")
                }
                try call(callable.value, arguments)
            case UInt8(ascii: "b"):  // BUILD: set the state of the object on top
                let state = try pop()
                try build(state)
            case UInt8(ascii: "Q"):  // BINPERSID: a storage record of the archive
                let identifier = try pop()
                push(.storage(try storage(identifier.value)))

            case UInt8(ascii: "i"), UInt8(ascii: "o"), 0x82, 0x83, 0x84:
                // INST, OBJ, EXT1/2/4 build arbitrary objects.
                throw failure("opcode 0x\(String(opcode, radix: 16)) at byte \(position - 1) builds arbitrary objects, refused")
            default:
                throw failure("unsupported opcode 0x\(String(opcode, radix: 16)) at byte \(position - 1)")
            }
        }
    }

    mutating func recall(_ index: Int) throws {
        guard let slot = memo[index] else { throw failure("memo entry \(index) used before it was stored (byte \(position - 1))") }
        stack.append(slot)
    }

    /// LONG1/LONG4: little-endian two's complement of any length.
    func integer(_ raw: UnsafeBufferPointer<UInt8>) -> PickleValue {
        guard let last = raw.last else { return .int(0) }
        let fill: UInt8 = last & 0x80 != 0 ? 0xFF : 0
        // Bytes past the eighth that only repeat the sign leave the value within 64 bits.
        if raw.count <= 8 || (raw[8...].allSatisfy { $0 == fill } && (raw[7] & 0x80 != 0) == (fill == 0xFF)) {
            var value: UInt64 = 0
            for i in stride(from: 7, through: 0, by: -1) { value = value << 8 | UInt64(i < raw.count ? raw[i] : fill) }
            return .int(Int(Int64(bitPattern: value)))
        }
        return .bigInt(Array(raw))
    }

    func latin1(_ raw: UnsafeBufferPointer<UInt8>) -> String {
        var text = ""
        text.unicodeScalars.append(contentsOf: raw.map { Unicode.Scalar($0) })
        return text
    }

    // MARK: Globals, calls and state

    /// The only globals a checkpoint may name. Everything else is refused here, by name,
    /// before any value is built.
    func global(module: String, name: String) throws -> PickleValue {
        if let callable = PickleCallable(rawValue: "\(module).\(name)") { return .callable(callable) }
        if module == "torch" {
            if let dtype = TorchDType(storageClassName: name) { return .storageClass(dtype) }
            if let dtype = TorchDType(rawValue: name) { return .dtype(dtype) }
        }
        if (module == "torch" || module == "torch.storage") && name == "UntypedStorage" { return .storageClass(.uint8) }
        throw InputError("pickle: refuses global \(module).\(name) (a checkpoint may only hold tensors, dicts, lists, numbers and strings; loading it would run code)")
    }

    mutating func call(_ callable: PickleValue, _ arguments: Slot) throws {
        guard case .callable(let function) = callable else {
            throw failure("calls \(callable.kindDescription), which is not callable (byte \(position - 1))")
        }
        guard let args = arguments.value.sequenceItems else {
            throw failure("arguments to \(function.rawValue) are not a tuple (byte \(position - 1))")
        }
        let site = "\(function.rawValue) at byte \(position - 1)"
        switch function {
        case .orderedDict:
            let dict = PickleDict()
            if let pairs = args.first {
                guard args.count == 1, let items = pairs.sequenceItems else { throw failure("unexpected arguments to \(site)") }
                var slots: [Slot] = []
                for item in items {
                    guard let pair = item.sequenceItems, pair.count == 2 else { throw failure("OrderedDict item is not a pair (\(site))") }
                    slots.append(Slot(value: pair[0], depth: 0))
                    slots.append(Slot(value: pair[1], depth: arguments.currentDepth))
                }
                try setItems(slots, in: dict)
            }
            push(.dict(dict), depth: dict.depth)
        case .rebuildTensor, .rebuildTensorV2, .rebuildTensorV3:
            markNestedItems(args)
            push(.tensor(try rebuildTensor(function, args, where: site)))
        case .rebuildParameter, .rebuildParameterWithState:
            // A Parameter is its tensor plus requires_grad; only the tensor matters here.
            guard args.count == (function == .rebuildParameter ? 3 : 4), case .tensor(let tensor) = args[0] else {
                throw failure("unexpected arguments to \(site)")
            }
            push(.tensor(tensor))
        case .size:
            guard args.count <= 1, let dims = args.isEmpty ? [] : args[0].sequenceItems, dims.allSatisfy({ $0.intValue != nil }) else {
                throw failure("unexpected arguments to \(site)")
            }
            push(.tuple(dims), depth: 1)
        case .device:
            switch (args.count, args.first?.stringValue, args.count == 2 ? args[1] : nil) {
            case (1, let type?, _): push(.string(type))
            case (2, let type?, .int(let index)?): push(.string("\(type):\(index)"))
            default: throw failure("unexpected arguments to \(site)")
            }
        case .encode:
            // Protocol 2 writes Python 3 bytes as encode(text-with-one-char-per-byte, "latin1").
            guard args.count == 2, let text = args[0].stringValue, let encoding = args[1].stringValue,
                  ["latin1", "latin-1", "iso-8859-1"].contains(encoding.lowercased()),
                  text.unicodeScalars.allSatisfy({ $0.value < 256 })
            else { throw failure("unexpected arguments to \(site)") }
            push(.bytes(text.unicodeScalars.map { UInt8($0.value) }))
        }
    }

    func markNestedItems(_ values: [PickleValue]) {
        for value in values { markNested(value) }
    }

    /// `_rebuild_tensor(storage, offset, size, stride)`, `_v2(..., requires_grad, hooks[, metadata])`,
    /// `_v3(..., requires_grad, hooks, dtype[, metadata])`.
    func rebuildTensor(_ function: PickleCallable, _ args: [PickleValue], where site: String) throws -> TorchTensorReference {
        let counts: ClosedRange<Int>
        switch function {
        case .rebuildTensor: counts = 4...4
        case .rebuildTensorV2: counts = 6...7
        default: counts = 7...8
        }
        guard counts.contains(args.count), case .storage(let storage) = args[0], case .int(let offset) = args[1],
              let sizeItems = args[2].sequenceItems, let strideItems = args[3].sequenceItems
        else { throw failure("unexpected arguments to \(site)") }
        let shape = sizeItems.compactMap(\.intValue)
        let strides = strideItems.compactMap(\.intValue)
        guard shape.count == sizeItems.count, strides.count == strideItems.count else {
            throw failure("size or stride is not a tuple of ints (\(site))")
        }
        if let problem = TorchTensorReference.validate(offset: offset, shape: shape, strides: strides) {
            throw failure("\(problem) (\(site))")
        }
        var dtype = storage.dtype
        var metadata: PickleValue? = function == .rebuildTensorV2 && args.count == 7 ? args[6] : nil
        if function == .rebuildTensorV3 {
            guard case .dtype(let explicit) = args[6] else { throw failure("dtype argument is \(args[6].kindDescription) (\(site))") }
            dtype = explicit
            if args.count == 8 { metadata = args[7] }
        }
        guard dtype == storage.dtype || storage.dtype == .uint8 else {
            throw failure("tensor of \(dtype.rawValue) on a storage of \(storage.dtype.rawValue) (\(site))")
        }
        var isNegated = false
        switch metadata {
        case nil, .none?:
            break
        case .dict(let flags)?:
            for (key, value) in flags.entries {
                switch (key.stringValue, value) {
                case ("neg"?, .bool(let flag)): isNegated = flag
                case ("conj"?, .bool): break  // The conjugate of a real tensor is itself.
                default: throw failure("tensor metadata \(key.summary) is not supported (\(site))")
                }
            }
        case let other?:
            throw failure("tensor metadata is \(other.kindDescription) (\(site))")
        }
        return TorchTensorReference(storage: storage, dtype: dtype, storageOffset: offset, shape: shape,
                                    strides: strides, isNegated: isNegated)
    }

    /// BUILD: only dicts take state (the attributes torch attaches to a state dict's OrderedDict).
    func build(_ state: Slot) throws {
        let dict = try topDict("BUILD")
        var attributes: [PickleDict] = []
        switch state.value {
        case .dict(let values): attributes = [values]
        case .tuple(let parts) where parts.count == 2:
            for part in parts {
                switch part {
                case .dict(let values): attributes.append(values)
                case .none: break
                default: throw failure("BUILD state part is \(part.kindDescription) (byte \(position - 1))")
                }
            }
        case .none: break
        default: throw failure("BUILD state is \(state.value.kindDescription) (byte \(position - 1))")
        }
        markNested(state.value)
        dict.depth = max(dict.depth, state.currentDepth + 1)
        for values in attributes {
            for (key, value) in values.entries {
                guard let name = key.stringValue else { throw failure("attribute name is \(key.kindDescription) (byte \(position - 1))") }
                dict.attributes.append((name, value))
            }
        }
    }

    /// A persistent id `('storage', storage_class, key, location, numel)`.
    func storage(_ identifier: PickleValue) throws -> TorchStorageReference {
        guard case .tuple(let fields) = identifier, fields.count == 5, fields[0].stringValue == "storage" else {
            throw failure("persistent id at byte \(position - 1) is not ('storage', class, key, location, numel)")
        }
        guard case .storageClass(let dtype) = fields[1] else {
            throw failure("persistent id at byte \(position - 1) names \(fields[1].kindDescription), not a storage class")
        }
        guard let key = fields[2].stringValue, let location = fields[3].stringValue, case .int(let count) = fields[4],
              count >= 0, count <= Int.max / 16 else {
            throw failure("persistent id at byte \(position - 1) has a bad key, location or size")
        }
        return TorchStorageReference(key: key, dtype: dtype, elementCount: count, location: location)
    }
}
