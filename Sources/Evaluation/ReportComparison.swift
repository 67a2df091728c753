import Datasets
import Foundation
import TensorCore

/// Two evaluation reports of one benchmark side by side (`cdfss report compare A B`): the
/// foreground IoU of every class in each and the change from A to B, then mIoU and FB-IoU the
/// same way, and the config keys in which the runs differ (what the change may be due to).
///
/// Reports of different benchmarks, or over different classes (a shard or a short run that
/// met fewer of them), are refused: the per-class rows and the means would not be of the same
/// things. A multi-seed report counts with its mean over the seeds: per class the mean of the
/// runs' class IoUs, for mIoU and FB-IoU the summary's means.
///
/// JSON (`--json`): `{"a", "b", "classes": [{"class", "name", "a", "b", "change"}], "miou":
/// {"a", "b", "change"}, "fbiou": {...}, "config_differences": [{"key", "a", "b"}]}`, where
/// `a` and `b` at the top describe the reports (`{"report", "benchmark", "shots", "episodes",
/// "seeds", "masker", "adaptation", "miou", "fbiou"}`) and config values are JSON text.
public struct ReportComparison: Encodable {
    public struct Side: Encodable {
        public let report: String
        public let benchmark: String
        public let shots: Int
        public let episodes: Int
        public let seeds: [UInt64]
        public let masker: String
        public let adaptation: String
        public let miou: Double
        public let fbiou: Double
    }

    public struct Row: Encodable {
        public let classIndex: Int
        public let name: String
        public let a: Double
        public let b: Double
        public var change: Double { b - a }

