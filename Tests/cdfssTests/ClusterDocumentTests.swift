import Foundation
import XCTest

/// The scripts and manifests of docs/cluster.md, run as they are printed: the Slurm batch
/// script as one array task, the submission script against a stand-in `sbatch`, the
/// Kubernetes Job's command as one indexed pod. A stand-in `cdfss` records what it was given;
/// the merge step runs the real binary.
final class ClusterDocumentTests: CommandLineTestCase {
    static let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/cluster.md")

    /// The fenced blocks of the document, with their language.
    func blocks() throws -> [(language: String, text: String)] {
        var found: [(String, String)] = []
        var current: (String, [String])?
        for line in try String(contentsOf: Self.document, encoding: .utf8).components(separatedBy: "\n") {
            if line.hasPrefix("```") {
                if let open = current {
                    found.append((open.0, open.1.joined(separator: "\n")))
                    current = nil
                } else {
                    current = (String(line.dropFirst(3)), [])
                }
            } else if current != nil {
                current!.1.append(line)
            }
        }
        return found
    }

    /// A folder of stand-in commands that append their arguments (one per line, after a line
    /// naming the command) and the thread variables to `calls.txt`.
    func standIns(_ names: [String], sbatchPrints: String = "4242;cluster") throws -> URL {
        let bin = directory.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        for name in names {
            let script = """
                #!/bin/sh
                { echo "CALL \(name) CDFSS_THREADS=${CDFSS_THREADS:-}"
                  for argument in "$@"; do echo "ARG $argument"; done; } >> "\(path("calls.txt"))"
                \(name == "sbatch" ? "echo '\(sbatchPrints)'" : "")
                """
            let file = bin.appendingPathComponent(name)
            try script.write(to: file, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
        }
        return bin
    }

    /// The recorded calls: each command's name and arguments.
    func calls() throws -> [(name: String, threads: String, arguments: [String])] {
        var calls: [(String, String, [String])] = []
        for line in try String(contentsOfFile: path("calls.txt"), encoding: .utf8).split(separator: "\n") {
            if line.hasPrefix("CALL ") {
                let words = line.dropFirst(5).split(separator: " ", maxSplits: 1)
                calls.append((String(words[0]), String(words[1]), []))
            } else if line.hasPrefix("ARG ") {
                calls[calls.count - 1].2.append(String(line.dropFirst(4)))
            }
        }
        return calls
    }

    func shell(_ program: String, arguments: [String] = [], environment extra: [String: String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", program, "sh"] + arguments
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment
            .filter { !$0.key.hasPrefix("SLURM_") && $0.key != "JOB_COMPLETION_INDEX" }
            .merging(extra) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    func testTheSlurmBatchScriptRunsItsShardWithTheTasksCPUs() throws {
        let script = try blocks()[0]
        XCTAssertTrue(script.text.hasPrefix("#!/bin/bash"), script.text)
        for directive in ["#SBATCH --array=0-9", "#SBATCH --cpus-per-task=2", "#SBATCH --mem=", "#SBATCH --time="] {
            XCTAssertTrue(script.text.contains(directive), directive)
        }
        let bin = try standIns(["cdfss"])
        try script.text.write(toFile: path("cdfss-test.sbatch"), atomically: true, encoding: .utf8)
        // What Slurm sets in task 3 of --array=0-9 with --cpus-per-task=2.
        let task = try shell("exec bash cdfss-test.sbatch", environment: [
            "PATH": bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"), "SLURM_ARRAY_TASK_ID": "3",
            "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "9", "SLURM_ARRAY_TASK_COUNT": "10", "SLURM_CPUS_PER_TASK": "2",
            "BENCHMARK": "isic"])
        XCTAssertEqual(task.status, 0, task.stderr)
        let call = try XCTUnwrap(calls().first)
        XCTAssertEqual(call.threads, "CDFSS_THREADS=2")
        XCTAssertEqual(Array(call.arguments.prefix(1)), ["test"])
        let arguments = call.arguments.joined(separator: " ")
        for part in ["--benchmark isic", "--seeds 0,1,2,3,4", "--adapt episode", "--shard auto", "--report shards/isic/r-3.json"] {
            XCTAssertTrue(arguments.contains(part), "\(part) in \(arguments)")
        }
        var isFolder: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("shards/isic"), isDirectory: &isFolder) && isFolder.boolValue)
    }

    func testTheSubmissionScriptMakesEachMergeWaitForItsArrayAndTheMergeRuns() throws {
        let submit = try blocks()[1].text
        let bin = try standIns(["sbatch"])
        try submit.write(toFile: path("submit.sh"), atomically: true, encoding: .utf8)
        let submitted = try shell("exec bash submit.sh", environment: [
            "PATH": bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")])
        XCTAssertEqual(submitted.status, 0, submitted.stderr)
        let sbatch = try calls()
        XCTAssertEqual(sbatch.count, 8, "an array and a merge per benchmark")
        var wraps: [String] = []
        for (benchmark, pair) in zip(["deepglobe", "isic", "lung", "fss"], stride(from: 0, to: 8, by: 2).map { Array(sbatch[$0...$0 + 1]) }) {
            XCTAssertEqual(pair[0].arguments, ["--parsable", "--export=ALL,BENCHMARK=\(benchmark)", "cdfss-test.sbatch"])
            // The cluster name --parsable may add is cut off the job id.
            XCTAssertTrue(pair[1].arguments.contains("--dependency=afterok:4242"), "\(pair[1].arguments)")
            let wrap = try XCTUnwrap(pair[1].arguments.firstIndex(of: "--wrap")).advanced(by: 1)
            wraps.append(pair[1].arguments[wrap])
        }
        XCTAssertEqual(wraps[0], "cdfss report merge shards/deepglobe/r-*.json --output results/deepglobe-1shot.json")

        // The merge job's command, on the reports of a real sharded run.
        let data = path("data")
        XCTAssertEqual(try run(["synth", "--out", data, "--style", "lesion", "--classes", "2", "--images-per-class", "3", "--size", "64"]).status, 0)
        try FileManager.default.createDirectory(atPath: path("shards/deepglobe"), withIntermediateDirectories: true)
        let common = ["test", "--checkpoint", "builtin:deterministic", "--benchmark", "folder", "--datapath", data, "--episodes", "4",
                      "--image-size", "64"]
        XCTAssertEqual(try run(common + ["--report", path("whole.json")]).status, 0)
        for i in 0..<2 { XCTAssertEqual(try run(common + ["--shard", "\(i)/2", "--report", path("shards/deepglobe/r-\(i).json")]).status, 0) }
        let real = directory.appendingPathComponent("real")
        try FileManager.default.createDirectory(at: real, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: real.appendingPathComponent("cdfss"), withDestinationURL: Self.binary)
        let merged = try shell(wraps[0], environment: ["PATH": real.path + ":/usr/bin:/bin"])
        XCTAssertEqual(merged.status, 0, merged.stderr)
        let whole = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("whole.json")))) as? [String: Any]
        let result = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("results/deepglobe-1shot.json")))) as? [String: Any]
        XCTAssertEqual(result?["miou"] as? Double, whole?["miou"] as? Double)
        XCTAssertEqual((result?["episodes"] as? [Any])?.count, 4)
    }

    func testTheKubernetesJobRunsTheShardOfItsIndexWithTheCountOfItsCompletions() throws {
        let manifests = try blocks().filter { $0.language == "yaml" }.map(\.text)
        XCTAssertEqual(manifests.count, 2)
        let job = manifests[0]
        for line in ["completionMode: Indexed", "completions: 10", "parallelism: 10", "restartPolicy: Never", "claimName: cdfss-shared"] {
            XCTAssertTrue(job.contains(line), line)
        }
        // The folded `args` scalar: its lines joined by spaces, as YAML's `>-` does.
        func command(_ manifest: String) throws -> String {
            let lines = manifest.components(separatedBy: "\n")
            let start = try XCTUnwrap(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "- >-" }) + 1
            let indent = lines[start].prefix { $0 == " " }.count
            return lines[start...].prefix { $0.prefix { $0 == " " }.count >= indent && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
                .map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        }
        let shared = directory.appendingPathComponent("shared").path
        let pod = try command(job).replacingOccurrences(of: "/shared", with: shared)
        XCTAssertTrue(pod.contains("--shard auto --shard-count 10"), pod)
        for (name, value) in [("CDFSS_THREADS", "2")] {
            XCTAssertTrue(job.contains("- name: \(name)"), name)
            XCTAssertTrue(job.contains("value: \"\(value)\""), name)
        }
        let bin = try standIns(["cdfss"])
        let ran = try shell(pod, environment: ["PATH": bin.path + ":/usr/bin:/bin", "JOB_COMPLETION_INDEX": "7",
                                                "CDFSS_THREADS": "2"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let arguments = try XCTUnwrap(calls().first).arguments.joined(separator: " ")
        XCTAssertTrue(arguments.contains("--report \(shared)/shards/deepglobe/r-7.json"), arguments)
        XCTAssertTrue(arguments.hasPrefix("test --checkpoint \(shared)/checkpoints/"), arguments)

        let merge = try command(manifests[1])
        XCTAssertEqual(merge, "mkdir -p /shared/results && exec cdfss report merge /shared/shards/deepglobe/r-*.json --output /shared/results/deepglobe-1shot.json")
    }
}
