import Foundation
import FreqMask
import HSNetCore
import ReferenceParity
import TensorCore
import XCTest

/// Masker fine-tuning on PATNet: the gradient of APM-M + ACPA on layer 4 through the
/// prototype transformation (Pᵀx of query and support taps, P from the prototypes of the APM
/// output through the normalisation and the pseudo-inverse), against the published code's
/// autograd (`patnet/patnet_step.safetensors`, "maskers" case) and by finite differences.
final class PATNetMaskerGradientTests: XCTestCase {
    func testMaskerGradientsMatchPublishedPATNet() throws {
        let fixture = try ReferenceFixture(HSNetFixtures.url("patnet/patnet_step.safetensors"))
        let (query, support, supportMask, queryMask) = try PATNetTrainingTests.episode()
        let model = PATNetTests.model
        model.plugins.removeAll()
        try PATNetTests.installDeterministicMaskers(model, imageSize: 96)
        defer { model.plugins.removeAll() }
        let episode = try model.prepareMaskerEpisode(queryTaps: query, supportTaps: support, supportMask: supportMask,
                                                     queryMask: queryMask)
        let (loss, gradients) = try model.maskerLossAndGradients(episode)
        // The longest sum on the path, forward and backward: a layer-4 3 x 3 convolution's 512 x 9
        // terms (the transformation's 2048-channel sums are shorter in their dependent chain
        // than a sqrt-rule multiple of 68 covers), as MaskerGradientTests; sqrt of it is the
        // multiple (ParityBound).
        let longest = 512 * 9
        let lossCheck = try fixture.output("maskers.loss").check(Tensor(shape: [1], scalars: [loss]), longestSum: 96 * 96)
        print("PATNet masker step: \(lossCheck)")
        XCTAssertTrue(lossCheck.passed, "\(lossCheck)")
        for name in ["apm.mask_amplitude", "apm.mask_phase", "acpa.phase_attn.0.weight", "acpa.phase_attn.2.weight"] {
            let ours = try XCTUnwrap(gradients[name], name)
            let check = try fixture.output("maskers.grad." + name).check(ours, metric: .normRelative, longestSum: longest)
            print("PATNet masker step \(name): \(check)")
            XCTAssertTrue(check.passed, "\(name): \(check)")
            // The brief's ceiling for a training step's gradients, far above the derived bound.
            XCTAssertLessThan(check.error, 5e-3, name)
        }
    }