        enum CodingKeys: String, CodingKey { case classIndex = "class", name, a, b, change }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(classIndex, forKey: .classIndex)
            try container.encode(name, forKey: .name)
            try container.encode(a, forKey: .a)
            try container.encode(b, forKey: .b)
            try container.encode(change, forKey: .change)
        }
    }

    public struct Pair: Encodable {
        public let a: Double
        public let b: Double
        public var change: Double { b - a }

        enum CodingKeys: String, CodingKey { case a, b, change }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(a, forKey: .a)
            try container.encode(b, forKey: .b)
            try container.encode(change, forKey: .change)
        }
    }

    public struct Difference: Encodable {
        public let key: String
        public let a: String
        public let b: String
    }

    public let a: Side
    public let b: Side
    public let classes: [Row]
    public let miou: Pair
    public let fbiou: Pair
    public let configDifferences: [Difference]

    enum CodingKeys: String, CodingKey {
        case a, b, classes, miou, fbiou
        case configDifferences = "config_differences"
    }

    /// Compares report `a` (read from `sourceA`) with `b`; the sources name them in errors.
    public init(_ a: ReportFile, source sourceA: String, _ b: ReportFile, source sourceB: String) throws {
        let (configA, configB) = (a.config, b.config)
        guard configA.benchmark == configB.benchmark else {
            throw InputError("\(sourceA) is a report on \(configA.benchmark.rawValue) and \(sourceB) on \(configB.benchmark.rawValue): their classes do not compare")
        }
        let (classesA, classesB) = (Self.classIoUs(a), Self.classIoUs(b))
        for index in Set(classesA.keys).intersection(classesB.keys).sorted() where classesA[index]!.name != classesB[index]!.name {
            throw InputError("class \(index) is \"\(classesA[index]!.name)\" in \(sourceA) but \"\(classesB[index]!.name)\" in \(sourceB): the reports are of different class lists")
        }
        guard Set(classesA.keys) == Set(classesB.keys) else {
            throw InputError("\(sourceA) scores classes \(Self.listed(classesA.keys)) but \(sourceB) classes \(Self.listed(classesB.keys)): compare runs over the same classes")
        }
        self.a = Self.side(a, source: sourceA)
        self.b = Self.side(b, source: sourceB)
        classes = classesA.keys.sorted().map { Row(classIndex: $0, name: classesA[$0]!.name, a: classesA[$0]!.iou, b: classesB[$0]!.iou) }
        miou = Pair(a: self.a.miou, b: self.b.miou)
        fbiou = Pair(a: self.a.fbiou, b: self.b.fbiou)
        configDifferences = configA.differences(from: configB).map { Difference(key: $0.key, a: $0.this, b: $0.other) }
    }

    /// Per class index: its name and IoU (the mean over the runs that met it).
    static func classIoUs(_ file: ReportFile) -> [Int: (name: String, iou: Double)] {
        var sums: [Int: (name: String, total: Double, runs: Int)] = [:]
        for run in file.runs {
            for entry in run.classes {
                let old = sums[entry.classIndex] ?? (entry.name, 0, 0)
                sums[entry.classIndex] = (old.name, old.total + entry.iou, old.runs + 1)
            }
        }
        return sums.mapValues { (name: $0.name, iou: $0.total / Double($0.runs)) }
    }

    static func side(_ file: ReportFile, source: String) -> Side {
        let config = file.config
        let summary = SeedSummary(runs: file.runs)
        return Side(report: source, benchmark: config.benchmark.rawValue, shots: config.shots, episodes: config.episodes,
                    seeds: summary.seeds, masker: config.masker, adaptation: config.adaptation.mode.rawValue,
                    miou: summary.miouMean, fbiou: summary.fbiouMean)
    }

    /// "0-5" for consecutive indices, else "0, 2, 5" (at most ten listed).
    static func listed(_ indices: Dictionary<Int, (name: String, iou: Double)>.Keys) -> String {
        let sorted = indices.sorted()
        guard let first = sorted.first, let last = sorted.last else { return "none" }
        if last - first + 1 == sorted.count && sorted.count > 2 { return "\(first)-\(last)" }
        let shown = sorted.prefix(10).map(String.init).joined(separator: ", ")
        return sorted.count > 10 ? shown + ", ... (\(sorted.count) in all)" : shown
    }

    /// The comparison as text: a line per report, the class rows, mIoU and FB-IoU, and the
    /// config keys that differ.
    public var text: String {
        func describe(_ label: String, _ side: Side) -> String {
            "\(label): \(side.report) (\(side.benchmark), \(side.shots)-shot, \(side.episodes) episodes, "
                + "seed\(side.seeds.count == 1 ? "" : "s") \(side.seeds.map(String.init).joined(separator: ",")), "
                + "adaptation \(side.adaptation), masker \(side.masker))"
        }
        let nameWidth = max(6, classes.map(\.name.count).max() ?? 0)
        func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + fill : fill + text
        }
        func row(_ index: String, _ name: String, _ a: Double, _ b: Double) -> String {
            pad(index, 5) + "  " + pad(name, nameWidth, left: true) + "  " + pad(String(format: "%.2f", a), 7) + "  "
                + pad(String(format: "%.2f", b), 7) + "  " + pad(signed(b - a), 7)
        }
        // A change that rounds to zero is "0.00", not "+0.00" or "-0.00".
        func signed(_ change: Double) -> String {
            let text = String(format: "%+.2f", change)
            return Double(text) == 0 ? "0.00" : text
        }
        var lines = [describe("A", a), describe("B", b),
                     pad("class", 5) + "  " + pad("name", nameWidth, left: true) + "  " + pad("A IoU %", 7) + "  "
                        + pad("B IoU %", 7) + "  " + pad("change", 7)]
        for entry in classes { lines.append(row("\(entry.classIndex)", entry.name, entry.a, entry.b)) }
        lines.append(row("", "mIoU", miou.a, miou.b))
        lines.append(row("", "FB-IoU", fbiou.a, fbiou.b))
        if !configDifferences.isEmpty {
            lines.append("config differences: " + configDifferences.map { "\($0.key) \($0.a) -> \($0.b)" }.joined(separator: "; "))
        }
        return lines.joined(separator: "\n")
    }

    /// One line of JSON, keys sorted.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
