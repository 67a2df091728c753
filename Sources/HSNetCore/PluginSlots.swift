import FreqMask
import TensorCore

/// A place in HSNet's feature path where plug-ins (`FeaturePlugin`) act on backbone features.
///
/// Each slot covers every tap of one backbone layer (layer 4 has 3 taps, layer 3 has 6,
/// layer 2 has 4) of one image role, at one of two stages:
///
/// - `layer<L>.query`, `layer<L>.support`: the raw features, before the support features are
///   multiplied by the support mask;
/// - `layer<L>.query.masked`, `layer<L>.support.masked`: after that multiplication, just before
///   the correlation. The query is never masked; its `.masked` slot only marks the same point
///   in the order of operations.
///
/// The frequency-masker configuration of the paper puts one amplitude-phase masker in
/// `layer4.query` and `layer4.support` and one channel phase attention in
/// `layer4.query.masked` and `layer4.support.masked`: the same plug-in object serves all three
/// layer-4 taps of both images.
public struct PluginSlot: Hashable, Sendable, CustomStringConvertible {
    public enum Role: String, Sendable, CaseIterable {
        case query, support
    }

    public enum Stage: Sendable, CaseIterable {
        /// Before the support features are multiplied by the support mask.
        case beforeSupportMask
        /// After the support masking, just before the correlation.
        case afterSupportMask
    }

    /// The backbone layer: 2, 3 or 4.
    public let layer: Int
    public let role: Role
    public let stage: Stage

    /// Creates a slot; `layer` must be 2, 3 or 4 (the layers HSNet correlates).
    public init(layer: Int, role: Role, stage: Stage) throws {
        guard (2...4).contains(layer) else {
            throw InputError("plug-in slot: layer \(layer) has no taps (HSNet correlates layers 2, 3 and 4)")
        }
        self.layer = layer
        self.role = role
        self.stage = stage
    }

    /// Parses a slot name such as `layer4.support.masked`.
    public init(name: String) throws {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || (parts.count == 3 && parts[2] == "masked"),
              parts[0].hasPrefix("layer"), let layer = Int(parts[0].dropFirst(5)), (2...4).contains(layer),
              let role = Role(rawValue: parts[1])
        else {
            throw InputError("plug-in slot \"\(name)\" does not exist (expected layer<2|3|4>.<query|support>[.masked], e.g. layer4.support.masked)")
        }
        try self.init(layer: layer, role: role, stage: parts.count == 3 ? .afterSupportMask : .beforeSupportMask)
    }

    public var name: String {
        "layer\(layer).\(role.rawValue)" + (stage == .afterSupportMask ? ".masked" : "")
    }

    public var description: String { name }

    /// Every slot, in the order the model runs them for one image role.
    public static var all: [PluginSlot] {
        var slots: [PluginSlot] = []
        for stage in Stage.allCases {
            for role in Role.allCases {
                for layer in 2...4 { slots.append(try! PluginSlot(layer: layer, role: role, stage: stage)) }
            }
        }
        return slots
    }

    // The slots of the paper's configuration.
    public static let layer4Query = try! PluginSlot(layer: 4, role: .query, stage: .beforeSupportMask)
    public static let layer4Support = try! PluginSlot(layer: 4, role: .support, stage: .beforeSupportMask)
    public static let layer4QueryMasked = try! PluginSlot(layer: 4, role: .query, stage: .afterSupportMask)
    public static let layer4SupportMasked = try! PluginSlot(layer: 4, role: .support, stage: .afterSupportMask)
}

/// The plug-ins installed in each slot, applied in installation order.
public struct PluginSlots {
    private var storage: [PluginSlot: [FeaturePlugin]] = [:]

    public init() {}

    public subscript(slot: PluginSlot) -> [FeaturePlugin] {
        get { storage[slot] ?? [] }
        set { storage[slot] = newValue.isEmpty ? nil : newValue }
    }

    /// Appends `plugin` to each of `slots`; the same object then acts in all of them (its
    /// parameters are shared, as one masker module serves query and support in the paper).
    public mutating func install(_ plugin: FeaturePlugin, in slots: [PluginSlot]) {
        for slot in slots { self[slot].append(plugin) }
    }

    public mutating func removeAll() { storage.removeAll() }

    public var isEmpty: Bool { storage.isEmpty }

    /// The occupied slots with their plug-ins, in the order the model runs them.
    public var occupied: [(slot: PluginSlot, plugins: [FeaturePlugin])] {
        PluginSlot.all.compactMap { slot in storage[slot].map { (slot, $0) } }
    }

    /// The distinct plug-in objects installed anywhere, each once, in first-use order.
    public var distinctPlugins: [FeaturePlugin] {
        var seen = Set<ObjectIdentifier>()
        var result: [FeaturePlugin] = []
        for (_, plugins) in occupied {
            for plugin in plugins where seen.insert(ObjectIdentifier(plugin)).inserted { result.append(plugin) }
        }
        return result
    }

    /// Runs the plug-ins of `slot` on every tap of that slot's layer, in place.
    /// `taps` holds all 13 backbone taps of one image; `tapLayers[i]` is tap i's layer.
    func apply(_ slot: PluginSlot, to taps: inout [Tensor], tapLayers: [Int]) throws {
        let plugins = self[slot]
        guard !plugins.isEmpty else { return }
        for index in taps.indices where tapLayers[index] == slot.layer {
            for plugin in plugins {
                do {
                    taps[index] = try plugin(taps[index])
                } catch let error as InputError {
                    throw InputError("plug-in \(plugin.kind) in slot \(slot.name): \(error.message)")
                }
            }
        }
    }
}
