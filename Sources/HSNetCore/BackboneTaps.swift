import TensorCore

/// The names of the 13 backbone taps HSNet correlates: `layer<L>.<block>`, the residual sum of
/// that bottleneck before its final ReLU (layer2.0 .. layer2.3, layer3.0 .. layer3.5,
/// layer4.0 .. layer4.2), in the order `HSNet.features(of:)` returns them.
public enum BackboneTaps {
    public static let names: [String] = {
        var names: [String] = []
        var seen: [Int: Int] = [:]
        for layer in ResNet50Backbone.tapLayers {
            names.append("layer\(layer).\(seen[layer, default: 0])")
            seen[layer, default: 0] += 1
        }
        return names
    }()

    /// The index of a tap by name.
    public static func index(of name: String) throws -> Int {
        guard let index = names.firstIndex(of: name) else {
            throw InputError("no backbone tap \"\(name)\" (the taps are layer2.0 .. layer2.3, layer3.0 .. layer3.5, layer4.0 .. layer4.2)")
        }
        return index
    }

    /// Tap indices from a comma-separated list of names or layers (`layer4` for all of layer
    /// 4's taps, `all` for the 13).
    public static func parse(_ list: String) throws -> [Int] {
        var indices: [Int] = []
        for item in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            if item == "all" {
                indices += names.indices
            } else if item.hasPrefix("layer"), !item.contains("."), let layer = Int(item.dropFirst(5)), (2...4).contains(layer) {
                indices += ResNet50Backbone.tapLayers.indices.filter { ResNet50Backbone.tapLayers[$0] == layer }
            } else {
                indices.append(try index(of: item))
            }
        }
        guard !indices.isEmpty else { throw InputError("--taps \"\(list)\": name at least one tap (e.g. layer4.0, layer4, all)") }
        var seen = Set<Int>()
        return indices.filter { seen.insert($0).inserted }
    }
}
