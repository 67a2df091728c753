import Foundation
import Imaging
import TensorCore
import XCTest

/// The network's input tensors, against the reference episode (hsnet_apm_episode: the
/// PNGs at 400 x 400 through ToTensor and Normalize) and torchvision at 473 x 473.
/// network_input_expected.safetensors holds every 97th element and the float64 sums.
final class NetworkInputTests: XCTestCase {
    private func expected() throws -> SafetensorsFile {
        try SafetensorsFile.read(imagingFixtures.appendingPathComponent("network_input_expected.safetensors"))
    }

    private func check(_ tensor: Tensor, against key: String, in file: SafetensorsFile,
                       line: UInt = #line) throws {
        let shapeText = try XCTUnwrap(file.metadata["\(key)_shape"])
        let shape = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(shapeText.utf8)) as? [Int])
        XCTAssertEqual(tensor.shape, shape, key, line: line)
        let samples = try XCTUnwrap(file.tensors["\(key)_every97"], key)
        let sampled = stride(from: 0, to: tensor.count, by: 97).map { tensor.scalars[$0] }
        XCTAssertEqual(sampled.count, samples.count, key, line: line)
        let maxDifference = zip(sampled, samples.scalars).map { abs($0 - $1) }.max() ?? 0
        // torchvision computes (x / 255 - mean) / std in float32, as imageTensor does: the
        // values are expected to be identical, not just close.
        XCTAssertEqual(maxDifference, 0, "\(key): sampled values differ by up to \(maxDifference)", line: line)
        let sum = tensor.scalars.reduce(0.0) { $0 + Double($1) }
        let absoluteSum = tensor.scalars.reduce(0.0) { $0 + Double(abs($1)) }
        let expectedSum = try XCTUnwrap(Double(try XCTUnwrap(file.metadata["\(key)_sum"])))
        let expectedAbsoluteSum = try XCTUnwrap(Double(try XCTUnwrap(file.metadata["\(key)_abssum"])))
        // Float64 sums of the same float32 values: only the summation order differs, which
        // moves a double sum of 10^6 terms by at most 10^6 x 1.1e-16 of the absolute sum.
        XCTAssertEqual(sum, expectedSum, accuracy: 1e-9 * max(1, expectedAbsoluteSum), key, line: line)
        XCTAssertEqual(absoluteSum, expectedAbsoluteSum, accuracy: 1e-9 * max(1, expectedAbsoluteSum), key, line: line)
    }

    func testEpisodeInputsMatchTheReference() throws {
        let file = try expected()
        for name in ["query", "support"] {
            let image = try RGBImage(contentsOf: imagingFixtures.appendingPathComponent("\(name).png"))
            let mask = try GrayImage(contentsOf: imagingFixtures.appendingPathComponent("\(name)_mask.png"))
            XCTAssertEqual(image.width, 400)
            try check(imageTensor(image, size: 400), against: "\(name)_img", in: file)
            try check(maskTensor(mask, size: 400), against: "\(name)_mask", in: file)
        }
    }

    func testResizedInputsMatchTorchvision() throws {
        let file = try expected()
        let image = try RGBImage(contentsOf: imagingFixtures.appendingPathComponent("query.png"))
        let mask = try GrayImage(contentsOf: imagingFixtures.appendingPathComponent("query_mask.png"))
        try check(imageTensor(image, size: 473), against: "query_img_473", in: file)
        try check(maskTensor(mask, size: 473), against: "query_mask_473", in: file)
    }

    func testNormalisationArithmetic() {
        let image = RGBImage(width: 1, height: 1, pixels: [0, 128, 255])
        let tensor = imageTensor(image, size: 1)
        XCTAssertEqual(tensor.shape, [1, 3, 1, 1])
        XCTAssertEqual(tensor.scalars[0], (Float(0) / 255 - 0.485) / 0.229)
        XCTAssertEqual(tensor.scalars[1], (Float(128) / 255 - 0.456) / 0.224)
        XCTAssertEqual(tensor.scalars[2], (Float(255) / 255 - 0.406) / 0.225)
        let mask = maskTensor(GrayImage(width: 2, height: 1, pixels: [127, 128]), size: 2)
        XCTAssertEqual(mask.shape, [1, 2, 2])
        XCTAssertEqual(mask.scalars, [0, 1, 0, 1])
    }
}
