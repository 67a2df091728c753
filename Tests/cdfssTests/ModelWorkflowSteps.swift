import Foundation
import TensorCore
import XCTest

/// What the per-model workflow tests share: a checkpoint written from state-dict entries, a
/// small synthetic target, and the predict and test runs every model must pass.
struct WorkflowData {
    let root: String
    /// class-1's first picture and mask (the support), and its second picture (the query).
    let support: String
    let supportMask: String
    let query: String
}

extension CommandLineTestCase {
    /// Writes `entries` as a safetensors checkpoint `name` in the test's folder.
    func writeCheckpoint(_ entries: [(name: String, tensor: Tensor)], named name: String) throws -> String {
        let file = path(name)
        try SafetensorsFile(tensors: Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.tensor) }))
            .write(to: URL(fileURLWithPath: file))
        return file
    }

    /// Two classes of three synthetic lesion pictures at `size` x `size`.
    func makeWorkflowData(size: String) throws -> WorkflowData {
        let root = path("target")
        let made = try run(["synth", "--out", root, "--style", "lesion", "--classes", "2", "--images-per-class", "3",
                            "--size", size, "--seed", "1"])
        XCTAssertEqual(made.status, 0, made.stderr)
        return WorkflowData(root: root, support: root + "/class-1/images/001.png", supportMask: root + "/class-1/masks/001.png",
                            query: root + "/class-1/images/002.png")
    }

    /// `predict` writes its picture and `test` (2 one-shot episodes, `extra` options) scores.
    func assertPredictsAndTests(_ model: String, data: WorkflowData, size: String, testOptions extra: [[String]] = [[]],
                                file: StaticString = #filePath, line: UInt = #line) throws {
        let predicted = try run(["predict", "--checkpoint", model, "--query", data.query, "--support", data.support,
                                 "--support-mask", data.supportMask, "--image-size", size, "--output", path("pred.png"), "--json"])
        XCTAssertEqual(predicted.status, 0, predicted.stderr, file: file, line: line)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("pred.png")), file: file, line: line)
        for options in extra {
            let tested = try run(["test", "--checkpoint", model, "--benchmark", "folder", "--datapath", data.root, "--shots", "1",
                                  "--episodes", "2", "--image-size", size, "--report", path("r.json")] + options)
            XCTAssertEqual(tested.status, 0, "\(options.joined(separator: " ")): \(tested.stderr)", file: file, line: line)
            XCTAssertTrue(tested.stdout.contains("mIoU: "), tested.stdout, file: file, line: line)
        }
    }
}
