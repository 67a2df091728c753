import Foundation
import TensorCore

/// Puts the shard reports of one filter sweep (`analyze filter-sweep --shard i/n --report`)
/// back together into the whole sweep's report.
///
/// The shards must agree on the config (but for `shard`) and on the filters; together their
/// episodes must cover the run's indices 0..<`config.episodes` exactly once, for every filter.
/// Each filter's figures are computed again from the records: episodes in index order, each
/// query picture once at its first episode in the whole run, so the result is the report a
/// single process would have written, byte for byte, with no `shard`. (A picture that is the
/// query of episodes in several shards was measured by each; the copy of the earliest
/// episode is kept, as the single process measures it there.)
public enum FilterSweepMerge {
    public static func merge(files: [URL]) throws -> FilterSweepReport {
        try merge(files.map { (source: $0.path, report: try FilterSweepReport.read($0)) })
    }

    public static func merge(_ parts: [(source: String, report: FilterSweepReport)]) throws -> FilterSweepReport {
        guard let first = parts.first else { throw InputError("no filter sweep reports to merge") }
        for (source, report) in parts where !report.hasRecords {
            throw InputError("\(source) holds the sweep's figures but not its episode records (the output of --json?); merge the files written by --report")
        }
        var config = first.report.config
        config.shard = nil
        for (source, report) in parts.dropFirst() {
            var other = report.config
            other.shard = nil
            if let (key, this, that) = try config.firstDifference(from: other) {
                throw InputError("\(first.source) and \(source) are not shards of one sweep: config key \(key) is \(this) in the first and \(that) in the second")
            }
            let filters = report.filters.map(\.filter), expected = first.report.filters.map(\.filter)
            guard filters == expected else {
                throw InputError("\(first.source) and \(source) are not shards of one sweep: they run different filters (\(expected.count) and \(filters.count); kinds, radii, parts and band width must agree)")
            }
        }
        var outcomes = [FilterSweep.Outcome(filter: nil, measurement: try merged(parts.map { ($0.source, $0.report.baseline.records!) }, config: config, name: "the unfiltered model"))]
        for (position, row) in first.report.filters.enumerated() {
            let measurement = try merged(parts.map { ($0.source, $0.report.filters[position].records!) }, config: config,
                                         name: "filter \(row.filter!.band.description) on the \(row.part)")
            outcomes.append(FilterSweep.Outcome(filter: row.filter, measurement: measurement))
        }
        return FilterSweepReport(config: config, outcomes: outcomes)
    }

    /// One filter's records of every shard, as the whole run would have measured them.
    static func merged(_ parts: [(source: String, records: FilterSweep.Measurement)], config: FilterSweepReport.Config,
                       name: String) throws -> FilterSweep.Measurement {
        var sources: [Int: [String]] = [:]
        for (source, records) in parts {
            for episode in records.episodes { sources[episode.index, default: []].append(source) }
        }
        let missing = (0..<config.episodes).filter { sources[$0] == nil }
        let repeated = sources.keys.filter { sources[$0]!.count > 1 }.sorted()
        let beyond = sources.keys.filter { $0 >= config.episodes }.sorted()
        if !missing.isEmpty || !repeated.isEmpty || !beyond.isEmpty {
            var problems: [String] = []
            if !missing.isEmpty { problems.append("\(missing.count) missing (\(ReportMerge.abbreviated(missing)))") }
            if !repeated.isEmpty {
                let example = repeated[0]
                problems.append("\(repeated.count) repeated (\(ReportMerge.abbreviated(repeated)); episode \(example) is in \(sources[example]!.joined(separator: " and ")))")
            }
            if !beyond.isEmpty { problems.append("\(beyond.count) beyond the run (\(ReportMerge.abbreviated(beyond)))") }
            throw InputError("the shards do not cover the sweep's \(config.episodes) episodes exactly once for \(name): " + problems.joined(separator: ", "))
        }
        let episodes = parts.flatMap(\.records.episodes).sorted { $0.index < $1.index }
        var earliest: [String: FilterSweep.Measurement.Query] = [:]
        for query in parts.flatMap(\.records.queries) where earliest[query.image].map({ query.firstEpisode < $0.firstEpisode }) ?? true {
            earliest[query.image] = query
        }
        let queries = earliest.values.sorted { $0.firstEpisode < $1.firstEpisode }
        if let tapCount = queries.first?.taps.count, let other = queries.first(where: { $0.taps.count != tapCount }) {
            throw InputError("the shards measured different taps for \(name): \(queries[0].image) has \(tapCount), \(other.image) \(other.taps.count)")
        }
        return FilterSweep.Measurement(episodes: episodes, queries: queries)
    }
}
