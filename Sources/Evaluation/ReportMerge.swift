import Datasets
import Foundation
import TensorCore

/// Puts the shard reports of one run back together into the report of the whole run.
///
/// The shards' configs must agree on everything except `shard`; together their episodes must
/// cover the run's indices 0..<`config.episodes` exactly once. The result is scored again
/// from the records, so it is the same report — byte for byte once encoded — as a single
/// process running every episode would have written, with `shard` null. Multi-seed reports
/// merge run by run. Any shard subset of a run can also be "merged" alone when it is complete
/// (a whole-run report merges to itself).
public enum ReportMerge {
    /// Reads and merges report files.
    public static func merge(files: [URL]) throws -> ReportFile {
        try merge(files.map { (source: $0.path, file: try ReportFile.read($0)) })
    }

    /// Merges decoded reports; `source` names each in errors (its path).
    public static func merge(_ parts: [(source: String, file: ReportFile)]) throws -> ReportFile {
        guard let first = parts.first else { throw InputError("no shard reports to merge") }
        for part in parts.dropFirst() where part.file.runs.count > 1 || first.file.runs.count > 1 {
            if case .single = part.file { throw InputError("\(first.source) is a multi-seed report but \(part.source) is not") }
            if case .single = first.file { throw InputError("\(part.source) is a multi-seed report but \(first.source) is not") }
        }
        try checkConfigs(parts.map { (source: $0.source, config: $0.file.config) })
        switch first.file {
        case .single:
            return .single(try mergeRuns(parts.map { (source: $0.source, report: $0.file.runs[0]) }))
        case .multiSeed(let report):
            var merged: [EvaluationReport] = []
            for position in report.runs.indices {
                merged.append(try mergeRuns(parts.map { (source: $0.source, report: $0.file.runs[position]) }))
            }
            return .multiSeed(try MultiSeedReport(runs: merged))
        }
    }

    /// Merges the shards of one single-seed run.
    static func mergeRuns(_ parts: [(source: String, report: EvaluationReport)]) throws -> EvaluationReport {
        try checkConfigs(parts.map { (source: $0.source, config: $0.report.config) })
        var config = parts[0].report.config
        config.shard = nil

        var names: [Int: (name: String, source: String)] = [:]
        var sources: [Int: [String]] = [:]
        for (source, report) in parts {
            for entry in report.classes {
                if let known = names[entry.classIndex], known.name != entry.name {
                    throw InputError("class \(entry.classIndex) is \"\(known.name)\" in \(known.source) but \"\(entry.name)\" in \(source)")
                }
                names[entry.classIndex] = (entry.name, source)
            }
            for record in report.episodes { sources[record.index, default: []].append(source) }
        }

        let missing = (0..<config.episodes).filter { sources[$0] == nil }
        let repeated = sources.keys.filter { sources[$0]!.count > 1 }.sorted()
        if !missing.isEmpty || !repeated.isEmpty {
            var problems: [String] = []
            if !missing.isEmpty { problems.append("\(missing.count) missing (\(abbreviated(missing)))") }
            if !repeated.isEmpty {
                let example = repeated[0]
                problems.append("\(repeated.count) repeated (\(abbreviated(repeated)); episode \(example) is in \(sources[example]!.joined(separator: " and ")))")
            }
            let seed = config.seed.map { " with seed \($0)" } ?? ""
            throw InputError("the shards do not cover the run's \(config.episodes) episodes\(seed) exactly once: " + problems.joined(separator: ", "))
        }
        return try EvaluationReport(config: config, episodes: parts.flatMap(\.report.episodes),
                                    names: names.mapValues(\.name), classCount: nil)
    }

    /// Configs must be equal once `shard` is set aside.
    private static func checkConfigs(_ configs: [(source: String, config: EvaluationConfig)]) throws {
        var reference = configs[0].config
        reference.shard = nil
        for (source, config) in configs.dropFirst() {
            var config = config
            config.shard = nil
            if let (key, this, other) = reference.firstDifference(from: config) {
                throw InputError("\(configs[0].source) and \(source) are not shards of one run: config key \(key) is \(this) in the first and \(other) in the second")
            }
        }
    }

    /// Sorted indices as runs, e.g. `3, 7-9, 12`, cut after `limit` runs with the total.
    static func abbreviated(_ indices: [Int], limit: Int = 8) -> String {
        var runs: [ClosedRange<Int>] = []
        for index in indices {
            if let last = runs.last, last.upperBound + 1 == index {
                runs[runs.count - 1] = last.lowerBound...index
            } else {
                runs.append(index...index)
            }
        }
        let shown = runs.prefix(limit).map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
        return shown.joined(separator: ", ") + (runs.count > limit ? ", ..." : "")
    }
}
