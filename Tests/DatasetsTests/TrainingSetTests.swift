import ReferenceParity
import Datasets
import Foundation
import Imaging
import TensorCore
import XCTest

/// Training and validation sets from the benchmark layouts: a `folder` tree with a class
/// selection, any benchmark as binary masks, and FSS-1000's val classes.
final class TrainingSetTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-training-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func write(_ data: Data, _ relative: String) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }

    /// Classes `a` to `e` and `Z`, two pictures each with a 0/255 mask (left half foreground).
    func buildFolderTree() throws {
        let mask = try DatasetLayoutTests.maskData()
        for name in ["c", "a", "b", "e", "d", "Z"] {
            for picture in ["1", "2"] {
                try write(DatasetLayoutTests.jpegBytes, "\(name)/images/\(picture).jpg")
                try write(mask, "\(name)/masks/\(picture).png")
            }
        }
    }

    /// The bundled list of FSS-1000 val classes, read straight from the source tree.
    static func fssValClasses() throws -> [String] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/Datasets/Resources/fss1000-val-classes.txt")
        return try String(contentsOf: url, encoding: .utf8).split(whereSeparator: \.isNewline).map(String.init)
    }

    // MARK: - folder

    func testFolderSelectionKeepsTheTreesOrder() throws {
        try buildFolderTree()
        let all = try TrainingSet.folder(datapath: root, classes: nil)
        XCTAssertEqual(all.layout, "folder")
        XCTAssertEqual(all.classes.map(\.name), ["Z", "a", "b", "c", "d", "e"])
        let training = try TrainingSet.folder(datapath: root, classes: ["d", "a", "b", "c"])
        XCTAssertEqual(training.classes.map(\.name), ["a", "b", "c", "d"])
        XCTAssertEqual(training.classes[0].samples, [
            TrainingSample(image: "a/images/1.jpg", label: "a/masks/1.png", classValue: nil),
            TrainingSample(image: "a/images/2.jpg", label: "a/masks/2.png", classValue: nil),
        ])
        let validation = try TrainingSet.folder(datapath: root, classes: ["e", "Z"])
        XCTAssertEqual(validation.classes.map(\.name), ["Z", "e"])
        XCTAssertEqual(validation, try TrainingSet.folder(datapath: root, classes: ["Z", "e"]))
    }

    func testUnknownRepeatedOrNoSelectedClassIsAnError() throws {
        try buildFolderTree()
        assertInputError(["folder set \(root.standardizedFileURL.path)", "no class named 'f'", "classes: Z, a, b, c, d, e"]) {
            _ = try TrainingSet.folder(datapath: self.root, classes: ["a", "f"])
        }
        assertInputError(["class 'a' is selected twice"]) { _ = try TrainingSet.folder(datapath: self.root, classes: ["a", "b", "a"]) }
        assertInputError(["no class selected"]) { _ = try TrainingSet.folder(datapath: self.root, classes: []) }
    }

    func testFolderTreeErrorsComeFromTheBenchmarkLoader() throws {
        try buildFolderTree()
        try FileManager.default.removeItem(at: root.appendingPathComponent("e/masks/2.png"))
        assertInputError(["folder benchmark", root.appendingPathComponent("e/images/2.jpg").path, "has no mask"]) {
            _ = try TrainingSet.folder(datapath: self.root, classes: ["a"])
        }
        let nowhere = root.appendingPathComponent("nowhere")
        assertInputError([nowhere.path, "does not exist"]) { _ = try TrainingSet.folder(datapath: nowhere, classes: nil) }
    }

    // MARK: - benchmarks as sets

    func testBenchmarkBecomesASetOfBinaryMasks() throws {
        try buildFolderTree()
        // One mask that is not 0/255: binarised at 128 as everywhere else.
        try write(PNGWriter.encode(GrayImage(width: 4, height: 1, pixels: [0, 127, 128, 255])), "b/masks/2.png")
        let dataset = try TargetDataset.load(.folder, datapath: root)
        let set = TrainingSet(dataset)
        XCTAssertEqual(set.layout, "folder")
        XCTAssertEqual(set.root, dataset.root)
        XCTAssertEqual(set.classes.map(\.name), dataset.classes.map(\.name))
        XCTAssertEqual(set.allSamples.map(\.image), dataset.allSamples.map(\.image))
        XCTAssertEqual(set.allSamples.map(\.label), dataset.allSamples.map(\.mask))
        XCTAssertTrue(set.allSamples.allSatisfy { $0.classValue == nil })
        let masks = try set.masks(TrainingSample(image: "b/images/2.jpg", label: "b/masks/2.png"))
        XCTAssertEqual(masks.foreground, GrayImage(width: 4, height: 1, pixels: [0, 0, 1, 1]))
        XCTAssertNil(masks.ignored)
        // The left half of the JPEG-sized mask is foreground.
        let full = try set.masks(set.classes[0].samples[0]).foreground
        XCTAssertEqual(full.pixels[0], 1)
        XCTAssertEqual(full.pixels[full.width - 1], 0)
        let missing = TrainingSample(image: "x.jpg", label: "b/masks/absent.png")
        assertInputError([set.url("b/masks/absent.png").path, "not found"]) { _ = try set.masks(missing) }
    }

    func testSamplesRecordInSnakeCase() throws {
        let sample = TrainingSample(image: "i.jpg", label: "l.png", classValue: 3)
        let json = String(decoding: try JSONEncoder().encode(sample), as: UTF8.self)
        XCTAssertTrue(json.contains("\"class_value\":3"), json)
        XCTAssertEqual(try JSONDecoder().decode(TrainingSample.self, from: Data(json.utf8)), sample)
    }

    // MARK: - FSS-1000 val classes

    func testFSS1000ValSplitReadsThe240ValClassesSorted() throws {
        let valClasses = try Self.fssValClasses()
        XCTAssertEqual(valClasses.count, 240)
        XCTAssertEqual(Set(valClasses).count, 240)
        XCTAssertTrue(Set(valClasses).isDisjoint(with: try DatasetLayoutTests.fssTestClasses()))
        let mask = try DatasetLayoutTests.maskData()
        for name in valClasses {
            for picture in ["1", "2"] {
                try write(DatasetLayoutTests.jpegBytes, "FSS-1000/\(name)/\(picture).jpg")
                try write(mask, "FSS-1000/\(name)/\(picture).png")
            }
        }
        let dataset = try TargetDataset.load(.fss, datapath: root, fssSplit: .val)
        XCTAssertEqual(dataset.kind, .fss)
        XCTAssertEqual(dataset.classes.map(\.name), valClasses.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        XCTAssertEqual(dataset.classes[0].samples.map(\.image), ["1", "2"].map { "FSS-1000/\(dataset.classes[0].name)/\($0).jpg" })
        let set = TrainingSet(dataset)
        XCTAssertEqual(set.layout, "fss")
        XCTAssertEqual(set.allSamples.count, 480)
        XCTAssertTrue(try DatasetCheck.run(.fss, datapath: root, fssSplit: .val).usable)

        // The test classes stay the default, and are not there.
        let firstTest = try DatasetLayoutTests.fssTestClasses().sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }[0]
        assertInputError(["fss benchmark:", root.appendingPathComponent("FSS-1000/\(firstTest)").path, "does not exist"]) {
            _ = try TargetDataset.load(.fss, datapath: self.root)
        }
        XCTAssertFalse(try DatasetCheck.run(.fss, datapath: root).usable)
    }

    func testMissingValClassIsNamedWithTheSplit() throws {
        try FileManager.default.createDirectory(at: root.appendingPathComponent("FSS-1000"), withIntermediateDirectories: true)
        let first = try Self.fssValClasses().sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }[0]
        assertInputError(["fss benchmark (val classes)", root.appendingPathComponent("FSS-1000/\(first)").path, "239 more"]) {
            _ = try TargetDataset.load(.fss, datapath: self.root, fssSplit: .val)
        }
    }

    func testValSplitIsFSS1000sOnly() throws {
        try buildFolderTree()
        assertInputError(["val class split is FSS-1000's", "folder benchmark"]) {
            _ = try TargetDataset.load(.folder, datapath: self.root, fssSplit: .val)
        }
        assertInputError(["val class split is FSS-1000's", "isic benchmark"]) {
            _ = try DatasetCheck.run(.isic, datapath: self.root, fssSplit: .val)
        }
    }
}
