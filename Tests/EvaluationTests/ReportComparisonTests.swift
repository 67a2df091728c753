import Datasets
import Evaluation
import Foundation
import TensorCore
import ReferenceParity
import XCTest

/// `report compare`: two runs of one benchmark side by side, and the refusals.
final class ReportComparisonTests: XCTestCase {
    let dataset = EvaluationFixtures.dataset(.deepglobe, sizes: [5, 7, 4])

    func report(seed: UInt64 = 0, episodes: Int = 12, masker: String = "checkpoint", kind: BenchmarkKind = .deepglobe,
                names: [String]? = nil) throws -> EvaluationReport {
        let data = kind == .deepglobe ? dataset : EvaluationFixtures.dataset(kind, sizes: [5, 7, 4])
        let plan = try EpisodeSampler(dataset: data, shots: 1, seed: seed).plan(episodes: episodes)
        var config = EvaluationFixtures.config(seed: seed, episodes: episodes)
        config.masker = masker
        config.benchmark = kind
        return try EvaluationReport(config: config, episodes: plan.map { EvaluationFixtures.record($0, seed: seed) },
                                    classNames: names ?? data.classes.map(\.name))
    }

    func testRowsAreEachClassOfBothWithTheChange() throws {
        let a = try report(seed: 0), b = try report(seed: 5, masker: "adapted.safetensors")
        let comparison = try ReportComparison(.single(a), source: "a.json", .single(b), source: "b.json")
        XCTAssertEqual(comparison.classes.map(\.classIndex), [0, 1, 2])
        XCTAssertEqual(comparison.classes.map(\.name), ["1", "2", "3"])
        for (row, (classA, classB)) in zip(comparison.classes, zip(a.classes, b.classes)) {
            XCTAssertEqual(row.a, classA.iou)
            XCTAssertEqual(row.b, classB.iou)
            XCTAssertEqual(row.change, classB.iou - classA.iou)
        }
        XCTAssertEqual(comparison.miou.a, a.miou)
        XCTAssertEqual(comparison.miou.b, b.miou)
        XCTAssertEqual(comparison.fbiou.change, b.fbiou - a.fbiou)
        XCTAssertEqual(comparison.configDifferences.map(\.key), ["masker", "seed"])
        XCTAssertEqual(comparison.configDifferences.first?.b, "\"adapted.safetensors\"")

        let lines = comparison.text.split(separator: "\n")
        XCTAssertTrue(lines[0].hasPrefix("A: a.json (deepglobe, 1-shot, 12 episodes, seed 0,"), String(lines[0]))
        XCTAssertTrue(lines.contains { $0.contains("mIoU") && $0.contains(String(format: "%.2f", a.miou)) }, comparison.text)
        XCTAssertTrue(lines.last!.hasPrefix("config differences: masker \"checkpoint\" -> \"adapted.safetensors\"; seed 0 -> 5"),
                      String(lines.last!))

        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try comparison.json().utf8)) as? [String: Any])
        XCTAssertEqual(Set(json.keys), ["a", "b", "classes", "miou", "fbiou", "config_differences"])
        XCTAssertEqual(Set((json["classes"] as? [[String: Any]])?.first?.keys ?? [:].keys), ["class", "name", "a", "b", "change"])
        XCTAssertEqual(Set((json["a"] as? [String: Any])?.keys ?? [:].keys),
                       ["report", "benchmark", "shots", "episodes", "seeds", "masker", "adaptation", "miou", "fbiou"])
    }

    func testAMultiSeedReportCountsWithItsMeanOverTheSeeds() throws {
        let runs = [try report(seed: 0), try report(seed: 1), try report(seed: 2)]
        let multi = ReportFile.multiSeed(try MultiSeedReport(runs: runs))
        let comparison = try ReportComparison(.single(try report(seed: 9)), source: "a.json", multi, source: "b.json")
        for row in comparison.classes {
            let ious = runs.map { run in run.classes.first { $0.classIndex == row.classIndex }!.iou }
            XCTAssertEqual(row.b, ious.reduce(0, +) / 3, accuracy: 1e-12)
        }
        XCTAssertEqual(comparison.miou.b, runs.map(\.miou).reduce(0, +) / 3, accuracy: 1e-12)
        XCTAssertEqual(comparison.b.seeds, [0, 1, 2])
    }

    func testReportsOfAnotherBenchmarkOrOtherClassesAreRefused() throws {
        let a = ReportFile.single(try report())
        assertInputError(["a.json is a report on deepglobe and b.json on isic", "do not compare"]) {
            _ = try ReportComparison(a, source: "a.json", .single(try report(kind: .isic)), source: "b.json")
        }
        // A run too short to meet every class.
        assertInputError(["a.json scores classes 0-2 but b.json classes 0, 1", "same classes"]) {
            _ = try ReportComparison(a, source: "a.json", .single(try report(episodes: 2)), source: "b.json")
        }
        assertInputError(["class 0 is \"1\" in a.json but \"lungs\" in b.json"]) {
            _ = try ReportComparison(a, source: "a.json", .single(try report(names: ["lungs", "2", "3"])), source: "b.json")
        }
    }
}
