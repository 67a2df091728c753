import Foundation
import XCTest

/// Job arrays run on this machine: the tasks are processes of the real binary started at
/// once, each with the variables its scheduler would set, each writing its shard's report;
/// `report merge` then gives the report of the unsharded run.
final class ClusterShardTests: CommandLineTestCase {
    let size = "64"

    func synthesize() throws -> String {
        let folder = path("data")
        let made = try run(["synth", "--out", folder, "--style", "lesion", "--classes", "2", "--images-per-class", "4",
                            "--size", size, "--seed", "5"])
        XCTAssertEqual(made.status, 0, made.stderr)
        return folder
    }

    /// This process's environment without any scheduler's variables (the tests may run
    /// inside a Slurm job), plus `variables`.
    func environment(_ variables: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment
            .filter { !$0.key.hasPrefix("SLURM_") && $0.key != "JOB_COMPLETION_INDEX" }
            .merging(variables) { $1 }
    }

    /// Starts the tasks (arguments and scheduler variables of each) all at once, as a job
    /// array's, and waits for them all. Output goes to files, so no task blocks on a full pipe.
    func runTasks(_ tasks: [(arguments: [String], variables: [String: String])]) throws -> [Result] {
        let started = try tasks.enumerated().map { task, spec in
            let process = Process()
            process.executableURL = Self.binary
            process.arguments = spec.arguments
            process.environment = environment(spec.variables)
            let out = directory.appendingPathComponent("task\(task).out"), err = directory.appendingPathComponent("task\(task).err")
            _ = FileManager.default.createFile(atPath: out.path, contents: nil)
            _ = FileManager.default.createFile(atPath: err.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: out)
            process.standardError = try FileHandle(forWritingTo: err)
            try process.run()
            return (process, out, err)
        }
        return try started.map { process, out, err in
            process.waitUntilExit()
            return Result(status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                          stderr: try String(contentsOf: err, encoding: .utf8))
        }
    }

    func run(_ arguments: [String], variables: [String: String]) throws -> Result {
        try runTasks([(arguments, variables)])[0]
    }

    func report(_ file: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
    }

    /// A report without the episodes' wall-clock times, the one thing shards may not share.
    func withoutTimes(_ file: String) throws -> NSDictionary {
        var whole = try report(file)
        func strip(_ run: [String: Any]) -> [String: Any] {
            var run = run
            run["episodes"] = (run["episodes"] as? [[String: Any]])?.map { $0.filter { $0.key != "seconds" } }
            return run
        }
        if let runs = whole["runs"] as? [[String: Any]] { whole["runs"] = runs.map(strip) } else { whole = strip(whole) }
        return whole as NSDictionary
    }

    /// The variables sbatch sets in task `id` of `--array=MIN-MAX`.
    func slurm(id: Int, min: Int, max: Int) -> [String: String] {
        ["SLURM_JOB_ID": "\(900 + id)", "SLURM_ARRAY_JOB_ID": "900", "SLURM_ARRAY_TASK_ID": "\(id)", "SLURM_ARRAY_TASK_MIN": "\(min)",
         "SLURM_ARRAY_TASK_MAX": "\(max)", "SLURM_ARRAY_TASK_COUNT": "\(max - min + 1)", "SLURM_ARRAY_TASK_STEP": "1"]
    }

    func testASlurmJobArrayMergesIntoTheWholeRun() throws {
        let data = try synthesize()
        let common = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                      "--shots", "1", "--episodes", "7", "--seeds", "0,2", "--image-size", size]
        let whole = try run(common + ["--report", path("whole.json")])
        XCTAssertEqual(whole.status, 0, whole.stderr)

