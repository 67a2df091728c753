import Datasets
import Foundation
import Imaging
import TensorCore
import XCTest

/// The five benchmark layouts built file by file in a temporary folder, read back by
/// `TargetDataset.load` and `DatasetCheck`.
final class DatasetLayoutTests: XCTestCase {
    var root: URL!

    /// A real JPEG from the repository's decoder fixtures (13 rows, 17 columns): `.jpg` files
    /// in these trees are JPEGs, as in the benchmarks.
    static let jpegBytes = try! Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/images/decode/jpeg420.jpg"))
    static let jpegSize: (width: Int, height: Int) = {
        let decoded = try! DecodedImage(decoding: jpegBytes, source: "jpeg420.jpg")
        return (decoded.width, decoded.height)
    }()

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-datasets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    // MARK: - Building trees

    func write(_ data: Data, _ relative: String) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }

    func makeFolder(_ relative: String) throws {
        try FileManager.default.createDirectory(at: root.appendingPathComponent(relative), withIntermediateDirectories: true)
    }

    /// A picture in the format its extension says (JPEG, else PNG), at the JPEG fixture's size.
    func writeImage(_ relative: String) throws {
        if relative.hasSuffix(".jpg") || relative.hasSuffix(".JPG") || relative.hasSuffix(".jpeg") {
            try write(Self.jpegBytes, relative)
        } else {
            let (width, height) = Self.jpegSize
            let pixels = (0..<width * height * 3).map { UInt8(truncatingIfNeeded: $0 * 7) }
            try write(PNGWriter.encode(RGBImage(width: width, height: height, pixels: pixels)), relative)
        }
    }

    /// A gray PNG mask at the JPEG fixture's size: `values` fill it cyclically; the default is
    /// a 0/255 mask with foreground on its left half.
    func writeMask(_ relative: String, values: [UInt8]? = nil, width: Int? = nil) throws {
        try write(Self.maskData(values: values, width: width), relative)
    }

    static func maskData(values: [UInt8]? = nil, width: Int? = nil) throws -> Data {
        let width = width ?? jpegSize.width, height = jpegSize.height
        let pixels = (0..<width * height).map { index -> UInt8 in
            if let values { return values[index % values.count] }
            return index % width < width / 2 ? 255 : 0
        }
        return try PNGWriter.encode(GrayImage(width: width, height: height, pixels: pixels))
    }

    func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// Asserts that loading throws one InputError line that contains every fragment.
    func assertLoadFails(_ kind: BenchmarkKind, datapath: URL? = nil, mentioning fragments: [String],
                         file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try TargetDataset.load(kind, datapath: datapath ?? root)
            XCTFail("loading succeeded", file: file, line: line)
        } catch let error as InputError {
            for fragment in fragments {
                XCTAssertTrue(error.message.contains(fragment), "\"\(error.message)\" lacks \"\(fragment)\"", file: file, line: line)
            }
            XCTAssertFalse(error.message.contains("\n"), "not one line: \(error.message)", file: file, line: line)
        } catch {
            XCTFail("expected an InputError, got \(error)", file: file, line: line)
        }
    }

    func buildDeepglobe(ids: [String] = ["9_sat_01", "100_sat_10"]) throws {
        for c in 1...6 {
            for id in ids {
                try writeImage("Deepglobe/\(c)/test/origin/\(id).jpg")
                try writeMask("Deepglobe/\(c)/test/groundtruth/\(id).png")
            }
        }
    }

    func buildISIC() throws {
        let classes = [["ISIC_0000010", "ISIC_0000002"], ["ISIC_0000005", "ISIC_0000001"], ["ISIC_0000100", "ISIC_0000003"]]
        for (index, ids) in classes.enumerated() {
            for id in ids {
                try writeImage("ISIC/ISIC2018_Task1-2_Training_Input/\(index + 1)/\(id).jpg")
                try writeMask("ISIC/ISIC2018_Task1_Training_GroundTruth/\(id)_segmentation.png")
            }
        }
    }

    func buildLung() throws {
        for name in ["CHNCXR_0002_1", "CHNCXR_0001_0", "MCUCXR_0001_0", "CHNCXR_0003_0"] {
            try writeImage("LungSegmentation/CXR_png/\(name).png")
        }
        try writeMask("LungSegmentation/masks/CHNCXR_0002_1_mask.png")
        try writeMask("LungSegmentation/masks/CHNCXR_0001_0_mask.png")
        try writeMask("LungSegmentation/masks/MCUCXR_0001_0.png")  // Montgomery masks carry no _mask suffix
    }

    /// The bundled list, read straight from the source tree.
    static func fssTestClasses() throws -> [String] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/Datasets/Resources/fss1000-test-classes.txt")
        return try String(contentsOf: url, encoding: .utf8).split(whereSeparator: \.isNewline).map(String.init)
    }

    func buildFSS(skipping skipped: String? = nil) throws {
        let mask = try Self.maskData()  // encoded once for the 240 classes
        for name in try Self.fssTestClasses() where name != skipped {
            try write(Self.jpegBytes, "FSS-1000/\(name)/1.jpg")
            try write(mask, "FSS-1000/\(name)/1.png")
        }
    }

    // MARK: - Layouts

    func testDeepglobeListsSixClassesInByteOrder() throws {
        try buildDeepglobe()
        try write(Data("notes".utf8), "Deepglobe/1/test/origin/readme.txt")  // not a .jpg: not a sample
        let dataset = try TargetDataset.load(.deepglobe, datapath: root)
        XCTAssertEqual(dataset.kind, .deepglobe)
        XCTAssertEqual(dataset.classes.map(\.name), ["1", "2", "3", "4", "5", "6"])
        // "100_..." before "9_...": names sort by bytes, as Python's sorted() on the glob.
        XCTAssertEqual(dataset.classes[3].samples, [
            LabelledImage(image: "Deepglobe/4/test/origin/100_sat_10.jpg", mask: "Deepglobe/4/test/groundtruth/100_sat_10.png"),
            LabelledImage(image: "Deepglobe/4/test/origin/9_sat_01.jpg", mask: "Deepglobe/4/test/groundtruth/9_sat_01.png"),
        ])
        XCTAssertEqual(dataset.allSamples.count, 12)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dataset.url(dataset.allSamples[0].mask).path))
    }

    func testISICPairsClassImagesWithTheSharedMaskFolder() throws {
        try buildISIC()
        try writeMask("ISIC/ISIC2018_Task1_Training_GroundTruth/ISIC_0009999_segmentation.png")  // no image: not a sample
        let dataset = try TargetDataset.load(.isic, datapath: root)
        XCTAssertEqual(dataset.classes.map(\.name), ["1", "2", "3"])
        XCTAssertEqual(dataset.classes[0].samples, [
            LabelledImage(image: "ISIC/ISIC2018_Task1-2_Training_Input/1/ISIC_0000002.jpg",
                          mask: "ISIC/ISIC2018_Task1_Training_GroundTruth/ISIC_0000002_segmentation.png"),
            LabelledImage(image: "ISIC/ISIC2018_Task1-2_Training_Input/1/ISIC_0000010.jpg",
                          mask: "ISIC/ISIC2018_Task1_Training_GroundTruth/ISIC_0000010_segmentation.png"),
        ])
        XCTAssertEqual(dataset.classes[2].samples.map(\.image), [
            "ISIC/ISIC2018_Task1-2_Training_Input/3/ISIC_0000003.jpg", "ISIC/ISIC2018_Task1-2_Training_Input/3/ISIC_0000100.jpg",
        ])
    }

    func testChestXrayPoolIsTheMasks() throws {
        try buildLung()
        let dataset = try TargetDataset.load(.lung, datapath: root)
        XCTAssertEqual(dataset.classes.map(\.name), ["1"])
        // CHNCXR_0003_0.png has no mask, so it is not a sample.
        XCTAssertEqual(dataset.classes[0].samples, [
            LabelledImage(image: "LungSegmentation/CXR_png/CHNCXR_0001_0.png", mask: "LungSegmentation/masks/CHNCXR_0001_0_mask.png"),
            LabelledImage(image: "LungSegmentation/CXR_png/CHNCXR_0002_1.png", mask: "LungSegmentation/masks/CHNCXR_0002_1_mask.png"),
            LabelledImage(image: "LungSegmentation/CXR_png/MCUCXR_0001_0.png", mask: "LungSegmentation/masks/MCUCXR_0001_0.png"),
        ])
    }

    func testFSS1000ReadsThe240TestClassesSorted() throws {
        let listed = try Self.fssTestClasses()
        XCTAssertEqual(listed.count, 240)
        XCTAssertEqual(Set(listed).count, 240)
        try buildFSS()
        for n in 2...10 {  // one class with all ten pictures, to see PATNet's 1, 10, 2, ... order
            try writeImage("FSS-1000/bus/\(n).jpg")
            try writeMask("FSS-1000/bus/\(n).png")
        }
        try writeImage("FSS-1000/not_a_test_class/1.jpg")  // a training class: not read
        let dataset = try TargetDataset.load(.fss, datapath: root)
        XCTAssertEqual(dataset.classes.count, 240)
        XCTAssertEqual(dataset.classes.map(\.name), listed.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        XCTAssertEqual(Array(dataset.classes.map(\.name).prefix(2)), ["abe's_flyingfish", "accordion"])
        XCTAssertEqual(dataset.classes.last?.name, "wooden_spoon")
        let bus = try XCTUnwrap(dataset.classes.first { $0.name == "bus" })
        XCTAssertEqual(bus.samples.map(\.image), ["1", "10", "2", "3", "4", "5", "6", "7", "8", "9"].map { "FSS-1000/bus/\($0).jpg" })
        XCTAssertEqual(bus.samples.map(\.mask), ["1", "10", "2", "3", "4", "5", "6", "7", "8", "9"].map { "FSS-1000/bus/\($0).png" })
        XCTAssertEqual(dataset.allSamples.count, 239 + 10)
    }

    func testFolderLayoutSortsClassesAndPairsAnyPictureFormat() throws {
        try writeImage("cats/images/b.png")
        try writeImage("cats/images/a.JPG")
        try writeImage("cats/images/c.tif")
        for name in ["a", "b", "c"] { try writeMask("cats/masks/\(name).png") }
        try writeImage("Birds/images/x.jpeg")
        try writeImage("Birds/images/y.jpg")
        try writeMask("Birds/masks/x.png")
        try writeMask("Birds/masks/y.png")
        try write(Data(), "cats/images/.DS_Store")
        try write(Data(), "notes.txt")  // a file beside the class folders is not a class
        let dataset = try TargetDataset.load(.folder, datapath: root)
        XCTAssertEqual(dataset.classes.map(\.name), ["Birds", "cats"])  // byte order: upper case first
        XCTAssertEqual(dataset.classes[0].samples, [
            LabelledImage(image: "Birds/images/x.jpeg", mask: "Birds/masks/x.png"),
            LabelledImage(image: "Birds/images/y.jpg", mask: "Birds/masks/y.png"),
        ])
        XCTAssertEqual(dataset.classes[1].samples.map(\.image), ["cats/images/a.JPG", "cats/images/b.png", "cats/images/c.tif"])
        XCTAssertEqual(dataset.classes[1].samples.map(\.mask), ["cats/masks/a.png", "cats/masks/b.png", "cats/masks/c.png"])
    }

    // MARK: - Load errors

    func testMissingDatapathIsNamed() {
        let nowhere = root.appendingPathComponent("nowhere")
        assertLoadFails(.isic, datapath: nowhere, mentioning: ["isic benchmark", nowhere.path, "does not exist"])
    }

    func testMissingBenchmarkFolderIsNamed() throws {
        try buildDeepglobe()
        assertLoadFails(.lung, mentioning: [path("LungSegmentation"), "does not exist"])
    }

    func testMissingClassFolderIsNamedWithItsFullPath() throws {
        try buildDeepglobe()
        try FileManager.default.removeItem(atPath: path("Deepglobe/4/test/groundtruth"))
        assertLoadFails(.deepglobe, mentioning: ["deepglobe benchmark", path("Deepglobe/4/test/groundtruth"), "does not exist"])
    }

    func testMissingFSSClassIsNamed() throws {
        try buildFSS(skipping: "tower_pisa")
        assertLoadFails(.fss, mentioning: [path("FSS-1000/tower_pisa"), "does not exist"])
    }

    func testImageWithoutMaskNamesBothPaths() throws {
        try buildISIC()
        try FileManager.default.removeItem(atPath: path("ISIC/ISIC2018_Task1_Training_GroundTruth/ISIC_0000005_segmentation.png"))
        assertLoadFails(.isic, mentioning: [path("ISIC/ISIC2018_Task1-2_Training_Input/2/ISIC_0000005.jpg"),
                                             path("ISIC/ISIC2018_Task1_Training_GroundTruth/ISIC_0000005_segmentation.png"), "no mask"])
    }

    func testEveryMissingMaskCountsInTheMessage() throws {
        try buildDeepglobe()
        for c in [2, 5, 6] { try FileManager.default.removeItem(atPath: path("Deepglobe/\(c)/test/groundtruth/9_sat_01.png")) }
        assertLoadFails(.deepglobe, mentioning: [path("Deepglobe/2/test/origin/9_sat_01.jpg"), "and 2 more"])
    }

    func testLungMaskWithoutImageNamesBothPaths() throws {
        try buildLung()
        try FileManager.default.removeItem(atPath: path("LungSegmentation/CXR_png/CHNCXR_0002_1.png"))
        assertLoadFails(.lung, mentioning: [path("LungSegmentation/masks/CHNCXR_0002_1_mask.png"),
                                             path("LungSegmentation/CXR_png/CHNCXR_0002_1.png"), "no image"])
    }

    func testClassWithoutSamplesIsNamed() throws {
        try writeImage("cats/images/a.png")
        try writeMask("cats/masks/a.png")
        try makeFolder("dogs/images")
        try makeFolder("dogs/masks")
        try write(Data("x".utf8), "dogs/images/list.txt")
        assertLoadFails(.folder, mentioning: [path("dogs/images"), "no samples"])
    }

    func testFolderWithoutClassesIsNamed() throws {
        try write(Data(), "picture.png")
        assertLoadFails(.folder, mentioning: [root.path, "no class folders"])
    }

    func testClassFolderWithoutMasksFolderIsNamed() throws {
        try writeImage("cats/images/a.png")
        assertLoadFails(.folder, mentioning: [path("cats/masks"), "does not exist"])
    }

    func testTwoPicturesSharingAMaskAreRefused() throws {
        try writeImage("cats/images/a.jpg")
        try writeImage("cats/images/a.png")
        try writeMask("cats/masks/a.png")
        assertLoadFails(.folder, mentioning: [path("cats/images/a.jpg"), path("cats/images/a.png"), path("cats/masks/a.png")])
    }

    // MARK: - DatasetCheck

    func testCheckOfACleanTreeIsUsable() throws {
        try buildLung()
        let report = try DatasetCheck.run(.lung, datapath: root)
        XCTAssertTrue(report.usable, report.text())
        XCTAssertEqual(report.reasons, [])
        XCTAssertEqual(report.classes.map(\.name), ["1"])
        XCTAssertEqual(report.classes.map(\.folder), [path("LungSegmentation")])
        XCTAssertEqual(report.classes.map { [$0.images, $0.paired, $0.usable, $0.problems] }, [[3, 3, 3, 1]])
        // The radiograph without a mask is noted, not counted against the benchmark.
        XCTAssertEqual(report.problems.map(\.kind), [.ignoredFile])
        XCTAssertEqual(report.problems.first?.path, path("LungSegmentation/CXR_png/CHNCXR_0003_0.png"))
        XCTAssertFalse(report.problems[0].blocking)

        let decoded = try JSONDecoder().decode(DatasetCheckReport.self, from: JSONEncoder().encode(report))
        XCTAssertEqual(decoded, report)
    }

    func testCheckReportsEmptyNonBinaryAndCorruptFiles() throws {
        for name in ["a", "b", "c"] {
            try writeImage("cats/images/\(name).png")
            try writeMask("cats/masks/\(name).png")
        }
        try writeImage("cats/images/empty.png")
        try writeMask("cats/masks/empty.png", values: [0, 0, 3])
        try writeImage("cats/images/soft.png")
        try writeMask("cats/masks/soft.png", values: [0, 255, 128, 37])
        try writeImage("cats/images/zero-one.png")
        try writeMask("cats/masks/zero-one.png", values: [0, 1])
        try write(Data("not a picture".utf8), "cats/images/broken.png")
        try writeMask("cats/masks/broken.png")
        try writeImage("cats/images/wide.png")
        try writeMask("cats/masks/wide.png", width: 40)
        try writeImage("dogs/images/d.jpg")
        try writeImage("dogs/images/e.jpg")
        try writeMask("dogs/masks/d.png")
        try writeMask("dogs/masks/e.png")

        let report = try DatasetCheck.run(.folder, datapath: root)
        XCTAssertEqual(report.problems(.unreadableImage).map(\.path), [path("cats/images/broken.png")])
        XCTAssertTrue(report.problems(.unreadableImage)[0].blocking)
        XCTAssertEqual(report.problems(.emptyMask).map(\.path), [path("cats/masks/empty.png"), path("cats/masks/zero-one.png")])
        XCTAssertTrue(report.problems(.emptyMask)[1].message.contains("0 and 1"), report.problems(.emptyMask)[1].message)
        XCTAssertEqual(report.problems(.nonBinaryMask).map(\.path), [path("cats/masks/empty.png"), path("cats/masks/soft.png")])
        XCTAssertEqual(report.problems(.sizeMismatch).map(\.otherPath), [path("cats/masks/wide.png")])
        XCTAssertEqual(report.problems(.unreadableMask), [])
        XCTAssertEqual(report.classes.map(\.name), ["cats", "dogs"])
        // a, b, c and soft decode, have foreground and masks of their image's size; wide's
        // mask is narrower than its image, which test and finetune refuse, so it blocks.
        XCTAssertEqual(report.classes.map(\.usable), [4, 2])
        XCTAssertEqual(report.classes.map(\.paired), [8, 2])
        XCTAssertEqual(report.classes.map(\.problems), [6, 0])
        XCTAssertFalse(report.usable)
        XCTAssertEqual(report.reasons, ["1 image that does not decode", "1 image and mask of different sizes"])
        XCTAssertTrue(report.text().contains("usable: no (1 image that does not decode; 1 image and mask of different sizes)"), report.text())

        // Without the broken picture and the mismatched pair, warnings remain and the
        // benchmark is usable.
        for file in ["cats/images/broken.png", "cats/masks/broken.png", "cats/images/wide.png", "cats/masks/wide.png"] {
            try FileManager.default.removeItem(atPath: path(file))
        }
        let repaired = try DatasetCheck.run(.folder, datapath: root)
        XCTAssertTrue(repaired.usable, repaired.text())
        XCTAssertEqual(repaired.problems.filter(\.blocking), [])
        XCTAssertFalse(repaired.problems.isEmpty)
    }

    func testCheckNeedsTwoUsableSamplesPerClass() throws {
        try writeImage("cats/images/a.png")
        try writeMask("cats/masks/a.png")
        try writeImage("cats/images/b.png")
        try writeMask("cats/masks/b.png", values: [0])
        try writeImage("dogs/images/a.png")
        try writeMask("dogs/masks/a.png")
        try writeImage("dogs/images/b.png")
        try writeMask("dogs/masks/b.png")
        XCTAssertNoThrow(try TargetDataset.load(.folder, datapath: root))  // loading does not decode
        let report = try DatasetCheck.run(.folder, datapath: root)
        XCTAssertFalse(report.usable)
        XCTAssertEqual(report.problems(.tooFewSamples).map(\.path), [path("cats")])
        XCTAssertEqual(report.reasons, ["1 class with fewer than 2 usable samples"])
    }

    func testCheckListsEveryProblemWhereLoadStopsAtTheFirst() throws {
        try buildDeepglobe()
        for c in [2, 5] { try FileManager.default.removeItem(atPath: path("Deepglobe/\(c)/test/origin/9_sat_01.jpg")) }
        for c in [1, 3, 6] { try FileManager.default.removeItem(atPath: path("Deepglobe/\(c)/test/groundtruth/100_sat_10.png")) }
        try write(Data("x".utf8), "Deepglobe/1/test/groundtruth/Thumbs.db")
        let report = try DatasetCheck.run(.deepglobe, datapath: root)
        XCTAssertEqual(report.problems(.imageWithoutMask).map(\.path),
                       [1, 3, 6].map { path("Deepglobe/\($0)/test/origin/100_sat_10.jpg") })
        XCTAssertEqual(report.problems(.imageWithoutMask).map(\.otherPath),
                       [1, 3, 6].map { path("Deepglobe/\($0)/test/groundtruth/100_sat_10.png") })
        XCTAssertEqual(report.problems(.maskWithoutImage).map(\.path), [2, 5].map { path("Deepglobe/\($0)/test/groundtruth/9_sat_01.png") })
        XCTAssertFalse(report.problems(.maskWithoutImage).contains(where: \.blocking))
        XCTAssertEqual(report.problems(.ignoredFile).map(\.path), [path("Deepglobe/1/test/groundtruth/Thumbs.db")])
        // Classes 1, 3, 6 keep one pair; 2 and 5 keep one image: all below two usable samples.
        XCTAssertEqual(report.classes.map(\.usable), [1, 1, 1, 2, 1, 1])
        XCTAssertEqual(report.problems(.tooFewSamples).map(\.className), ["1", "2", "3", "5", "6"])
        XCTAssertEqual(report.reasons, ["3 images without a mask", "5 classes with fewer than 2 usable samples"])
        XCTAssertFalse(report.usable)
        XCTAssertEqual(try DatasetCheck.run(.deepglobe, datapath: root), report)  // the same report every time
    }

    func testCheckReportsAMissingDatapath() throws {
        let report = try DatasetCheck.run(.fss, datapath: root.appendingPathComponent("absent"))
        XCTAssertFalse(report.usable)
        XCTAssertEqual(report.problems.map(\.kind), [.missingFolder])
        XCTAssertEqual(report.problems[0].path, root.appendingPathComponent("absent").path)
        XCTAssertEqual(report.classes, [])
    }

    func testTextReportListsAtMostTheLimitPerKind() throws {
        for index in 0..<25 { try writeImage("cats/images/\(index).png") }
        try makeFolder("cats/masks")
        let text = try DatasetCheck.run(.folder, datapath: root).text(listing: 20)
        XCTAssertTrue(text.contains("images without a mask: 25 (blocking)"), text)
        XCTAssertTrue(text.contains("  ... and 5 more"), text)
        XCTAssertEqual(text.components(separatedBy: "has no mask").count - 1, 20, text)
        XCTAssertTrue(text.hasSuffix("usable: no (25 images without a mask; 1 class with fewer than 2 usable samples)\n"), text)
    }
}
