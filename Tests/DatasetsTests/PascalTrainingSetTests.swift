@testable import Datasets
import ReferenceParity
import Foundation
import Imaging
import TensorCore
import XCTest

/// PASCAL-5i training and validation sets: a VOC tree and small fold lists built in a temporary
/// folder, and the fold lists shipped with cdfss, which must be HSNet's.
final class PascalTrainingSetTests: XCTestCase {
    var root: URL!
    /// Where the small fold lists of a test go (`trn/fold<K>.txt`, `val/fold<K>.txt`).
    var lists: URL { root.appendingPathComponent("lists") }
    var data: URL { root.appendingPathComponent("data") }

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-pascal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    // MARK: - Building a tree

    /// A 4 x 3 label map: the first row is `value`, the second `0, value, 255, 0`, the third
    /// `second` (or background), so every picture has foreground, background and boundary.
    static func labelPixels(_ value: UInt8, second: UInt8? = nil) -> [UInt8] {
        [value, value, value, value, 0, value, 255, 0] + [UInt8](repeating: second ?? 0, count: 4)
    }

    func writeFile(_ data: Data, _ url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }

    func writePicture(_ name: String, label: [UInt8]) throws {
        try writeFile(DatasetLayoutTests.jpegBytes, data.appendingPathComponent("VOC2012/JPEGImages/\(name).jpg"))
        try writeFile(PNGWriter.encode(GrayImage(width: 4, height: 3, pixels: label)),
                      data.appendingPathComponent("VOC2012/SegmentationClassAug/\(name).png"))
    }

    func writeList(_ split: String, _ fold: Int, _ lines: [String]) throws {
        try writeFile(Data(lines.map { $0 + "\n" }.joined().utf8), lists.appendingPathComponent("\(split)/fold\(fold).txt"))
    }

    /// Every class has two training pictures and one validation picture; each fold's training
    /// list also holds a picture of two classes of the fold, listed once for each.
    func buildTree() throws {
        for fold in 0..<4 {
            var trn: [String] = [], val: [String] = []
            for value in PascalFold.foldClasses(fold) {
                let code = String(format: "%02d", value)
                for index in 1...2 {
                    try writePicture("trn_\(code)_\(index)", label: Self.labelPixels(UInt8(value)))
                    trn.append("trn_\(code)_\(index)__\(code)")
                }
                try writePicture("val_\(code)", label: Self.labelPixels(UInt8(value)))
                val.append("val_\(code)__\(code)")
            }
            let first = fold * 5 + 1, second = fold * 5 + 2
            try writePicture("trn_shared_\(fold)", label: Self.labelPixels(UInt8(first), second: UInt8(second)))
            trn.insert("trn_shared_\(fold)__\(String(format: "%02d", second))", at: 0)
            trn.append("trn_shared_\(fold)__\(String(format: "%02d", first))")
            try writeList("trn", fold, trn)
            try writeList("val", fold, val)
        }
    }

    func load(_ fold: PascalFold, _ split: PascalSplit) throws -> TrainingSet {
        try TrainingSet.pascal(datapath: data, fold: fold, split: split, listFolder: lists)
    }

    // MARK: - Class selection per fold

