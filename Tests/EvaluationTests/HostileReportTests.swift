import Datasets
import Evaluation
import Foundation
import TensorCore
import XCTest

/// Reports whose numbers would overflow the scores, size a merge by a claimed episode count,
/// or that JSONDecoder calls invalid although only a number is out of range: each gets a
/// one-line error naming the file, the key and what is wrong.
final class HostileReportTests: XCTestCase {
    let dataset = EvaluationFixtures.dataset(.deepglobe, sizes: [5, 7, 4])

    /// A good report's JSON text, pretty printed (one key per line).
    func goodText() throws -> String {
        let plan = try EpisodeSampler(dataset: dataset, shots: 1, seed: 0).plan(episodes: 6)
        let report = try EvaluationReport(config: EvaluationFixtures.config(seed: 0, episodes: 6),
                                          episodes: plan.map { EvaluationFixtures.record($0, seed: 0) },
                                          classNames: dataset.classes.map(\.name))
        return String(decoding: try ReportFile.single(report).encoded(), as: UTF8.self)
    }

    /// The message of decoding `text`, which must be a one-line InputError.
    func message(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try ReportFile(decoding: Data(text.utf8), source: "r.json")
            XCTFail("accepted", file: file, line: line)
        } catch let error as InputError {
            XCTAssertFalse(error.message.contains("\n"), "error spans lines: \(error.message)", file: file, line: line)
            return error.message
        } catch {
            XCTFail("not an InputError: \(error)", file: file, line: line)
        }
        return ""
    }

    /// `text` with the first match of `pattern` (a regular expression) replaced.
    func replacing(_ pattern: String, with replacement: String, in text: String) throws -> String {
        let expression = try NSRegularExpression(pattern: pattern)
        let range = try XCTUnwrap(expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text))?.range)
        return (text as NSString).replacingCharacters(in: range, with: replacement)
    }

    func testPixelCountsOfIntMaxAreRefusedBeforeTheyAreSummed() throws {
        let text = try replacing(#""intersection" : \[\s*\d+,\s*\d+\s*\]"#,
                                 with: "\"intersection\" : [\(Int.max), \(Int.max)]", in: try goodText())
        let text2 = try replacing(#""union" : \[\s*\d+,\s*\d+\s*\]"#, with: "\"union\" : [\(Int.max), \(Int.max)]", in: text)
        let error = message(text2)
        XCTAssertTrue(error.hasPrefix("r.json: not a valid cdfss report: "), error)
        XCTAssertTrue(error.contains("exceed the \(InputLimits.imagePixels) pixels"), error)
        XCTAssertTrue(error.contains("(at episodes[0].intersection)"), error)
    }

    func testEpisodeCountBeyondTheLimitIsRefusedBeforeItSizesAnything() throws {
        let text = try replacing(#""episodes" : 6"#, with: "\"episodes\" : 300000000", in: try goodText())
        let start = Date()
        let error = message(text)
        XCTAssertTrue(error.contains("config.episodes is 300000000; a run has at most \(InputLimits.episodes) episodes"), error)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
    }

    func testOutOfRangeNumbersAreNamedNotCalledInvalidJSON() throws {
        let good = try goodText()
        var error = message(try replacing(#""episodes" : 6"#, with: "\"episodes\" : 99999999999999999999", in: good))
        XCTAssertFalse(error.contains("not valid JSON"), error)
        XCTAssertTrue(error.contains("number 99999999999999999999 at line"), error)
        XCTAssertTrue(error.contains("(key \"episodes\") does not fit a 64-bit integer"), error)

        error = message(try replacing(#""seconds" : [0-9.e-]+"#, with: "\"seconds\" : 1e400", in: good))
        XCTAssertTrue(error.contains("number 1e400 at line"), error)
        XCTAssertTrue(error.contains("(key \"seconds\") is beyond the range of a double"), error)

        error = message(try replacing(#""shots" : 1"#, with: "\"shots\" : 1.5", in: good))
        XCTAssertTrue(error.contains("number 1.5 at line"), error)
        XCTAssertTrue(error.contains("(key \"shots\") is not an integer"), error)

        // Counts inside an array are named by the array's key.
        error = message(try replacing(#""union" : \[\s*\d+,"#, with: "\"union\" : [ -99999999999999999999,", in: good))
        XCTAssertTrue(error.contains("(key \"union\") does not fit a 64-bit integer"), error)

        // Broken syntax is still reported as such.
        error = message(String(good.prefix(40)))
        XCTAssertTrue(error.contains("not valid JSON"), error)
    }
}
