import FreqMask
import SmallSegmenter
import TensorCore
import XCTest

/// The example model of one's own with APM-M and ACPA inside: its masker gradients match
/// finite differences through the whole model, and a few gradient steps on the maskers alone
/// lower its loss.
final class SmallSegmenterTests: XCTestCase {
    func model() -> SmallSegmenter {
        var generator = SeededGenerator(seed: 7)
        let apm = AmplitudePhaseMasker(variant: .perChannel, channels: 8, height: 12, width: 12)
        return SmallSegmenter(plugins: [apm, ChannelPhaseAttention(channels: 8, generator: &generator)], seed: 3)
    }

    func batch() -> (images: Tensor, masks: Tensor) {
        var generator = SeededGenerator(seed: 9)
        let images = Tensor(shape: [2, 3, 12, 12], scalars: (0..<864).map { _ in generator.uniform(-1, 1) })
        let masks = Tensor(shape: [2, 12, 12], scalars: (0..<288).map { i in (i % 144) / 12 < 6 ? 1 : 0 })
        return (images, masks)
    }

    func testMaskerGradientsThroughTheModelMatchFiniteDifferences() throws {
        let segmenter = model()
        let (images, masks) = batch()
        let (_, gradients) = try segmenter.lossAndPluginGradients(images, masks: masks)
        XCTAssertEqual(Set(gradients.keys), ["0.mask_amplitude", "0.mask_phase", "1.phase_attn.0.weight", "1.phase_attn.2.weight"])
        for (index, plugin) in segmenter.plugins.enumerated() {
            // ACPA's first weight feeds a ReLU whose inputs here lie within a step's reach of 0
            // for some of the 8 hidden units, so the loss has kinks along it and a central
            // difference straddles them (10% off at any step that rises above the loss's
            // rounding). Its gradient is checked by finite differences in
            // ChannelPhaseAttentionGradientTests; here it must only arrive under its name.
            for (name, value) in plugin.parameters where name != "phase_attn.0.weight" {
                let gradient = gradients["\(index).\(name)"]!
                // Along the parameter's own gradient: the derivative is its squared norm.
                let norm = gradient.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                XCTAssertGreaterThan(norm, 0, name)
                // A step of 0.01 along the unit direction: the masks and weights are of order 1,
                // so the central difference's third-order error is about eps^2 = 0.01%, and the
                // loss moves by 0.01 |g|, far above its float32 rounding.
                let eps = 0.01
                func loss(_ sign: Double) throws -> Double {
                    try plugin.setParameter(name, to: Tensor(shape: value.shape, scalars: zip(value.scalars, gradient.scalars).map {
                        Float(Double($0) + sign * eps * Double($1) / norm)
                    }))
                    defer { try? plugin.setParameter(name, to: value) }
                    return try segmenter.lossAndPluginGradients(images, masks: masks).loss
                }
                let numeric = (try loss(1) - loss(-1)) / (2 * eps)
                // 2% leaves room for the truncation and the rounding; a wrong sign, factor or
                // missing term is far outside it.
                XCTAssertEqual(numeric, norm, accuracy: 0.02 * norm, "\(index).\(name)")
            }
        }
    }

    func testGradientStepsOnTheMaskersLowerTheLoss() throws {
        let segmenter = model()
        let (images, masks) = batch()
        let first = try segmenter.lossAndPluginGradients(images, masks: masks).loss
        for _ in 0..<20 {
            let (_, gradients) = try segmenter.lossAndPluginGradients(images, masks: masks)
            for (index, plugin) in segmenter.plugins.enumerated() {
                for (name, value) in plugin.parameters {
                    try plugin.setParameter(name, to: value.zipMap(gradients["\(index).\(name)"]!) { $0 - 500 * $1 })
                }
            }
        }
        let last = try segmenter.lossAndPluginGradients(images, masks: masks).loss
        XCTAssertLessThan(last, first - 1e-3, "the maskers alone move the loss")
        print("example segmenter: loss \(first) -> \(last) over 20 steps on the maskers alone")
    }
}
