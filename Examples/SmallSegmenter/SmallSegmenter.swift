import Foundation
import FreqMask
import TensorCore

/// An example of a model of your own holding frequency maskers: a two-layer CNN segmenter
/// (3x3 convolution to 8 channels, ReLU, the plug-ins, 1x1 convolution to 2 classes) that runs
/// whatever `FeaturePlugin`s it is given on its hidden features, in its forward and in its
/// backward. Nothing here knows what APM or ACPA compute: any plug-in fits, which is what the
/// protocol promises. The tests build it, check its gradient by finite differences and train
/// its maskers, so the protocol stays honest.
///
/// To put maskers in your own model: call `forwardForTraining` on each plug-in where the
/// features should be masked, keep the tapes, and in the backward call `backward` on them in
/// reverse order with the gradient arriving there; the parameter gradients come back named as
/// the plug-in names its parameters (`mask_amplitude`, `phase_attn.0.weight`, ...).
public struct SmallSegmenter {
    public var encoder: Conv2d
    public var classifier: Conv2d
    public var plugins: [FeaturePlugin]

    public init(plugins: [FeaturePlugin], seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        func weights(_ shape: [Int]) -> Tensor {
            let bound = 1 / Float(shape.dropFirst().reduce(1, *)).squareRoot()
            return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in generator.uniform(-bound, bound) })
        }
        encoder = Conv2d(weight: weights([8, 3, 3, 3]), bias: Tensor(zeros: [8]), stride: 1, padding: 1)
        classifier = Conv2d(weight: weights([2, 8, 1, 1]), bias: Tensor(zeros: [2]), stride: 1, padding: 0)
        self.plugins = plugins
    }

    /// Logits [N, 2, H, W] of images [N, 3, H, W].
    public func callAsFunction(_ images: Tensor) throws -> Tensor {
        var hidden = ReLU.forward(encoder.forward(images))
        for plugin in plugins { hidden = try plugin(hidden) }
        return classifier.forward(hidden)
    }

    /// The mean two-class cross-entropy against 0/1 masks [N, H, W] and the gradient of every
    /// plug-in parameter, named `<plug-in index>.<parameter>` (the CNN's own weights stay fixed
    /// here, as a backbone does while its maskers adapt).
    public func lossAndPluginGradients(_ images: Tensor, masks: Tensor) throws -> (loss: Double, gradients: [String: Tensor]) {
        let features = ReLU.forward(encoder.forward(images))
        var hidden = features
        var tapes: [PluginTape] = []
        for plugin in plugins {
            let (output, tape) = try plugin.forwardForTraining(hidden)
            hidden = output
            tapes.append(tape)
        }
        let logits = classifier.forward(hidden)
        let (loss, gradLogits) = Self.crossEntropy(logits, masks)
        var grad = classifier.backwardInput(gradLogits, inputShape: hidden.shape)
        var gradients: [String: Tensor] = [:]
        for (index, plugin) in plugins.enumerated().reversed() {
            var own: [String: Tensor] = [:]
            grad = plugin.backward(grad, tape: tapes[index], parameterGradients: &own)
            for (name, value) in own { gradients["\(index).\(name)"] = value }
        }
        return (loss, gradients)
    }

    /// Mean cross-entropy of [N, 2, H, W] logits against [N, H, W] 0/1 targets, in double
    /// precision, and its gradient.
    static func crossEntropy(_ logits: Tensor, _ masks: Tensor) -> (Double, Tensor) {
        let plane = logits.shape[2] * logits.shape[3]
        let l = logits.scalars, y = masks.scalars
        var gradient = [Float](repeating: 0, count: l.count)
        var total = 0.0
        for b in 0..<logits.shape[0] {
            for i in 0..<plane {
                let (a, c) = (Double(l[2 * b * plane + i]), Double(l[(2 * b + 1) * plane + i]))
                let m = max(a, c)
                let logSum = m + log(exp(a - m) + exp(c - m))
                let foreground = y[b * plane + i] != 0
                total += logSum - (foreground ? c : a)
                let p1 = exp(c - logSum)
                gradient[2 * b * plane + i] = Float((1 - p1) - (foreground ? 0 : 1)) / Float(y.count)
                gradient[(2 * b + 1) * plane + i] = Float(p1 - (foreground ? 1 : 0)) / Float(y.count)
            }
        }
        return (total / Double(y.count), Tensor(shape: logits.shape, scalars: gradient))
    }
}
