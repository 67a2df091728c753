import Datasets
import Foundation
import TensorCore

/// A report as a file: a single-seed `EvaluationReport` or a `MultiSeedReport` (told apart by
/// a top-level `"runs"` key). Written as pretty-printed JSON with sorted keys, so the same
/// report is always the same bytes.
public enum ReportFile: Equatable, Sendable {
    case single(EvaluationReport)
    case multiSeed(MultiSeedReport)

    /// The single-seed reports it holds, in run order.
    public var runs: [EvaluationReport] {
        switch self {
        case .single(let report): return [report]
        case .multiSeed(let report): return report.runs
        }
    }

    /// The top-level config.
    public var config: EvaluationConfig {
        switch self {
        case .single(let report): return report.config
        case .multiSeed(let report): return report.config
        }
    }

    /// `EvaluationReport.scoreLine` or `MultiSeedReport.scoreLine`.
    public var scoreLine: String {
        switch self {
        case .single(let report): return report.scoreLine
        case .multiSeed(let report): return report.scoreLine
        }
    }

    /// Decodes a report; errors are `InputError`s that start with `source` (the file's path)
    /// and say which key is missing or wrong and where.
    public init(decoding data: Data, source: String) throws {
        let decoder = JSONDecoder()
        do {
            if try decoder.decode(Shape.self, from: data).hasRuns {
                self = .multiSeed(try decoder.decode(MultiSeedReport.self, from: data))
            } else {
                self = .single(try decoder.decode(EvaluationReport.self, from: data))
            }
        } catch let error as DecodingError {
            throw InputError("\(source): not a valid cdfss report: \(Self.describe(error, in: data))")
        }
    }

    /// Reads a report file.
    public static func read(_ url: URL) throws -> ReportFile {
        try ReportFile(decoding: try readFile(url, what: "report"), source: url.path)
    }

    /// The JSON text: pretty printed, keys sorted, slashes in paths left as they are.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data: Data
        switch self {
        case .single(let report): data = try encoder.encode(report)
        case .multiSeed(let report): data = try encoder.encode(report)
        }
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// Writes the report atomically: readers see the old file or the whole new one.
    public func write(to url: URL) throws {
        try AtomicFile.write(try encoded(), to: url)
    }

    /// Just enough of the top level to choose the report type.
    private struct Shape: Decodable {
        let hasRuns: Bool

        private struct AnyKey: CodingKey {
            let stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: Decoder) throws {
            hasRuns = try decoder.container(keyedBy: AnyKey.self).contains(AnyKey(stringValue: "runs"))
        }
    }

    /// One line for a decoding error: what is wrong, and at which key path.
    static func describe(_ error: DecodingError, in data: Data) -> String {
        func location(_ path: [CodingKey]) -> String {
            guard !path.isEmpty else { return "" }
            var text = ""
            for key in path {
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return " (at \(text))"
        }
        func oneLine(_ text: String) -> String {
            text.split(whereSeparator: \.isNewline).joined(separator: " ")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing key \"\(key.stringValue)\"" + location(context.codingPath)
        case .valueNotFound(_, let context):
            return "null where a value is needed" + location(context.codingPath)
        case .typeMismatch(let type, let context):
            return "expected \(Self.jsonKind(type))" + location(context.codingPath)
        case .dataCorrupted(let context):
            var message = oneLine(context.debugDescription)
            if context.codingPath.isEmpty && context.debugDescription.contains("not valid JSON") {
                // JSONDecoder does not say where the syntax breaks; JSONSerialization does.
                var syntax: String?
                do {
                    _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
                } catch {
                    syntax = (error as NSError).userInfo[NSDebugDescriptionErrorKey].map { oneLine("\($0)") } ?? ""
                }
                // Valid JSON (or JSON whose only fault is a number too large for Swift) that
                // JSONDecoder still calls invalid: a number that does not fit its field.
                if syntax == nil || syntax!.contains("not representable") {
                    return ReportNumbers.firstUnreadable(in: data)
                        ?? "a number does not fit its field (a fraction where an integer belongs, or beyond 64 bits)"
                }
                if let syntax, !syntax.isEmpty { message += " " + syntax }
            }
            return message + location(context.codingPath)
        @unknown default:
            return oneLine("\(error)")
        }
    }

    private static func jsonKind(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is UInt64.Type: return "an integer"
        case is Double.Type: return "a number"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a value of type \(name)"
        }
    }
}