    func testTrainingOnAFoldReadsTheOtherThreeFoldsLists() throws {
        try buildTree()
        let set = try load(.fold(1), .training)
        XCTAssertEqual(set.layout, "pascal")
        XCTAssertEqual(set.root, data.standardizedFileURL)
        XCTAssertEqual(set.classes.map(\.name), [
            "aeroplane", "bicycle", "bird", "boat", "bottle",
            "diningtable", "dog", "horse", "motorbike", "person",
            "pottedplant", "sheep", "sofa", "train", "tvmonitor",
        ])
        XCTAssertEqual(set.classes.flatMap(\.samples).compactMap(\.classValue).reduce(into: Set<Int>()) { $0.insert($1) },
                       Set([1, 2, 3, 4, 5, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]))
        // Samples in list order; the two-class picture is a sample of each of its classes.
        XCTAssertEqual(set.classes[0].samples, [
            TrainingSample(image: "VOC2012/JPEGImages/trn_01_1.jpg", label: "VOC2012/SegmentationClassAug/trn_01_1.png", classValue: 1),
            TrainingSample(image: "VOC2012/JPEGImages/trn_01_2.jpg", label: "VOC2012/SegmentationClassAug/trn_01_2.png", classValue: 1),
            TrainingSample(image: "VOC2012/JPEGImages/trn_shared_0.jpg", label: "VOC2012/SegmentationClassAug/trn_shared_0.png",
                           classValue: 1),
        ])
        XCTAssertEqual(set.classes[1].samples.map(\.image).first, "VOC2012/JPEGImages/trn_shared_0.jpg")
        XCTAssertTrue(set.allSamples.allSatisfy { $0.image.hasPrefix("VOC2012/JPEGImages/trn_") })
        XCTAssertEqual(set.allSamples.count, 3 * (5 * 2 + 2))
        XCTAssertEqual(set.url(set.classes[0].samples[0].image).path,
                       data.standardizedFileURL.appendingPathComponent("VOC2012/JPEGImages/trn_01_1.jpg").path)
    }

    func testValidatingOnAFoldReadsItsOwnValidationList() throws {
        try buildTree()
        let set = try load(.fold(3), .validation)
        XCTAssertEqual(set.classes.map(\.name), ["pottedplant", "sheep", "sofa", "train", "tvmonitor"])
        XCTAssertEqual(set.allSamples.map(\.image), (16...20).map { "VOC2012/JPEGImages/val_\($0).jpg" })
        XCTAssertEqual(set.allSamples.compactMap(\.classValue), Array(16...20))
    }

    func testAllTrainsOnTheTwentyClassesOfTheFourTrainingLists() throws {
        try buildTree()
        let training = try load(.all, .training)
        XCTAssertEqual(training.classes.map(\.name), PascalClasses.names)
        XCTAssertEqual(training.allSamples.count, 4 * (5 * 2 + 2))
        XCTAssertTrue(training.allSamples.allSatisfy { $0.image.hasPrefix("VOC2012/JPEGImages/trn_") })
        let validation = try load(.all, .validation)
        XCTAssertEqual(validation.classes.map(\.name), PascalClasses.names)
        XCTAssertEqual(validation.allSamples.map(\.image), (1...20).map { String(format: "VOC2012/JPEGImages/val_%02d.jpg", $0) })
    }

    // MARK: - Masks

