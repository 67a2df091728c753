import Datasets
import Foundation

extension EvaluationConfig {
    /// The first key (in sorted order, nested keys dotted, e.g. `adaptation.lr`) whose value
    /// differs between two configs, with both values as JSON text; nil when they are equal.
    /// Used to say exactly why reports cannot be combined.
    public func firstDifference(from other: EvaluationConfig) -> (key: String, this: String, other: String)? {
        guard self != other else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let a = try? JSONSerialization.jsonObject(with: encoder.encode(self)),
              let b = try? JSONSerialization.jsonObject(with: encoder.encode(other)) else {
            return ("config", "\(self)", "\(other)")
        }
        return Self.difference(a, b, path: "") ?? ("config", "\(self)", "\(other)")
    }

    private static func difference(_ a: Any, _ b: Any, path: String) -> (key: String, this: String, other: String)? {
        if let a = a as? [String: Any], let b = b as? [String: Any] {
            for key in Set(a.keys).union(b.keys).sorted() {
                let nested = path.isEmpty ? key : path + "." + key
                if let found = difference(a[key] ?? NSNull(), b[key] ?? NSNull(), path: nested) { return found }
            }
            return nil
        }
        let (textA, textB) = (jsonText(a), jsonText(b))
        return textA == textB ? nil : (path, textA, textB)
    }

    private static func jsonText(_ value: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]) else {
            return "\(value)"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