    /// ShotTape's backward against central differences of L = <Wq, Pᵀq> + <Ws, Pᵀ(s m)>, with P
    /// from the prototypes of s, along a random direction of the support taps (both paths:
    /// the masked product and the prototypes) and of the query taps.
    func testShotTransformationBackwardMatchesFiniteDifferences() throws {
        let transformation = PATNetTests.model.prototypeTransformation!
        var generator = SeededGenerator(seed: 11)
        func random(_ shape: [Int], scale: Float = 1) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in scale * Float.random(in: -1...1, using: &generator) })
        }
        let shape = [1, 2048, 3, 3]
        // A mask whose 3 x 3 plane holds fractional weights: both prototypes non-zero, rank 2.
        var mask = Tensor(zeros: [12, 12])
        for y in 3..<9 { for x in 2..<7 { mask.scalars[y * 12 + x] = 1 } }
        let (s0, q0) = (random(shape), random(shape))
        let (weightQ, weightS) = (random(shape), random(shape))
        func loss(_ s: Tensor, _ q: Tensor) -> Double {
            var shot = PrototypeTransformation.ShotTape(transformation, supportTaps: [s], tapLayers: [4], mask: mask)
            var (query, support) = ([q], [s])
            HSNet.maskSupportFeatures(&support, mask: mask)
            shot.apply(query: &query, support: &support)
            return zip(query[0].scalars, weightQ.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                + zip(support[0].scalars, weightS.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var shot = PrototypeTransformation.ShotTape(transformation, supportTaps: [s0], tapLayers: [4], mask: mask)
        var (query, support) = ([q0], [s0])
        HSNet.maskSupportFeatures(&support, mask: mask)
        shot.apply(query: &query, support: &support)
        var (gradQuery, gradSupport) = ([weightQ], [weightS])
        let throughPrototypes = shot.backward(gradQuery: &gradQuery, gradSupport: &gradSupport)
        HSNet.maskSupportFeatures(&gradSupport, mask: mask)
        let prototypePart = throughPrototypes[0]
        gradSupport[0].addScaled(prototypePart)
        let norm = { (t: Tensor) in t.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
        XCTAssertGreaterThan(norm(prototypePart), 1e-3 * norm(gradSupport[0]), "the prototypes' path vanished")
        for (what, direction) in [("support", random(shape)), ("query", random(shape))] {
            let isSupport = what == "support"
            let analytic = zip(isSupport ? gradSupport[0].scalars : gradQuery[0].scalars, direction.scalars)
                .reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            // Step 1e-2 on values of order 1: the central difference's truncation error is
            // h² / 6 times a third derivative of order 1 (the pseudo-inverse is smooth away from
            // rank 1), ~2e-5 relative; rounding of the float32 forward (~1e-7 of |L| ~ 10, summed
            // in double) over 2h = 2e-2 is ~1e-4 relative to a derivative of order 10. 2e-3
            // covers both; a missing term, a wrong sign or transpose is off by O(1).
            let h: Float = 1e-2
            func shifted(_ base: Tensor, _ sign: Float) -> Tensor {
                Tensor(shape: shape, scalars: zip(base.scalars, direction.scalars).map { $0 + sign * h * $1 })
            }
            let numeric = isSupport ? (loss(shifted(s0, 1), q0) - loss(shifted(s0, -1), q0)) / Double(2 * h)
                                    : (loss(s0, shifted(q0, 1)) - loss(s0, shifted(q0, -1))) / Double(2 * h)
            print("PATNet shot transformation, finite differences along the \(what): analytic \(analytic), numeric \(numeric)")
            XCTAssertEqual(numeric, analytic, accuracy: 2e-3 * abs(analytic), what)
        }
    }

    /// pseudoInverseBackward against central differences of pseudoInverse, at rank 2 and at the
    /// rank-1 matrices of a zero prototype row (where torch's formula keeps the (I - A A⁺) term).
    func testPseudoInverseBackwardMatchesFiniteDifferences() {
        var generator = SeededGenerator(seed: 5)
        let c = 6
        for zeroRow in [nil, 0, 1] as [Int?] {
            var a = (0..<(2 * c)).map { _ in Float.random(in: -1...1, using: &generator) }
            if let row = zeroRow { for j in 0..<c { a[row * c + j] = 0 } }
            let g = (0..<(2 * c)).map { _ in Float.random(in: -1...1, using: &generator) }
            let gradA = PrototypeTransformation.pseudoInverseBackward(a, pseudoInverse: PrototypeTransformation.pseudoInverse(a), gradient: g)
            // Along the gradient itself, so the derivative is its squared norm and cannot be
            // small by cancellation; at rank 1 the pseudo-inverse is differentiable only along
            // directions that keep the rank, so the zero row stays zero.
            var d = gradA
            if let row = zeroRow { for j in 0..<c { d[row * c + j] = 0 } }
            let analytic = zip(gradA, d).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertGreaterThan(analytic, 0)
            let h: Float = 1e-2
            func value(_ sign: Float) -> Double {
                let inverse = PrototypeTransformation.pseudoInverse(zip(a, d).map { $0 + sign * h * $1 })
                return zip(inverse, g).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
            let numeric = (value(1) - value(-1)) / Double(2 * h)
            // Truncation h² ~ 1e-4 relative for a well-conditioned random 2 x 6 matrix (the step
            // is h times the gradient, of order 1), float32 rounding of A⁺ over 2h ~ 1e-5: 2e-3.
            print("pseudo-inverse backward, zero row \(String(describing: zeroRow)): analytic \(analytic), numeric \(numeric)")
            XCTAssertEqual(numeric, analytic, accuracy: 2e-3 * abs(analytic), "zero row \(String(describing: zeroRow))")
        }
    }
}
