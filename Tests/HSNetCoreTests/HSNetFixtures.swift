import Foundation
import HSNetCore
import Imaging
import ReferenceParity
import TensorCore
import XCTest

/// Fixtures shared by the HSNet tests, built once per test process: the det-fill model (the
/// backbone computed from parameter names, the learner and maskers read from
/// `hsnet_apm_nonbackbone.pt` through the real loader) and the episode's input images.
enum HSNetFixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func url(_ relativePath: String) -> URL { folder.appendingPathComponent(relativePath) }

    /// The learner and masker entries of the reference checkpoint, in file order.
    static let nonBackboneStateDict: [(name: String, tensor: Tensor)] = {
        try! TorchCheckpoint.loadStateDict(from: url("hsnet_apm_nonbackbone.pt"))
    }()

    /// det-fill values for every backbone parameter, named as torchvision does (no prefix).
    static let torchvisionBackbone: [(name: String, tensor: Tensor)] = {
        ResNetBackbone.parameterShapes(depth: .resnet50).map { (name: $0.name, tensor: detFill(name: "backbone." + $0.name, shape: $0.shape)) }
    }()

    /// The whole det-fill state dict, as an HSNet checkpoint holds it.
    static var fullStateDict: [(name: String, tensor: Tensor)] {
        torchvisionBackbone.map { (name: "backbone." + $0.name, tensor: $0.tensor) } + nonBackboneStateDict
    }

    /// The model of the reference episode, plug-in slots empty. Tests that install plug-ins
    /// set the slots they need first (the model is shared).
    static let model: HSNet = { try! HSNet(stateDict: fullStateDict) }()

    /// A 400 x 400 fixture picture as the network's input [1, 3, 400, 400].
    static func image(_ name: String) throws -> Tensor {
        imageTensor(try RGBImage(contentsOf: url("images/\(name).png")), size: 400)
    }

    /// A fixture mask as 0/1 [400, 400].
    static func mask(_ name: String) throws -> Tensor {
        maskTensor(try GrayImage(contentsOf: url("images/\(name).png")), size: 400).reshaped([400, 400])
    }

    static func tensors(_ relativePath: String) throws -> [String: Tensor] {
        try SafetensorsFile.read(url(relativePath)).tensors
    }

    /// Equally shaped tensors concatenated along their first axis.
    static func concatenated(_ tensors: [Tensor]) -> Tensor {
        Tensor(shape: [tensors.count * tensors[0].shape[0]] + tensors[0].shape.dropFirst(),
               scalars: tensors.flatMap(\.scalars))
    }

    /// Every `step`-th pixel of [N, C, H, W] in both directions.
    static func subsampled(_ x: Tensor, step: Int) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = ((h + step - 1) / step, (w + step - 1) / step)
        var scalars: [Float] = []
        scalars.reserveCapacity(n * c * oh * ow)
        for plane in 0..<(n * c) {
            for y in stride(from: 0, to: h, by: step) {
                for x0 in stride(from: 0, to: w, by: step) { scalars.append(x.scalars[(plane * h + y) * w + x0]) }
            }
        }
        return Tensor(shape: [n, c, oh, ow], scalars: scalars)
    }
}

/// The summary statistics of each intermediate of the episode, from the published code run
/// in float64, with that run's float32 error on the whole tensor.
struct ReferenceStatistics {
    let mean, std, absSum, min, max: Double
    let samples: [(index: Int, value: Double)]
    /// max |float32 - float64| / max |float64| of the published code on this tensor.
    let referenceError: Double

    static func load(_ url: URL) throws -> [String: ReferenceStatistics] {
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: [String: Any]])
        return try json.mapValues { entry in
            let samples = try XCTUnwrap(entry["samples"] as? [String: Double])
            return ReferenceStatistics(
                mean: try XCTUnwrap(entry["mean"] as? Double), std: try XCTUnwrap(entry["std"] as? Double),
                absSum: try XCTUnwrap(entry["abs_sum"] as? Double), min: try XCTUnwrap(entry["min"] as? Double),
                max: try XCTUnwrap(entry["max"] as? Double),
                samples: samples.map { (Int($0.key)!, $0.value) }.sorted { $0.0 < $1.0 },
                referenceError: try XCTUnwrap(entry["reference_error"] as? Double))
        }
    }

    /// The bound on `largestDeviation`: every statistic is measured relative to the tensor's
    /// largest magnitude (abs-sum relative to count times that), so none moves by more than
    /// the tensor's max |error| / max |value|; ours may be `ParityBound.multiple(longestSum:)`
    /// times the published code's own float32 error there.
    func bound(longestSum: Int) -> Double {
        ParityBound.multiple(longestSum: longestSum) * Swift.max(referenceError, ParityBound.unitRoundoff)
    }

    /// The largest deviation of `tensor` from these statistics, each relative to the tensor's
    /// scale (its largest magnitude).
    func largestDeviation(of tensor: Tensor) -> (what: String, error: Double) {
        let measured = Self.measure(tensor)
        let scale = Swift.max(Swift.abs(min), Swift.abs(max), 1e-12)
        var checks: [(String, Double)] = [
            ("mean", Swift.abs(measured.mean - mean) / scale),
            ("min", Swift.abs(measured.min - min) / scale),
            ("max", Swift.abs(measured.max - max) / scale),
            ("std", Swift.abs(measured.std - std) / scale),
            ("abs-sum", Swift.abs(measured.absSum - absSum) / (scale * Double(tensor.count))),
        ]
        for (index, value) in samples {
            guard index < tensor.count else { return ("sample \(index) beyond \(tensor.count) elements", .infinity) }
            checks.append(("sample \(index)", Swift.abs(Double(tensor.scalars[index]) - value) / scale))
        }
        return checks.max { $0.1 < $1.1 }!
    }

    /// Mean, population std, abs-sum, min and max in double precision, in one pass over the
    /// buffer (the observed tensors add up to some 40 million floats).
    static func measure(_ tensor: Tensor) -> (mean: Double, std: Double, absSum: Double, min: Double, max: Double) {
        tensor.withUnsafeBufferPointer { buffer in
            var (sum, squares, absolute) = (0.0, 0.0, 0.0)
            var (low, high) = (Float.infinity, -Float.infinity)
            let p = buffer.baseAddress!
            // The shift keeps the one-pass variance accurate (the values are O(1) around a small mean).
            let shift = Double(p[0])
            for i in 0..<buffer.count {
                let v = p[i]
                let d = Double(v) - shift
                sum += d
                squares += d * d
                absolute += Double(Swift.abs(v))
                low = Swift.min(low, v)
                high = Swift.max(high, v)
            }
            let n = Double(buffer.count)
            let meanShifted = sum / n
            let variance = Swift.max(0, squares / n - meanShifted * meanShifted)
            return (meanShifted + shift, variance.squareRoot(), absolute, Double(low), Double(high))
        }
    }
}
