import Foundation
import TensorCore

/// The published PyTorch code, timed by `scripts/bench/torch_reference_bench.py` run as a
/// subprocess with the interpreter `bench --compare-torch` names. The script imports the
/// published HSNet and APM code from the folders given here; nothing of it is in this repository.
struct TorchReference {
    /// The rows the script can time, each the counterpart of a `bench` suite.
    enum Row: String, CaseIterable {
        case episode, finetune, maskers, train

        /// The published repositories the row imports: HSNet's model package, APM's maskers.
        var needsHSNet: Bool { self != .maskers }
        var needsAPM: Bool { self != .train }
    }

    /// One timed result of the published code.
    struct RowTiming: Decodable {
        let row: String
        let name: String
        let runs: Int
        let medianMilliseconds: Double
        let minMilliseconds: Double
        let peakResidentMegabytes: Double

        enum CodingKeys: String, CodingKey {
            case row, name, runs
            case medianMilliseconds = "median_ms"
            case minMilliseconds = "min_ms"
            case peakResidentMegabytes = "peak_rss_mib"
        }
    }

    struct Report: Decodable {
        let torch: String
        let threads: Int
        let rows: [RowTiming]
    }

    /// The script beside the sources cdfss was built from.
    static let defaultScript = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/bench/torch_reference_bench.py")

    let python: URL
    let script: URL
    let hsnetCode: String?
    let apmCode: String?
    let threads: Int
    /// What `--compare-torch` was given, for messages.
    let pythonArgument: String

    /// Checks everything that can be checked without running the script: the interpreter is an
    /// executable file, the script exists, and the folders the rows need are given and exist.
    init(python pythonArgument: String, script: String?, hsnetCode: String?, apmCode: String?,
         rows: [Row], threads: Int) throws {
        self.pythonArgument = pythonArgument
        self.python = try Self.resolveExecutable(pythonArgument)
        if let script {
            guard FileManager.default.fileExists(atPath: script) else { throw InputError("--torch-script \(script): no such file") }
            self.script = URL(fileURLWithPath: script)
        } else {
            guard FileManager.default.fileExists(atPath: Self.defaultScript.path) else {
                throw InputError("--compare-torch: the script \(Self.defaultScript.path) is missing (the checkout cdfss was built from has moved?); give it with --torch-script FILE")
            }
            self.script = Self.defaultScript
        }
        for (option, folder, needed) in [("--hsnet-code", hsnetCode, rows.filter(\.needsHSNet)),
                                         ("--apm-code", apmCode, rows.filter(\.needsAPM))] where !needed.isEmpty {
            guard let folder else {
                throw InputError("--compare-torch needs \(option) DIR (a folder holding the published \(option == "--hsnet-code" ? "HSNet" : "APM") repository's .py files) for the \(needed.map(\.rawValue).joined(separator: ", ")) suite\(needed.count > 1 ? "s" : "")")
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw InputError("\(option) \(folder): no such folder")
            }
        }
        self.hsnetCode = hsnetCode
        self.apmCode = apmCode
        self.threads = threads
    }

    /// A path (anything with a slash) must be an executable file; a bare name is looked up on PATH.
    static func resolveExecutable(_ argument: String) throws -> URL {
        let manager = FileManager.default
        if argument.contains("/") {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                throw InputError("--compare-torch \(argument): no such file (expected a Python interpreter with torch installed)")
            }
            guard !isDirectory.boolValue, manager.isExecutableFile(atPath: argument) else {
                throw InputError("--compare-torch \(argument): not an executable file (expected a Python interpreter with torch installed)")
            }
            return URL(fileURLWithPath: argument)
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") where !folder.isEmpty {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent(argument)
            if manager.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw InputError("--compare-torch \(argument): not found on PATH (expected a Python interpreter with torch installed)")
    }

    /// Imports torch and the published code the rows need and builds their models, timing
    /// nothing; a failure is one line naming what failed.
    func check(rows: [Row]) throws -> Report {
        try run(rows: rows, arguments: ["--check"], what: "check")
    }

    /// Times the published code on the rows, `runs` timed runs each (after the script's warm-up).
    func time(_ row: Row, runs: Int) throws -> Report {
        let runOption: String
        switch row {
        case .episode: runOption = "--episode-runs"
        case .finetune: runOption = "--finetune-runs"
        case .maskers: runOption = "--runs"
        case .train: runOption = "--train-runs"
        }
        return try run(rows: [row], arguments: [runOption, String(runs)], what: "\(row.rawValue) timing")
    }

    private func run(rows: [Row], arguments: [String], what: String) throws -> Report {
        var command = [script.path, "--json", "--threads", String(threads), "--row"] + rows.map(\.rawValue)
        if let hsnetCode { command += ["--hsnet", hsnetCode] }
        if let apmCode { command += ["--apm", apmCode] }
        command += arguments
        let (status, output, errors) = try Self.runProcess(python, arguments: command, pythonArgument: pythonArgument)
        guard status == 0 else {
            let lines = errors.split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }
            var reason = lines.last { !$0.isEmpty } ?? "exited with status \(status) and no message"
            if reason.hasPrefix("torch_reference_bench: ") { reason.removeFirst("torch_reference_bench: ".count) }
            throw InputError("--compare-torch \(pythonArgument): the published code's \(what) failed: \(reason)")
        }
        // The JSON is the last line: anything the published code prints comes before it.
        let lastLine = String(decoding: output, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        do {
            return try JSONDecoder().decode(Report.self, from: Data(lastLine.utf8))
        } catch {
            throw InputError("--compare-torch \(pythonArgument): the published code's \(what) printed no JSON report (\(script.lastPathComponent) is not the expected script?)")
        }
    }

    /// Runs the interpreter with stdout and stderr in temporary files (no pipe to fill up while
    /// it runs for minutes), returning the exit status, stdout and stderr.
    static func runProcess(_ executable: URL, arguments: [String], pythonArgument: String) throws -> (Int32, Data, String) {
        let manager = FileManager.default
        let folder = manager.temporaryDirectory.appendingPathComponent("cdfss-compare-torch-\(UUID().uuidString)")
        try manager.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? manager.removeItem(at: folder) }
        let (outURL, errURL) = (folder.appendingPathComponent("stdout"), folder.appendingPathComponent("stderr"))
        guard manager.createFile(atPath: outURL.path, contents: nil), manager.createFile(atPath: errURL.path, contents: nil) else {
            throw InputError("--compare-torch: cannot write temporary files in \(folder.path)")
        }
        let (out, err) = (try FileHandle(forWritingTo: outURL), try FileHandle(forWritingTo: errURL))
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        do {
            try process.run()
        } catch {
            throw InputError("--compare-torch \(pythonArgument): cannot start it (\(error.localizedDescription))")
        }
        process.waitUntilExit()
        try? out.close()
        try? err.close()
        let output = (try? Data(contentsOf: outURL)) ?? Data()
        let errors = String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self)
        if process.terminationReason == .uncaughtSignal {
            throw InputError("--compare-torch \(pythonArgument): killed by signal \(process.terminationStatus)")
        }
        return (process.terminationStatus, output, errors)
    }
}
