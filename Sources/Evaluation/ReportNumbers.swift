import Datasets
import Foundation

/// Finds the number a report's decoding stumbled on.
///
/// JSONDecoder reports a number it cannot store ("episodes": 99999999999999999999, 1e400, or
/// 2.5 where an integer belongs) as "The given data was not valid JSON", with no key, although
/// the JSON is valid. This scan walks the text's tokens (strings, numbers, brackets, keys) and
/// names the first number that cannot be what the report schema wants there, with its key and
/// line, so the message can say what is wrong and where.
enum ReportNumbers {
    /// The report keys whose values are real numbers; every other number in a report is an
    /// integer (indices, seeds, counts, sizes).
    static let realKeys: Set<String> = ["seconds", "miou", "fbiou", "iou", "foreground_iou", "lr", "miou_mean", "miou_std",
                                         "fbiou_mean", "fbiou_std"]

    /// "number 99999999999999999999 at line 12 (key \"episodes\") does not fit a 64-bit
    /// integer", or nil when every number fits.
    static func firstUnreadable(in data: Data) -> String? {
        let bytes = [UInt8](data)
        // The key each open container's values belong to: an object's latest key; for an
        // array, the key the array itself is the value of.
        var keys: [String?] = []
        var isObject: [Bool] = []
        var line = 1
        var position = 0
        var lastString: String?

        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\n"):
                line += 1
                position += 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let key = keys.last ?? nil
                keys.append(byte == UInt8(ascii: "[") ? key : nil)
                isObject.append(byte == UInt8(ascii: "{"))
                position += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = keys.popLast()
                _ = isObject.popLast()
                position += 1
            case UInt8(ascii: "\""):
                var end = position + 1
                while end < bytes.count && bytes[end] != UInt8(ascii: "\"") {
                    end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                lastString = String(decoding: bytes[(position + 1)..<min(end, bytes.count)], as: UTF8.self)
                position = end + 1
            case UInt8(ascii: ":"):
                // The string before a colon is a key of the innermost object.
                if isObject.last == true { keys[keys.count - 1] = lastString }
                position += 1
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                var end = position + 1
                while end < bytes.count, "0123456789+-.eE".utf8.contains(bytes[end]) { end += 1 }
                let token = String(decoding: bytes[position..<end], as: UTF8.self)
                let key = keys.last ?? nil
                if let problem = problem(with: token, key: key) {
                    let place = key.map { " (key \"\($0)\")" } ?? ""
                    return "number \(token) at line \(line)\(place) \(problem)"
                }
                position = end
            default:
                position += 1
            }
        }
        return nil
    }

    /// What is wrong with `token` as the value of `key`, or nil.
    private static func problem(with token: String, key: String?) -> String? {
        let isIntegerLiteral = !token.contains(where: { ".eE".contains($0) })
        if isIntegerLiteral {
            if Int64(token) == nil && UInt64(token) == nil { return "does not fit a 64-bit integer" }
            return nil
        }
        guard let value = Double(token), value.isFinite else { return "is beyond the range of a double" }
        if let key, !realKeys.contains(key), value != value.rounded() { return "is not an integer" }
        return nil
    }
}