        // sbatch --array=1-3: ids 1 to 3 are shards 0 to 2; each task names its report by its
        // id, as the script in docs/cluster.md does.
        try FileManager.default.createDirectory(atPath: path("shards"), withIntermediateDirectories: true)
        let ids = [1, 2, 3]
        let tasks = try runTasks(ids.map { id in
            (common + ["--shard", "auto", "--report", path("shards/r-\(id).json")], slurm(id: id, min: 1, max: 3))
        })
        for (id, task) in zip(ids, tasks) {
            XCTAssertEqual(task.status, 0, task.stderr)
            XCTAssertTrue(task.stderr.contains("shard \(id - 1)/3 from the Slurm job array (SLURM_ARRAY_TASK_ID=\(id)"), task.stderr)
            // The report records the shard it ran, as i/n.
            XCTAssertEqual((try report(path("shards/r-\(id).json"))["config"] as? [String: Any])?["shard"] as? String, "\(id - 1)/3")
        }
        let merged = try run(["report", "merge"] + ids.map { path("shards/r-\($0).json") } + ["--output", path("merged.json")])
        XCTAssertEqual(merged.status, 0, merged.stderr)
        XCTAssertEqual(try withoutTimes(path("merged.json")), try withoutTimes(path("whole.json")))
        XCTAssertEqual(merged.stdout.split(separator: "\n").last, whole.stdout.split(separator: "\n").last)
    }

    func testAKubernetesIndexedJobMergesIntoTheWholeRun() throws {
        let data = try synthesize()
        let common = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                      "--shots", "2", "--episodes", "5", "--image-size", size]
        XCTAssertEqual(try run(common + ["--report", path("whole.json")]).status, 0)
        // completions: 2, completionMode: Indexed; the count is given, Kubernetes does not export it.
        let tasks = try runTasks((0..<2).map { index in
            (common + ["--shard", "auto", "--shard-count", "2", "--report", path("k-\(index).json")], ["JOB_COMPLETION_INDEX": "\(index)"])
        })
        for (index, task) in tasks.enumerated() {
            XCTAssertEqual(task.status, 0, task.stderr)
            XCTAssertTrue(task.stderr.contains("shard \(index)/2 from the Kubernetes Indexed Job (JOB_COMPLETION_INDEX=\(index))"), task.stderr)
        }
        let merged = try run(["report", "merge", path("k-1.json"), path("k-0.json"), "--output", path("merged.json")])
        XCTAssertEqual(merged.status, 0, merged.stderr)
        XCTAssertEqual(try withoutTimes(path("merged.json")), try withoutTimes(path("whole.json")))
    }

    func testAShardedFilterSweepMergesIntoTheWholeSweepByteForByte() throws {
        let data = try synthesize()
        let common = ["analyze", "filter-sweep", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                      "--episodes", "6", "--kinds", "low,band", "--radii", "1", "--parts", "amplitude,phase", "--image-size", size]
        let whole = try run(common + ["--report", path("whole.json")])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let printed = try run(common + ["--json"])
        XCTAssertEqual(printed.status, 0, printed.stderr)

        let tasks = try runTasks((0..<2).map { id in
            (common + ["--shard", "auto", "--report", path("sweep-\(id).json")], slurm(id: id, min: 0, max: 1))
        })
        for task in tasks { XCTAssertEqual(task.status, 0, task.stderr) }
        XCTAssertTrue(tasks[1].stdout.contains("shard 1/2: 3 of 6 episodes"), tasks[1].stdout)
        let merged = try run(["report", "merge", path("sweep-1.json"), path("sweep-0.json"), "--output", path("merged.json")])
        XCTAssertEqual(merged.status, 0, merged.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("merged.json"))), try Data(contentsOf: URL(fileURLWithPath: path("whole.json"))))
        // The merge prints the table the unsharded sweep printed.
        XCTAssertEqual(merged.stdout, whole.stdout)

        // --json prints the figures of the --report file, without the records.
        var figures = try report(path("whole.json"))
        figures["baseline"] = (figures["baseline"] as? [String: Any])?.filter { $0.key != "episodes" && $0.key != "queries" }
        figures["filters"] = (figures["filters"] as? [[String: Any]])?.map { $0.filter { $0.key != "episodes" && $0.key != "queries" } }
        XCTAssertEqual(try XCTUnwrap(JSONSerialization.jsonObject(with: Data(printed.stdout.utf8)) as? NSDictionary), figures as NSDictionary)

        // Reports of different kinds do not merge.
        XCTAssertEqual(try run(["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                                "--episodes", "6", "--image-size", size, "--report", path("test.json")]).status, 0)
        assertFailsWithOneLine(try run(["report", "merge", path("sweep-0.json"), path("test.json"), "--output", path("m.json")]),
                               mentioning: ["sweep-0.json is a filter sweep report", "test.json is not"])
    }

    func testShardAutoWithoutItsSchedulerIsAOneLineErrorBeforeAnyWork() throws {
        let data = try synthesize()
        let test = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                    "--episodes", "4", "--image-size", size, "--report", path("r.json")]
        let sweep = ["analyze", "filter-sweep", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data,
                     "--episodes", "4", "--radii", "1", "--image-size", size, "--report", path("r.json")]
        for command in [test, sweep] {
            assertFailsWithOneLine(try run(command + ["--shard", "auto"], variables: [:]),
                                   mentioning: ["--shard auto", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "--shard i/n"])
            assertFailsWithOneLine(try run(command + ["--shard", "auto"], variables: ["JOB_COMPLETION_INDEX": "1"]),
                                   mentioning: ["JOB_COMPLETION_INDEX=1", "--shard-count"])
            assertFailsWithOneLine(try run(command + ["--shard", "auto", "--shard-count", "2"], variables: ["JOB_COMPLETION_INDEX": "2"]),
                                   mentioning: ["JOB_COMPLETION_INDEX=2", "--shard-count 2"])
            assertFailsWithOneLine(try run(command + ["--shard", "auto"], variables: ["SLURM_ARRAY_TASK_ID": "one", "SLURM_ARRAY_TASK_COUNT": "3"]),
                                   mentioning: ["SLURM_ARRAY_TASK_ID=\"one\"", "not a whole number"])
            var stepped = slurm(id: 2, min: 0, max: 4)
            stepped["SLURM_ARRAY_TASK_STEP"] = "2"
            stepped["SLURM_ARRAY_TASK_COUNT"] = "3"
            assertFailsWithOneLine(try run(command + ["--shard", "auto"], variables: stepped), mentioning: ["SLURM_ARRAY_TASK_STEP=2"])
            assertFailsWithOneLine(try run(command + ["--shard", "auto", "--shard-count", "4"], variables: slurm(id: 0, min: 0, max: 2)),
                                   mentioning: ["--shard-count 4", "3 tasks"])
            assertFailsWithOneLine(try run(command + ["--shard", "1/2", "--shard-count", "2"]), mentioning: ["--shard-count 2", "--shard auto"])
            assertFailsWithOneLine(try run(command + ["--shard", "auto", "--shard-count", "0"], variables: ["JOB_COMPLETION_INDEX": "0"]),
                                   mentioning: ["--shard-count 0", "at least 1"])
            assertFailsWithOneLine(try run(command + ["--shard", "half"]), mentioning: ["--shard half", "i/n", "auto"])
            // More shards than episodes: the task's shard would be empty.
            assertFailsWithOneLine(try run(command + ["--shard", "auto"], variables: slurm(id: 5, min: 0, max: 9)),
                                   mentioning: ["shard 5/10", "only 4 episodes"])
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("r.json")))
        }
    }
}
