import Foundation

/// What `cdfss inspect CHECKPOINT` shows: every tensor of the state dict with its stored
/// dtype and shape, and parameter counts by part of the model, counted the way HSNet's log
/// does (the backbone's unused `fc` left out), with BatchNorm statistics apart.
public struct CheckpointSummary: Encodable, Sendable {
    /// The part of the model a tensor belongs to, from its name.
    public enum Part: String, CaseIterable, Encodable, Sendable {
        /// `backbone.*`, or the whole of a torchvision ResNet file.
        case backbone
        /// `hpn_learner.*`: the 4D-conv squeeze, mixing and decoder layers.
        case learner
        /// `apm.*`, `acpa.*` (layer 4) and `layer2.apm.*` ... `layer3.acpa.*`: the frequency maskers.
        case masker
        /// `reference_layer1..3.*`: PATNet's reference layers.
        case reference
        /// The backbone's classifier (`fc`, `classifier`), which HSNet never runs.
        case unused
        case other
    }

    /// What the file holds, judged from its key names.
    public enum Kind: Equatable, Sendable {
        /// An HSNet state dict (it has `hpn_learner.*`), with or without backbone and maskers.
        case hsnet(backbone: String?, maskers: [String])
        /// HSNet's state dict with PATNet's `reference_layer1..3`.
        case patnet(backbone: String?, maskers: [String])
        /// A classification network without HSNet's prefixes, such as torchvision's ResNet-50:
        /// usable as HSNet's backbone only.
        case backboneOnly(architecture: String)
        case other

        public var description: String {
            switch self {
            case .hsnet(let backbone, let maskers), .patnet(let backbone, let maskers):
                let model = if case .patnet = self { "PATNet" } else { "HSNet" }
                var text = model + " " + (backbone.map { "with \($0) backbone" } ?? "learner without backbone")
                if !maskers.isEmpty { text += ", maskers " + maskers.joined(separator: ", ") }
                return text
            case .backboneOnly(let architecture): return "\(architecture) (backbone only)"
            case .other: return "not recognised as HSNet or a ResNet backbone"
            }
        }
    }

    public struct Line: Encodable, Sendable {
        public let name: String
        public let dtype: String
        public let shape: [Int]
        public let elementCount: Int
        public let part: Part
        /// BatchNorm running statistics and counters: stored with the model but not learned.
        public let isBuffer: Bool

        // snake_case, as every JSON cdfss writes.
        enum CodingKeys: String, CodingKey {
            case name, dtype, shape
            case elementCount = "element_count"
            case part
            case isBuffer = "is_buffer"
        }
    }

    public let path: String
    /// Keys followed to reach the state dict (`[]`, `["state_dict"]` or `["model"]`).
    public let nesting: [String]
    public let removedPrefix: String?
    public let kind: Kind
    public let tensors: [Line]
    /// Top-level entries beside the state dict (`epoch = 3`, `optimizer: a dict of 2 entries`).
    public let otherEntries: [String]

    public init(_ checkpoint: TorchCheckpoint) throws {
        let listing = try checkpoint.stateDictListing()
        path = checkpoint.url.path
        nesting = listing.nesting
        removedPrefix = listing.removedPrefix
        let names = listing.entries.map(\.name)
        kind = CheckpointSummary.kind(of: names)
        let isBareBackbone: Bool
        if case .backboneOnly = kind { isBareBackbone = true } else { isBareBackbone = false }
        tensors = listing.entries.map { entry in
            Line(name: entry.name, dtype: entry.dtype.rawValue, shape: entry.shape, elementCount: entry.elementCount,
                 part: CheckpointSummary.part(of: entry.name, bareBackbone: isBareBackbone),
                 isBuffer: CheckpointSummary.isBuffer(entry))
        }
        var others: [String] = []
        if let key = nesting.first, case .dict(let top) = checkpoint.root {
            for (name, value) in top.entries where name.stringValue != key {
                let label = name.stringValue ?? name.summary
                switch value {
                case .none, .bool, .int, .float, .string, .bigInt, .dtype: others.append("\(label) = \(value.summary)")
                default: others.append("\(label): \(value.summary)")
                }
            }
        }
        otherEntries = others
    }

