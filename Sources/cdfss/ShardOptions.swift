import ArgumentParser
import Evaluation
import Foundation
import TensorCore

/// `--shard i/n|auto` and `--shard-count N`, shared by the commands whose episodes can be
/// split over the tasks of a cluster job (`test`, `analyze filter-sweep`).
struct ShardOptions: ParsableArguments {
    /// What `--shard` said: a shard, or "ask the scheduler".
    enum Request {
        case fixed(ShardSpec)
        case scheduler
    }

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Run every n-th episode: i/n with 0 <= i < n, or auto to read i and n from a Slurm job array (\(SchedulerShard.slurmTaskID), \(SchedulerShard.slurmTaskCount) or \(SchedulerShard.slurmTaskMin)/\(SchedulerShard.slurmTaskMax)) or a Kubernetes Indexed Job (\(SchedulerShard.kubernetesIndex), with --shard-count).",
                               valueName: "i/n|auto"),
            transform: { text in
                guard text != "auto" else { return .scheduler }
                do { return .fixed(try ShardSpec(parsing: text)) } catch let error as InputError {
                    // The library's message knows i/n only; the option also takes auto.
                    throw ValidationError(error.message.contains("expected INDEX/COUNT")
                        ? "--shard \(text): expected i/n with the index i from 0 (e.g. 0/4), or auto" : "--shard \(text): \(error.message)")
                }
            })
    var shard: Request?

    @Option(parsing: .unconditional, help: ArgumentHelp("With --shard auto: the number of shards, the Job's completions for Kubernetes (which does not export it); for Slurm a check of the array's size.", valueName: "n"))
    var shardCount: Int?

    func validate() throws {
        if let shardCount {
            guard case .scheduler = shard else {
                throw ValidationError("--shard-count \(shardCount) applies to --shard auto only (--shard i/n gives the count itself)")
            }
            guard shardCount >= 1 else { throw ValidationError("--shard-count \(shardCount): expected at least 1") }
        }
    }

    /// The shard to run, nil for the whole run; with `auto` read from `environment` (the
    /// process's own unless a test gives one).
    func resolved(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SchedulerShard? {
        guard case .scheduler = shard else { return nil }
        return try SchedulerShard(environment: environment, count: shardCount)
    }

    /// The shard to run, nil for the whole run.
    func spec(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ShardSpec? {
        switch shard {
        case nil: return nil
        case .fixed(let spec): return spec
        case .scheduler: return try resolved(environment: environment)!.shard
        }
    }
}
