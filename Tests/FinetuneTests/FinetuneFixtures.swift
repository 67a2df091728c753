import Foundation
import HSNetCore
import Imaging
import TensorCore

/// The reference episode's model and inputs, built as the HSNet tests build them: the det-fill
/// backbone computed from parameter names, the learner and maskers read from
/// `hsnet_apm_nonbackbone.pt` through the real loader, the fixture pictures at 400 x 400.
enum FinetuneFixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func url(_ relativePath: String) -> URL { folder.appendingPathComponent(relativePath) }

    /// The det-fill HSNet of the reference episode, plug-in slots empty.
    static let model: HSNet = {
        let backbone = ResNetBackbone.parameterShapes(depth: .resnet50).map {
            (name: "backbone." + $0.name, tensor: detFill(name: "backbone." + $0.name, shape: $0.shape))
        }
        let rest = try! TorchCheckpoint.loadStateDict(from: url("hsnet_apm_nonbackbone.pt"))
        return try! HSNet(stateDict: backbone + rest)
    }()

    /// A fixture picture as the network's input [1, 3, 400, 400].
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
}

/// The distance between two floats in units in the last place of `b`.
func ulps(_ a: Float, _ b: Float) -> Float {
    abs(a - b) / b.ulp
}
