import Evaluation
import ReferenceParity
import TensorCore
import XCTest

/// `--shard auto`: the shard read from a Slurm job array's or a Kubernetes Indexed Job's
/// variables, and every environment that must be refused rather than run a wrong shard.
final class SchedulerShardTests: XCTestCase {
    /// A Slurm array task's variables as sbatch sets them for `--array=MIN-MAX`.
    func slurm(id: Int, min: Int, max: Int) -> [String: String] {
        ["SLURM_ARRAY_TASK_ID": "\(id)", "SLURM_ARRAY_TASK_MIN": "\(min)", "SLURM_ARRAY_TASK_MAX": "\(max)",
         "SLURM_ARRAY_TASK_COUNT": "\(max - min + 1)", "SLURM_ARRAY_TASK_STEP": "1", "SLURM_ARRAY_JOB_ID": "4242"]
    }

    func testEveryTaskOfASlurmArrayFromZeroRunsItsOwnShard() throws {
        for id in 0...9 {
            let scheduled = try SchedulerShard(environment: slurm(id: id, min: 0, max: 9))
            XCTAssertEqual(scheduled.shard, try ShardSpec(index: id, count: 10))
            XCTAssertEqual(scheduled.scheduler, .slurm)
        }
    }

    func testASlurmArrayFromOneCountsItsShardsFromZero() throws {
        let shards = try (1...4).map { try SchedulerShard(environment: slurm(id: $0, min: 1, max: 4)).shard }
        XCTAssertEqual(shards.map(\.description), ["0/4", "1/4", "2/4", "3/4"])
    }

