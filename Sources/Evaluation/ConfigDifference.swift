import Datasets
import Foundation

extension EvaluationConfig {
    /// The first key (in sorted order, nested keys dotted, e.g. `adaptation.lr`) whose value
    /// differs between two configs, with both values as JSON text; nil when they are equal.
    /// Used to say exactly why reports cannot be combined.
    public func firstDifference(from other: EvaluationConfig) -> (key: String, this: String, other: String)? {
        guard self != other else { return nil }
        return differences(from: other).first ?? ("config", "\(self)", "\(other)")
    }

    /// Every key whose value differs, in sorted order (nested keys dotted), with both values
    /// as JSON text: what sets two runs apart when their scores are compared.
    public func differences(from other: EvaluationConfig) -> [(key: String, this: String, other: String)] {
        guard self != other else { return [] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let a = try? JSONSerialization.jsonObject(with: encoder.encode(self)),
              let b = try? JSONSerialization.jsonObject(with: encoder.encode(other)) else {
            return [("config", "\(self)", "\(other)")]
        }
        var found: [(key: String, this: String, other: String)] = []
        Self.collectDifferences(a, b, path: "", into: &found)
        return found
    }

    private static func collectDifferences(_ a: Any, _ b: Any, path: String, into found: inout [(key: String, this: String, other: String)]) {
        if let a = a as? [String: Any], let b = b as? [String: Any] {
            for key in Set(a.keys).union(b.keys).sorted() {
                collectDifferences(a[key] ?? NSNull(), b[key] ?? NSNull(), path: path.isEmpty ? key : path + "." + key, into: &found)
            }
            return
        }
        let (textA, textB) = (jsonText(a), jsonText(b))
        if textA != textB { found.append((path, textA, textB)) }
    }

    private static func jsonText(_ value: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]) else {
            return "\(value)"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
