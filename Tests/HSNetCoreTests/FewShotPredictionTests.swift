import Foundation
import HSNetCore
import Imaging
import TensorCore
import XCTest

/// Prediction from picture files, with the output at the query's own size, against HSNet's
/// `predict_mask_nshot` with `use_original_imgsize` (plain det-fill model, 96 x 96 input).
final class FewShotPredictionTests: XCTestCase {
    func testTwoShotPredictionFromFilesMatchesReference() throws {
        let model = HSNetFixtures.model
        model.plugins.removeAll()
        let images = HSNetFixtures.url("images")
        let prediction = try model.predict(
            queryFile: images.appendingPathComponent("query.png"),
            supportFiles: [images.appendingPathComponent("support.png"), images.appendingPathComponent("query.png")],
            supportMaskFiles: [images.appendingPathComponent("support_mask.png"), images.appendingPathComponent("query_mask.png")],
            imageSize: 96)
        XCTAssertEqual(prediction.shots, 2)
        XCTAssertEqual(prediction.mask.width, 400)
        XCTAssertEqual(prediction.mask.height, 400)

        // 1 or 0, or 0.5 where a shot's logits are within 1e-4 of a tie (either answer is right).
        let expected = try XCTUnwrap(try HSNetFixtures.tensors("hsnet/hsnet_predict_96_original_size.safetensors")["vote"])
        var mismatches = 0
        for (ours, reference) in zip(prediction.mask.pixels, expected.scalars) where reference != 0.5 {
            if Float(ours) != reference { mismatches += 1 }
        }
        XCTAssertEqual(mismatches, 0)
        let ambiguous = expected.scalars.filter { $0 == 0.5 }.count
        XCTAssertLessThan(ambiguous, 20)
        let foreground = expected.scalars.filter { $0 == 1 }.count
        XCTAssertEqual(Double(foreground) / 160_000, prediction.foregroundFraction, accuracy: Double(ambiguous) / 160_000)
        XCTAssertGreaterThan(foreground, 1000)
    }

    func testBadRequestsAreInputErrors() throws {
        let model = HSNetFixtures.model
        let images = HSNetFixtures.url("images")
        let query = images.appendingPathComponent("query.png")
        let mask = images.appendingPathComponent("query_mask.png")
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch let error as InputError { return error.message } catch { return "\(error)" }
            return "no error"
        }
        XCTAssertTrue(message { _ = try model.predict(queryFile: query, supportFiles: [query], supportMaskFiles: [], imageSize: 96) }
            .contains("1 support images but 0 support masks"))
        XCTAssertTrue(message { _ = try model.predict(queryFile: query, supportFiles: [], supportMaskFiles: [], imageSize: 96) }
            .contains("no support image given"))
        XCTAssertTrue(message { _ = try model.predict(queryFile: query, supportFiles: [query], supportMaskFiles: [mask], imageSize: 8) }
            .contains("image size 8 is too small"))
        XCTAssertTrue(message { _ = try model.predict(queryFile: query, supportFiles: [query], supportMaskFiles: [mask], imageSize: 1000) }
            .contains("image size 1000 needs a 3725 MiB layer-2 correlation; use 720 or less"))
        let missing = images.appendingPathComponent("nothing.png")
        XCTAssertTrue(message { _ = try model.predict(queryFile: missing, supportFiles: [query], supportMaskFiles: [mask], imageSize: 96) }
            .hasPrefix(missing.path))
        let small = GrayImage(width: 10, height: 10, pixels: [UInt8](repeating: 0, count: 100))
        let picture = try RGBImage(contentsOf: query)
        XCTAssertTrue(message { _ = try model.predict(query: picture, supports: [picture], supportMasks: [small], imageSize: 96) }
            .contains("support 1: the mask is 10 x 10 but its image is 400 x 400"))
    }
}