    func testTheSlurmCountComesFromMinAndMaxWhenTheCountIsMissing() throws {
        var environment = slurm(id: 7, min: 5, max: 8)
        environment["SLURM_ARRAY_TASK_COUNT"] = nil
        XCTAssertEqual(try SchedulerShard(environment: environment).shard, try ShardSpec(index: 2, count: 4))
        // And from the count alone, the ids then counting from 0.
        let countOnly = ["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "5"]
        XCTAssertEqual(try SchedulerShard(environment: countOnly).shard, try ShardSpec(index: 3, count: 5))
    }

    func testAMatchingShardCountIsAcceptedWithSlurm() throws {
        XCTAssertEqual(try SchedulerShard(environment: slurm(id: 2, min: 0, max: 9), count: 10).shard, try ShardSpec(index: 2, count: 10))
        assertInputError(["--shard-count 4", "10 tasks", "ids 0 to 9"]) {
            _ = try SchedulerShard(environment: slurm(id: 2, min: 0, max: 9), count: 4)
        }
    }

    func testTheLogLineNamesTheShardTheSchedulerAndTheVariables() throws {
        let line = try SchedulerShard(environment: slurm(id: 3, min: 1, max: 4)).description
        XCTAssertEqual(line, "shard 2/4 from the Slurm job array (SLURM_ARRAY_TASK_ID=3, SLURM_ARRAY_TASK_STEP=1, SLURM_ARRAY_TASK_MIN=1, SLURM_ARRAY_TASK_MAX=4, SLURM_ARRAY_TASK_COUNT=4)")
        let kubernetes = try SchedulerShard(environment: ["JOB_COMPLETION_INDEX": "1"], count: 2).description
        XCTAssertEqual(kubernetes, "shard 1/2 from the Kubernetes Indexed Job (JOB_COMPLETION_INDEX=1)")
    }

    func testSlurmArraysWithAStepOrAListOfIdsAreRefused() {
        var stepped = slurm(id: 4, min: 0, max: 8)
        stepped["SLURM_ARRAY_TASK_STEP"] = "2"
        stepped["SLURM_ARRAY_TASK_COUNT"] = "5"
        assertInputError(["--shard auto", "SLURM_ARRAY_TASK_STEP=2", "--array=0-9"]) { _ = try SchedulerShard(environment: stepped) }
        // --array=1,3,5: three tasks spread over ids 1 to 5.
        var listed = slurm(id: 3, min: 1, max: 5)
        listed["SLURM_ARRAY_TASK_COUNT"] = "3"
        listed["SLURM_ARRAY_TASK_STEP"] = nil
        assertInputError(["--shard auto", "not contiguous", "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MAX=5", "--array=0-2"]) {
            _ = try SchedulerShard(environment: listed)
        }
    }

    func testSlurmIdsOutsideTheArrayAreRefused() {
        assertInputError(["--shard auto", "SLURM_ARRAY_TASK_ID=10", "10 tasks", "ids 0 to 9"]) {
            _ = try SchedulerShard(environment: ["SLURM_ARRAY_TASK_ID": "10", "SLURM_ARRAY_TASK_COUNT": "10"])
        }
        assertInputError(["SLURM_ARRAY_TASK_ID=0", "ids 1 to 4"]) {
            var below = slurm(id: 1, min: 1, max: 4)
            below["SLURM_ARRAY_TASK_ID"] = "0"
            _ = try SchedulerShard(environment: below)
        }
        assertInputError(["SLURM_ARRAY_TASK_MAX=2", "below", "SLURM_ARRAY_TASK_MIN=5"]) {
            _ = try SchedulerShard(environment: ["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_MAX": "2"])
        }
        assertInputError(["SLURM_ARRAY_TASK_COUNT=0", "at least one task"]) {
            _ = try SchedulerShard(environment: ["SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "0"])
        }
    }

    func testASlurmTaskWithoutTheArraySizeIsRefused() {
        assertInputError(["SLURM_ARRAY_TASK_ID=3", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "--shard i/n"]) {
            _ = try SchedulerShard(environment: ["SLURM_ARRAY_TASK_ID": "3"])
        }
        assertInputError(["SLURM_ARRAY_TASK_COUNT"]) {
            _ = try SchedulerShard(environment: ["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MAX": "9"])
        }
    }

    func testValuesThatAreNotWholeNumbersAreRefusedByName() {
        for (name, value) in [("SLURM_ARRAY_TASK_ID", "three"), ("SLURM_ARRAY_TASK_ID", "-1"), ("SLURM_ARRAY_TASK_ID", ""),
                              ("SLURM_ARRAY_TASK_COUNT", "10.5"), ("SLURM_ARRAY_TASK_MIN", "0x1"),
                              ("SLURM_ARRAY_TASK_MAX", "99999999999999999999"), ("SLURM_ARRAY_TASK_STEP", "one")] {
            var environment = slurm(id: 1, min: 0, max: 9)
            environment[name] = value
            assertInputError(["--shard auto", "\(name)=\"\(value)\"", "not a whole number"]) { _ = try SchedulerShard(environment: environment) }
        }
        assertInputError(["JOB_COMPLETION_INDEX=\"1a\"", "not a whole number"]) {
            _ = try SchedulerShard(environment: ["JOB_COMPLETION_INDEX": "1a"], count: 2)
        }
    }

    func testAKubernetesIndexedJobTakesTheCountFromTheOption() throws {
        let shards = try (0..<3).map { try SchedulerShard(environment: ["JOB_COMPLETION_INDEX": "\($0)"], count: 3) }
        XCTAssertEqual(shards.map(\.shard.description), ["0/3", "1/3", "2/3"])
        XCTAssertEqual(shards[0].scheduler, .kubernetes)
        assertInputError(["JOB_COMPLETION_INDEX=2", "does not export", "--shard-count"]) {
            _ = try SchedulerShard(environment: ["JOB_COMPLETION_INDEX": "2"])
        }
        assertInputError(["JOB_COMPLETION_INDEX=3", "--shard-count 3", "0 to 2", "completions"]) {
            _ = try SchedulerShard(environment: ["JOB_COMPLETION_INDEX": "3"], count: 3)
        }
        assertInputError(["--shard-count 0", "at least 1"]) {
            _ = try SchedulerShard(environment: ["JOB_COMPLETION_INDEX": "0"], count: 0)
        }
    }

    func testNoSchedulerOrTwoAtOnceAreRefused() {
        // Other variables of a scheduler (a plain Slurm job, not an array) do not count.
        assertInputError(["--shard auto", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "neither is set", "--shard i/n"]) {
            _ = try SchedulerShard(environment: ["SLURM_JOB_ID": "77", "PATH": "/usr/bin"])
        }
        assertInputError(["both", "SLURM_ARRAY_TASK_ID=\"1\"", "JOB_COMPLETION_INDEX=\"0\""]) {
            _ = try SchedulerShard(environment: ["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "2", "JOB_COMPLETION_INDEX": "0"], count: 2)
        }
    }
}