    /// Summarises a safetensors state dict, the other format `predict` reads: every tensor
    /// with the dtype its header names, the file's metadata as other entries. Tensors are
    /// listed by name (a safetensors header is a JSON object, whose order carries no meaning).
    public init(safetensors url: URL) throws {
        // Read whole first: the reader checks every entry, so the header below is sound.
        let file = try SafetensorsFile.read(url)
        let storedTypes = Self.safetensorsDTypes(try readFile(url, what: "safetensors file"))
        path = url.path
        nesting = []
        removedPrefix = nil
        let names = file.tensors.keys.sorted()
        kind = CheckpointSummary.kind(of: names)
        let isBareBackbone: Bool
        if case .backboneOnly = kind { isBareBackbone = true } else { isBareBackbone = false }
        tensors = names.map { name in
            let tensor = file.tensors[name]!
            return Line(name: name, dtype: storedTypes[name] ?? "float32", shape: tensor.shape, elementCount: tensor.count,
                        part: CheckpointSummary.part(of: name, bareBackbone: isBareBackbone),
                        isBuffer: CheckpointSummary.isBufferName(name))
        }
        otherEntries = file.metadata.keys.sorted().map { "metadata \($0) = \(file.metadata[$0]!)" }
    }

    /// The dtype of each tensor as a safetensors header names it, in torch's words.
    static func safetensorsDTypes(_ data: Data) -> [String: String] {
        guard data.count >= 8 else { return [:] }
        let length = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard length <= UInt64(data.count - 8),
              let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + Int(length)))) as? [String: Any]
        else { return [:] }
        let names = ["F32": "float32", "F64": "float64", "F16": "float16", "BF16": "bfloat16"]
        var types: [String: String] = [:]
        for (name, entry) in header {
            if let stored = (entry as? [String: Any])?["dtype"] as? String { types[name] = names[stored] ?? stored }
        }
        return types
    }

    /// Opens `url` and summarises it: a `torch.save` file or a safetensors file, told apart by
    /// their first bytes; any other kind of file is named for what it is.
    public static func read(_ url: URL) throws -> CheckpointSummary {
        let kind = FileSignature.describe(try readFile(url, what: "checkpoint"))
        if kind == "a safetensors file" { return try CheckpointSummary(safetensors: url) }
        let torchKinds = ["a zip archive", "a PyTorch checkpoint", "a Python pickle"]
        if let kind, !torchKinds.contains(where: { kind.hasPrefix($0) }) {
            throw InputError("\(url.path): is \(kind), not a checkpoint (.pt/.pth from torch.save, or .safetensors)")
        }
        return try CheckpointSummary(TorchCheckpoint(contentsOf: url))
    }

    /// Learned parameters of `part` (BatchNorm statistics and counters excluded).
    public func parameterCount(_ part: Part) -> Int {
        tensors.reduce(0) { $0 + ($1.part == part && !$1.isBuffer ? $1.elementCount : 0) }
    }

    /// Learned parameters of the parts HSNet runs (everything but `unused`).
    public var totalParameterCount: Int {
        tensors.reduce(0) { $0 + ($1.part != .unused && !$1.isBuffer ? $1.elementCount : 0) }
    }

    /// Elements of BatchNorm running statistics and counters.
    public var bufferCount: Int {
        tensors.reduce(0) { $0 + ($1.isBuffer ? $1.elementCount : 0) }
    }

    /// The listing as `cdfss inspect` prints it: where the state dict was found, what it is,
    /// one line per tensor (name, shape, dtype, element count), then the counts by part in the
    /// words of HSNet's log.
    public func textReport() -> String {
        var lines: [String] = []
        lines.append("Checkpoint: \(path)")
        var location = nesting.isEmpty ? "top level" : "under '" + nesting.joined(separator: "' / '") + "'"
        if let removedPrefix { location += ", '\(removedPrefix)' prefix removed" }
        lines.append("State dict: \(location), \(tensors.count) tensors")
        lines.append("Model: \(kind.description)")
        if !otherEntries.isEmpty { lines.append("Other entries: " + otherEntries.joined(separator: "; ")) }
        lines.append("")

        let shapes = tensors.map { "[" + $0.shape.map(String.init).joined(separator: ", ") + "]" }
        let counts = tensors.map { groupedDigits($0.elementCount) }
        let nameWidth = max(4, tensors.map(\.name.count).max() ?? 0)
        let shapeWidth = max(5, shapes.map(\.count).max() ?? 0)
        let dtypeWidth = max(5, tensors.map(\.dtype.count).max() ?? 0)
        let countWidth = max(5, counts.map(\.count).max() ?? 0)
        func row(_ name: String, _ shape: String, _ dtype: String, _ count: String, _ note: String) -> String {
            let text = padded(name, nameWidth) + "  " + padded(shape, shapeWidth) + "  " + padded(dtype, dtypeWidth)
                + "  " + String(repeating: " ", count: max(0, countWidth - count.count)) + count
            return note.isEmpty ? text : text + "  " + note
        }
        lines.append(row("name", "shape", "dtype", "count", ""))
        for (index, tensor) in tensors.enumerated() {
            let note = tensor.isBuffer ? "(buffer)" : tensor.part == .unused ? "(unused by HSNet)" : ""
            lines.append(row(tensor.name, shapes[index], tensor.dtype, counts[index], note))
        }
        lines.append("")

        var summary = ["Backbone # param.: \(groupedDigits(parameterCount(.backbone)))",
                       "Learnable # param.: \(groupedDigits(parameterCount(.learner)))"]
        if parameterCount(.masker) > 0 { summary.append("Masker # param.: \(groupedDigits(parameterCount(.masker)))") }
        if parameterCount(.reference) > 0 { summary.append("Reference layers # param.: \(groupedDigits(parameterCount(.reference)))") }
        if parameterCount(.other) > 0 { summary.append("Other # param.: \(groupedDigits(parameterCount(.other)))") }
        summary.append("Total # param.: \(groupedDigits(totalParameterCount))")
        lines.append(summary.joined(separator: "  "))
        if bufferCount > 0 {
            lines.append("Buffers (BatchNorm statistics and counters, not counted above): \(groupedDigits(bufferCount))")
        }
        if parameterCount(.unused) > 0 {
            lines.append("Unused by HSNet (backbone classifier): \(groupedDigits(parameterCount(.unused))) param.")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: Classification by name

    static func isBuffer(_ entry: CheckpointEntry) -> Bool {
        entry.dtype.isInteger || isBufferName(entry.name)
    }

    static func isBufferName(_ name: String) -> Bool {
        name.hasSuffix("running_mean") || name.hasSuffix("running_var") || name.hasSuffix("num_batches_tracked")
    }

    static func part(of name: String, bareBackbone: Bool) -> Part {
        let components = name.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        switch components[0] {
        case "backbone":
            return components.count > 1 && ["fc", "classifier"].contains(components[1]) ? .unused : .backbone
        case "hpn_learner": return .learner
        case "apm", "acpa": return .masker
        case "layer2" where !bareBackbone, "layer3" where !bareBackbone, "layer4" where !bareBackbone:
            return components.count > 1 && ["apm", "acpa"].contains(components[1]) ? .masker : .other
        case let first where first.hasPrefix("reference_layer") && !bareBackbone: return .reference
        case "fc" where bareBackbone, "classifier" where bareBackbone: return .unused
        default: return bareBackbone ? .backbone : .other
        }
    }

    static func kind(of names: [String]) -> Kind {
        if names.contains(where: { $0.hasPrefix("hpn_learner.") }) {
            let backbone = names.filter { $0.hasPrefix("backbone.") }.map { String($0.dropFirst("backbone.".count)) }
            // Layer 4's maskers under the published names, other layers' under `layerL.`.
            let prefixes = ["apm", "acpa"] + (2...3).flatMap { ["layer\($0).apm", "layer\($0).acpa"] }
            let maskers = prefixes.filter { prefix in names.contains { $0.hasPrefix(prefix + ".") } }
                .map { $0.uppercased().replacingOccurrences(of: "LAYER", with: "layer").replacingOccurrences(of: ".", with: " ") }
            let backboneName = backbone.isEmpty ? nil : architecture(of: backbone)
            return names.contains(where: { $0.hasPrefix("reference_layer") })
                ? .patnet(backbone: backboneName, maskers: maskers) : .hsnet(backbone: backboneName, maskers: maskers)
        }
        let resnetParts: Set<Substring> = ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"]
        if !names.isEmpty, names.contains("conv1.weight"), names.contains(where: { $0.hasPrefix("layer4.") }),
           names.allSatisfy({ resnetParts.contains($0.split(separator: ".").first ?? "") }) {
            return .backboneOnly(architecture: architecture(of: names))
        }
        // torchvision's VGG: its convolutions under features.*, its classifier beside them.
        if names.contains("features.0.weight"),
           names.allSatisfy({ $0.hasPrefix("features.") || $0.hasPrefix("classifier.") }) {
            return .backboneOnly(architecture: architecture(of: names))
        }
        return .other
    }

    /// "VGG-16" and friends from the number of convolutions under `features.` (a BatchNorm
    /// there has a weight too, and running statistics, which tell it apart).
    static func vggArchitecture(of names: [String]) -> String {
        func index(_ name: String, suffix: String) -> Substring? {
            let parts = name.split(separator: ".")
            return parts.count == 3 && parts[0] == "features" && parts[2] == suffix ? parts[1] : nil
        }
        let weighted = Set(names.compactMap { index($0, suffix: "weight") })
        let norms = Set(names.compactMap { index($0, suffix: "running_mean") })
        let depths = [8: 11, 10: 13, 13: 16, 16: 19]
        let convolutions = weighted.subtracting(norms).count
        let name = depths[convolutions].map { "VGG-\($0)" } ?? "VGG (\(convolutions) convolutions)"
        return norms.isEmpty ? name : name + " with BatchNorm"
    }

    /// "ResNet-50" and friends from the number of blocks per stage and the block type.
    static func architecture(of names: [String]) -> String {
        var blocks = [0, 0, 0, 0]
        for name in names {
            let parts = name.split(separator: ".")
            guard parts.count >= 2, parts[0].hasPrefix("layer"), let stage = Int(parts[0].dropFirst(5)),
                  (1...4).contains(stage), let block = Int(parts[1]) else { continue }
            blocks[stage - 1] = max(blocks[stage - 1], block + 1)
        }
        if blocks == [0, 0, 0, 0] {
            return names.contains(where: { $0.hasPrefix("features.") }) ? vggArchitecture(of: names) : "unknown"
        }
        let bottleneck = names.contains("layer1.0.conv3.weight")
        switch (blocks, bottleneck) {
        case ([2, 2, 2, 2], false): return "ResNet-18"
        case ([3, 4, 6, 3], false): return "ResNet-34"
        case ([3, 4, 6, 3], true): return "ResNet-50"
        case ([3, 4, 23, 3], true): return "ResNet-101"
        case ([3, 8, 36, 3], true): return "ResNet-152"
        default: return "ResNet (blocks " + blocks.map(String.init).joined(separator: "-") + ")"
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(nesting, forKey: .nesting)
        try container.encodeIfPresent(removedPrefix, forKey: .removedPrefix)
        try container.encode(kind.description, forKey: .kind)
        try container.encode(otherEntries, forKey: .otherEntries)
        var counts: [String: Int] = [:]
        for part in Part.allCases { counts[part.rawValue] = parameterCount(part) }
        counts["total"] = totalParameterCount
        counts["buffers"] = bufferCount
        try container.encode(counts, forKey: .parameterCounts)
        try container.encode(tensors, forKey: .tensors)
    }

    // snake_case, as every JSON cdfss writes.
    private enum CodingKeys: String, CodingKey {
        case path, nesting
        case removedPrefix = "removed_prefix"
        case kind
        case otherEntries = "other_entries"
        case parameterCounts = "parameter_counts"
        case tensors
    }
}

/// 23508032 as "23,508,032".
func groupedDigits(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (index, digit) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
        out.append(digit)
    }
    return value < 0 ? "-" + out : out
}

private func padded(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}