    func testForegroundIsTheClassValueAndTheBoundaryIsIgnored() throws {
        try buildTree()
        let set = try load(.fold(2), .training)
        let shared = set.allSamples.filter { $0.image.hasSuffix("trn_shared_0.jpg") }
        XCTAssertEqual(shared.compactMap(\.classValue), [1, 2])
        // Label rows: 1 1 1 1 / 0 1 255 0 / 2 2 2 2.
        let asOne = try set.masks(shared[0])
        XCTAssertEqual(asOne.foreground, GrayImage(width: 4, height: 3, pixels: [1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(asOne.ignored, GrayImage(width: 4, height: 3, pixels: [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]))
        let asTwo = try set.masks(shared[1])
        XCTAssertEqual(asTwo.foreground.pixels, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
        XCTAssertEqual(asTwo.ignored, asOne.ignored)
    }

    func testLabelWithoutBoundaryIgnoresNothingAndOtherValuesAreBackground() throws {
        try buildTree()
        try writePicture("trn_01_1", label: [1, 1, 0, 7, 21, 254, 1, 0, 3, 3, 3, 3])
        let set = try load(.all, .training)
        let masks = try set.masks(set.classes[0].samples[0])
        XCTAssertEqual(masks.foreground.pixels, [1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
        XCTAssertNil(masks.ignored)
    }

    func testPaletteLabelGivesItsIndicesNotItsColours() throws {
        try buildTree()
        // VOC's own SegmentationClass files are palette PNGs: class 1 is stored as dark red.
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/pascal/palette_label.png")
        let label = data.appendingPathComponent("VOC2012/SegmentationClassAug/trn_01_1.png")
        try FileManager.default.removeItem(at: label)
        try FileManager.default.copyItem(at: fixture, to: label)
        let set = try load(.all, .training)
        let masks = try set.masks(set.classes[0].samples[0])
        XCTAssertEqual(masks.foreground.width, 6)
        XCTAssertEqual(masks.foreground.pixels, [0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(masks.ignored?.pixels, [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        let asFifteen = try set.masks(TrainingSample(image: "x.jpg", label: "VOC2012/SegmentationClassAug/trn_01_1.png", classValue: 15))
        XCTAssertEqual(asFifteen.foreground.pixels.filter { $0 == 1 }.count, 6)
    }

    func testColourLabelIsRefusedWithItsPath() throws {
        try buildTree()
        let label = data.appendingPathComponent("VOC2012/SegmentationClassAug/trn_01_1.png")
        try PNGWriter.encode(RGBImage(width: 4, height: 3, pixels: [UInt8](repeating: 128, count: 36))).write(to: label)
        let set = try load(.all, .training)
        assertInputError([label.path, "RGB PNG"]) { _ = try set.masks(set.classes[0].samples[0]) }
    }

    func testClassValueOutsideALabelMapsRangeIsRefused() throws {
        try buildTree()
        let set = try load(.all, .training)
        let sample = TrainingSample(image: "a.jpg", label: set.classes[0].samples[0].label, classValue: 255)
        assertInputError([sample.label, "class value 255"]) { _ = try set.masks(sample) }
    }

    // MARK: - Errors

    func testMissingListedFilesAreNamedWithTheirListLine() throws {
        try buildTree()
        let image = data.appendingPathComponent("VOC2012/JPEGImages/trn_07_2.jpg")
        let label = data.appendingPathComponent("VOC2012/SegmentationClassAug/trn_12_1.png")
        try FileManager.default.removeItem(at: image)
        try FileManager.default.removeItem(at: label)
        assertInputError(["pascal training set (fold 0)", image.path, "trn/fold1.txt line 5", "does not exist",
                          "1 more listed files are missing"]) { _ = try load(.fold(0), .training) }
        // Fold 1's training set does not read trn/fold1.txt.
        assertInputError([label.path, "trn/fold2.txt line 4"]) { _ = try load(.fold(1), .training) }
        XCTAssertNoThrow(try load(.fold(1), .validation))
    }

    func testMissingFoldersAreNamedWithTheirFullPath() throws {
        assertInputError([data.path, "does not exist"]) { _ = try load(.fold(0), .training) }
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        assertInputError([data.appendingPathComponent("VOC2012").path, "does not exist"]) { _ = try load(.fold(0), .training) }
        try FileManager.default.createDirectory(at: data.appendingPathComponent("VOC2012/JPEGImages"), withIntermediateDirectories: true)
        assertInputError([data.appendingPathComponent("VOC2012/SegmentationClassAug").path, "does not exist"]) {
            _ = try load(.fold(0), .training)
        }
        try Data().write(to: data.appendingPathComponent("VOC2012/SegmentationClassAug"))
        assertInputError([data.appendingPathComponent("VOC2012/SegmentationClassAug").path, "not a folder"]) {
            _ = try load(.fold(0), .training)
        }
    }

    func testDamagedListLinesAndClassesOfAnotherFoldAreNamed() throws {
        try buildTree()
        try writeList("val", 2, ["val_11__11", "val_12_12", "val_13__13"])
        assertInputError([lists.appendingPathComponent("val/fold2.txt").path, "line 2", "'val_12_12'"]) {
            _ = try load(.fold(2), .validation)
        }
        try writeList("val", 2, ["val_11__11", "val_12__21"])
        assertInputError(["val/fold2.txt line 2", "'val_12__21'"]) { _ = try load(.fold(2), .validation) }
        // A fold-1 class in fold 2's list would leak a held-out class into training.
        try writeList("val", 2, ["val_11__11", "val_07__07"])
        assertInputError(["val/fold2.txt line 2", "class 7 does not belong to the pascal validation set (fold 2)"]) {
            _ = try load(.fold(2), .validation)
        }
        // A class no line names leaves the set without it.
        try writeList("val", 2, ["val_11__11", "val_12__12", "val_13__13", "val_14__14"])
        assertInputError(["pascal validation set (fold 2)", "class 15 (person)"]) { _ = try load(.fold(2), .validation) }
        try FileManager.default.removeItem(at: lists.appendingPathComponent("val/fold2.txt"))
        assertInputError([lists.appendingPathComponent("val/fold2.txt").path, "missing"]) { _ = try load(.fold(2), .validation) }
    }

    // MARK: - Folds

    func testFoldsParseFromTheirCommandLineNames() throws {
        XCTAssertEqual(try PascalFold(parsing: "0"), .fold(0))
        XCTAssertEqual(try PascalFold(parsing: "3"), .fold(3))
        XCTAssertEqual(try PascalFold(parsing: "all"), .all)
        for text in ["0", "1", "2", "3", "all"] { XCTAssertEqual(try PascalFold(parsing: text).description, text) }
        for text in ["4", "-1", "", "ALL", "fold0", " 1"] {
            assertInputError(["PASCAL-5i fold '\(text)'", "0, 1, 2, 3 or all"]) { _ = try PascalFold(parsing: text) }
        }
        assertInputError(["PASCAL-5i fold 4"]) { _ = try TrainingSet.pascal(datapath: self.data, fold: .fold(4), split: .training) }
        XCTAssertEqual(PascalSplit(rawValue: "trn"), .training)
        XCTAssertEqual(PascalSplit(rawValue: "val"), .validation)
    }

    // MARK: - The shipped fold lists

    /// HSNet's lists: fold K's training and validation lists hold fold K's five classes only,
    /// with the numbers of lines HSNet's repository has.
    func testShippedListsAreHSNetsFolds() throws {
        let trainingLines = [2286, 3425, 5883, 2086], validationLines = [346, 451, 725, 346]
        for fold in 0..<4 {
            for (split, lines) in [(PascalSplit.training, trainingLines[fold]), (.validation, validationLines[fold])] {
                let entries = try PascalFoldList(split: split, fold: fold).entries()
                XCTAssertEqual(entries.count, lines, "\(split) fold \(fold)")
                XCTAssertEqual(Set(entries.map(\.classValue)), Set(PascalFold.foldClasses(fold)), "\(split) fold \(fold)")
                XCTAssertEqual(Set(entries.map { "\($0.name)__\($0.classValue)" }).count, lines, "no line twice")
            }
        }
        let trainingNames = Set(try (0..<4).flatMap { try PascalFoldList(split: .training, fold: $0).entries().map(\.name) })
        let validationNames = Set(try (0..<4).flatMap { try PascalFoldList(split: .validation, fold: $0).entries().map(\.name) })
        XCTAssertTrue(trainingNames.isDisjoint(with: validationNames), "no picture is both trained and validated on")
        XCTAssertEqual(trainingNames.count, 10092)
        XCTAssertEqual(validationNames.count, 1381)
    }

    func testShippedListsReachThePublicEntryPoint() throws {
        // An empty VOC tree: fold 0 trains on trn/fold1..3 (11,394 lines, two files each), and
        // the first missing file is the first picture of trn/fold1.txt.
        for folder in ["VOC2012/JPEGImages", "VOC2012/SegmentationClassAug"] {
            try FileManager.default.createDirectory(at: data.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        let first = try PascalFoldList(split: .training, fold: 1).entries()[0].name
        assertInputError([data.appendingPathComponent("VOC2012/JPEGImages/\(first).jpg").path,
                          "cdfss's fold list pascal/trn/fold1.txt line 1", "22787 more listed files are missing"]) {
            _ = try TrainingSet.pascal(datapath: self.data, fold: .fold(0), split: .training)
        }
        // `all` reads every training list: 13,680 lines.
        assertInputError(["pascal/trn/fold0.txt line 1", "\(2 * 13680 - 1) more"]) {
            _ = try TrainingSet.pascal(datapath: self.data, fold: .all, split: .training)
        }
        assertInputError(["pascal/val/fold2.txt line 1", "\(2 * 725 - 1) more"]) {
            _ = try TrainingSet.pascal(datapath: self.data, fold: .fold(2), split: .validation)
        }
    }
}
