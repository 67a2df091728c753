import Foundation
import TensorCore

/// The names of the backbone taps HSNet correlates: `layer<L>.<block>`, the residual sum of
/// that bottleneck before its final ReLU, in the order `HSNet.features(of:)` returns them.
/// ResNet-50 has 13 (layer2.0 .. layer2.3, layer3.0 .. layer3.5, layer4.0 .. layer4.2),
/// ResNet-101 30 (layer 3 runs to layer3.22). VGG-16's 7 are named by the pyramid they feed:
/// layer2.0 .. layer2.2 (conv4_1 .. conv4_3 before their ReLU), layer3.0 .. layer3.2 (conv5_1
/// .. conv5_3 before their ReLU) and layer4.0 (pool5).
public struct BackboneTaps: Sendable {
    public let depth: BackboneKind
    public let names: [String]

    public init(depth: BackboneKind) {
        self.depth = depth
        var names: [String] = []
        var seen: [Int: Int] = [:]
        for layer in depth.tapLayers {
            names.append("layer\(layer).\(seen[layer, default: 0])")
            seen[layer, default: 0] += 1
        }
        self.names = names
    }

    /// The taps of `model`'s backbone.
    public init(of model: HSNet) { self.init(depth: model.backbone.kind) }

    /// Every name some supported backbone has: what a command checks before it has loaded
    /// the model, which then decides (a ResNet-50 has no layer3.6).
    public static let anyBackbone = BackboneTaps(depth: .resnet101)

    /// The index of a tap by name.
    public func index(of name: String) throws -> Int {
        guard let index = names.firstIndex(of: name) else {
            let ranges = (2...4).map { layer in
                let count = depth.tapCount(layer: layer)
                return count == 1 ? "layer\(layer).0" : "layer\(layer).0 .. layer\(layer).\(count - 1)"
            }
            throw InputError("no backbone tap \"\(name)\" in \(depth.name) (the taps are \(ranges.joined(separator: ", ")))")
        }
        return index
    }

    /// Tap indices from a comma-separated list of names or layers (`layer4` for all of layer
    /// 4's taps, `all` for every tap).
    public func parse(_ list: String) throws -> [Int] {
        var indices: [Int] = []
        let layers = depth.tapLayers
        for item in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            if item == "all" {
                indices += names.indices
            } else if item.hasPrefix("layer"), !item.contains("."), let layer = Int(item.dropFirst(5)), (2...4).contains(layer) {
                indices += layers.indices.filter { layers[$0] == layer }
            } else {
                indices.append(try index(of: item))
            }
        }
        guard !indices.isEmpty else { throw InputError("--taps \"\(list)\": name at least one tap (e.g. layer4.0, layer4, all)") }
        var seen = Set<Int>()
        return indices.filter { seen.insert($0).inserted }
    }
}
