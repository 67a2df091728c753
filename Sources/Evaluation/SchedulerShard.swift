import Foundation
import TensorCore

/// The shard a cluster scheduler gave this process (`--shard auto`), read from the variables
/// the scheduler sets in each task's environment.
///
/// - Slurm job arrays (`sbatch --array=0-9`): the task id `SLURM_ARRAY_TASK_ID`, the array's
///   size `SLURM_ARRAY_TASK_COUNT` (or `SLURM_ARRAY_TASK_MAX - SLURM_ARRAY_TASK_MIN + 1`), and
///   its first id `SLURM_ARRAY_TASK_MIN`, so that an array `--array=1-10` works too: the shard
///   is the id's place in the array, `id - min`.
/// - Kubernetes Indexed Jobs (`completionMode: Indexed`): `JOB_COMPLETION_INDEX`, which counts
///   from 0. Kubernetes does not export the number of completions, so the count is given
///   (`--shard-count`).
///
/// Anything that would make shards overlap or leave a hole is refused: an array with a step
/// or a list of ids, an id outside the array, a count that disagrees with the scheduler's.
/// The environment is a parameter, so every case can be tested without a scheduler.
public struct SchedulerShard: Equatable, Sendable, CustomStringConvertible {
    public enum Scheduler: String, Sendable {
        case slurm = "Slurm job array"
        case kubernetes = "Kubernetes Indexed Job"
    }

    public static let slurmTaskID = "SLURM_ARRAY_TASK_ID"
    public static let slurmTaskCount = "SLURM_ARRAY_TASK_COUNT"
    public static let slurmTaskMin = "SLURM_ARRAY_TASK_MIN"
    public static let slurmTaskMax = "SLURM_ARRAY_TASK_MAX"
    public static let slurmTaskStep = "SLURM_ARRAY_TASK_STEP"
    public static let kubernetesIndex = "JOB_COMPLETION_INDEX"

    public let shard: ShardSpec
    public let scheduler: Scheduler
    /// The variables the shard was read from, `NAME=value` (for the log line).
    public let variables: [String]

    /// Reads the shard from `environment`. `count` is `--shard-count`: required for
    /// Kubernetes, and for Slurm, when given, a check of the array's size.
    public init(environment: [String: String], count: Int? = nil) throws {
        if let count, count < 1 {
            throw InputError("--shard-count \(count): expected at least 1 (the number of shards)")
        }
        let slurm = environment[Self.slurmTaskID], kubernetes = environment[Self.kubernetesIndex]
        switch (slurm, kubernetes) {
        case (nil, nil):
            throw InputError("--shard auto: no scheduler's shard in the environment: looked for \(Self.slurmTaskID) (Slurm job arrays) and \(Self.kubernetesIndex) (Kubernetes Indexed Jobs), neither is set; outside a job array give --shard i/n")
        case (.some(let id), .some(let index)):
            // Both at once is no scheduler we know; guessing could run one shard twice.
            throw InputError("--shard auto: both \(Self.slurmTaskID)=\"\(id)\" (Slurm) and \(Self.kubernetesIndex)=\"\(index)\" (Kubernetes) are set, so which scheduler's shard to run is unclear; unset one or give --shard i/n")
        case (.some, nil):
            try self.init(slurm: environment, count: count)
        case (nil, .some):
            try self.init(kubernetes: environment, count: count)
        }
    }

    private init(slurm environment: [String: String], count requested: Int?) throws {
        let reader = Reader(environment: environment)
        let id = try reader.number(Self.slurmTaskID)!
        if let step = try reader.number(Self.slurmTaskStep), step != 1 {
            throw InputError("--shard auto: the Slurm array has a step (\(Self.slurmTaskStep)=\(step)), so its task ids are not one shard each; submit a contiguous array such as --array=0-9, or give --shard i/n")
        }
        let min = try reader.number(Self.slurmTaskMin)
        let max = try reader.number(Self.slurmTaskMax)
        if let min, let max, max < min {
            throw InputError("--shard auto: \(Self.slurmTaskMax)=\(max) is below \(Self.slurmTaskMin)=\(min)")
        }
        let first = min ?? 0
        let count: Int
        if let given = try reader.number(Self.slurmTaskCount) {
            guard given >= 1 else { throw InputError("--shard auto: \(Self.slurmTaskCount)=\(given): an array has at least one task") }
            // A list of ids (--array=1,3,5) has fewer tasks than its range spans: its ids
            // cannot be read as shard indices.
            if let max, max - first + 1 != given {
                throw InputError("--shard auto: the Slurm array's ids are not contiguous: \(Self.slurmTaskCount)=\(given) tasks with ids from \(first) to \(Self.slurmTaskMax)=\(max); submit a contiguous array such as --array=0-\(given - 1), or give --shard i/n")
            }
            count = given
        } else if let min, let max {
            count = max - min + 1
        } else {
            throw InputError("--shard auto: \(Self.slurmTaskID)=\(id) is set but not the array's size: neither \(Self.slurmTaskCount) nor both \(Self.slurmTaskMin) and \(Self.slurmTaskMax) are; give --shard i/n")
        }
        guard id >= first, id - first < count else {
            throw InputError("--shard auto: \(Self.slurmTaskID)=\(id) does not fit the Slurm array of \(count) task\(count == 1 ? "" : "s") with ids \(first) to \(first + count - 1)")
        }
        if let requested, requested != count {
            throw InputError("--shard-count \(requested) disagrees with the Slurm array, which has \(count) task\(count == 1 ? "" : "s") (ids \(first) to \(first + count - 1)); drop --shard-count or submit an array of \(requested) tasks")
        }
        shard = try ShardSpec(index: id - first, count: count)
        scheduler = .slurm
        variables = reader.read
    }

    private init(kubernetes environment: [String: String], count requested: Int?) throws {
        let reader = Reader(environment: environment)
        let index = try reader.number(Self.kubernetesIndex)!
        guard let count = requested else {
            throw InputError("--shard auto: \(Self.kubernetesIndex)=\(index) is set, but Kubernetes does not export the Job's number of completions: add --shard-count N with N the Job's completions")
        }
        guard index < count else {
            throw InputError("--shard auto: \(Self.kubernetesIndex)=\(index) does not fit --shard-count \(count) (indices 0 to \(count - 1)); --shard-count must be the Job's completions")
        }
        shard = try ShardSpec(index: index, count: count)
        scheduler = .kubernetes
        variables = reader.read
    }

    /// Reads whole numbers from the environment and remembers which it read.
    private final class Reader {
        let environment: [String: String]
        var read: [String] = []

        init(environment: [String: String]) { self.environment = environment }

        /// The variable's value, nil when it is not set.
        func number(_ name: String) throws -> Int? {
            guard let text = environment[name] else { return nil }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), value >= 0 else {
                throw InputError("--shard auto: \(name)=\"\(text)\" is not a whole number (0 or more)")
            }
            read.append("\(name)=\(value)")
            return value
        }
    }

    /// One line for the log: which shard, from where.
    public var description: String {
        "shard \(shard) from the \(scheduler.rawValue) (\(variables.joined(separator: ", ")))"
    }
}
