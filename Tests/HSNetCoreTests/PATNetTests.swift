import Foundation
import FreqMask
import HSNetCore
import ReferenceParity
import TensorCore
import XCTest

/// PATNet as HSNet with its prototype transformation: the pseudo-inverse against
/// `torch.pinverse`, whole 1-shot episodes against the published PATNet
/// (`scripts/fixtures/patnet_references.py`, det-fill weights, 96 x 96), and loading.
final class PATNetTests: XCTestCase {
    static let model: HSNet = { try! HSNet.withDeterministicPATNetWeights() }()

    /// As `ResNet101Tests.longestSum`: the longest single sum of the model is a layer-4 3 x 3
    /// convolution's, 512 x 9 terms; the transformation's longest (pinv(Ĉ)ᵀ x over the
    /// channels) has 2048.
    static let longestSum = 512 * 9

    func testPseudoInverseMatchesTorchAtEveryRank() throws {
        let fixture = try ReferenceFixture(HSNetFixtures.url("patnet/pinverse.safetensors"))
        for name in ["rank2", "near", "zero_fg", "zero_bg", "zero"] {
            let matrix = try fixture.tensor(name)
            let ours = Tensor(shape: [1, matrix.shape[2], 2], scalars: PrototypeTransformation.pseudoInverse(matrix.scalars))
            // Bound: 10 x torch's own float32 error (ParityBound.referenceMultiple): a 2 x 2 Gram
            // matrix in double against an SVD in float32, 64-term sums; a wrong rank decision
            // or term would be off by O(1).
            let check = try fixture.output(name + ".pinv").check(ours)
            print("pinverse \(name): \(check)")
            XCTAssertTrue(check.passed, "\(name): \(check)")
        }
        // A zero row contributes a zero column, exactly, as torch's SVD gives it.
        let zeroForeground = try fixture.tensor("zero_fg")
        let inverse = PrototypeTransformation.pseudoInverse(zeroForeground.scalars)
        XCTAssertTrue(stride(from: 1, to: inverse.count, by: 2).allSatisfy { inverse[$0] == 0 })
        XCTAssertTrue(PrototypeTransformation.pseudoInverse([Float](repeating: 0, count: 8)).allSatisfy { $0 == 0 })
    }

    func testPseudoInverseIsMoorePenrose() {
        // A A⁺ A = A and A⁺ A A⁺ = A⁺ for a rank-2 and a rank-1 (zero background row) matrix.
        var generator = SeededGenerator(seed: 3)
        for zeroRow in [false, true] {
            let c = 5
            var a = (0..<(2 * c)).map { _ in Float.random(in: -1...1, using: &generator) }
            if zeroRow { for j in 0..<c { a[j] = 0 } }
            let plus = PrototypeTransformation.pseudoInverse(a)
            let aTensor = Tensor(shape: [2, c], scalars: a)
            let plusTensor = Tensor(shape: [c, 2], scalars: plus)
            let again = matmul(matmul(aTensor, plusTensor), aTensor)
            let inverseAgain = matmul(matmul(plusTensor, aTensor), plusTensor)
            for (x, y) in zip(again.scalars, a) { XCTAssertEqual(x, y, accuracy: 1e-5) }
            for (x, y) in zip(inverseAgain.scalars, plus) { XCTAssertEqual(x, y, accuracy: 1e-5) }
        }
    }

    func testEpisodesMatchPublishedPATNet() throws {
        let fixture = try ReferenceFixture(HSNetFixtures.url("patnet/patnet_1shot.safetensors"))
        let model = Self.model
        XCTAssertEqual(model.modelName, "PATNet")
        let query = try fixture.tensor("query_img"), support = try fixture.tensor("support_img")
        let mask = try fixture.tensor("support_mask")
        defer { model.plugins.removeAll() }
        // "maskers": APM-M + ACPA on 3 x 3 layer-4 planes. The support mask leaves one non-zero
        // position (the centre) on them, so ACPA's masked support planes have real spectra at
        // (1, 2) and (2, 1) too, which a pooled phase counting only the self-conjugate terms
        // missed (2.5e-2 on these logits); `ChannelPhaseAttention` counts every real term.
        for (name, maskers, masks) in [("plain", false, mask), ("maskers", true, mask), ("empty", false, Tensor(zeros: mask.shape))] {
            model.plugins.removeAll()
            if maskers { try Self.installDeterministicMaskers(model, imageSize: 96) }
            var transformed = 0
            let logits = try model.predict(query: query, supports: support, supportMasks: masks) { key, _ in
                if key.hasPrefix("query_feat_transformed.") { transformed += 1 }
            }
            XCTAssertEqual(transformed, 13)
            // Bound: ParityBound.multiple(longestSum: 4608) x the published code's own float32
            // error on these logits, as for HSNet's episodes (ResNet101Tests).
            let check = try fixture.output("logits." + name).check(logits, longestSum: Self.longestSum)
            print("PATNet 1-shot \(name): \(check)")
            XCTAssertTrue(check.passed, "\(name): \(check)")
            XCTAssertLessThan(check.error, 1e-4, name)
        }
    }

    /// APM-M and ACPA with det-fill parameters (the names the fixture script fills).
    static func installDeterministicMaskers(_ model: HSNet, imageSize: Int) throws {
        let side = HSNet.featureSize(layer: 4, imageHeight: imageSize, imageWidth: imageSize).height
        let shapes: [(String, [Int])] = [("apm.mask_amplitude", [1, 2048, side, side]), ("apm.mask_phase", [1, 2048, side, side]),
                                         ("acpa.phase_attn.0.weight", [8, 2048]), ("acpa.phase_attn.2.weight", [2048, 8])]
        let state = try MaskerState(stateDict: Dictionary(uniqueKeysWithValues: shapes.map { ($0.0, detFill(name: $0.0, shape: $0.1)) }))
        try model.installFrequencyMaskers(amplitudePhase: state.amplitudePhase, channelAttention: state.channelAttention,
                                          imageSize: imageSize)
    }

    func testCheckpointNamesAndErrors() throws {
        let names = (HSNet.deterministicStateDict(backbone: .resnet50) + HSNet.deterministicReferenceLayers()).map(\.name)
        XCTAssertEqual(SupportedModels.use(of: names), "yes: PATNet (ResNet-50)")
        XCTAssertNil(HSNetFixtures.model.prototypeTransformation)
        XCTAssertEqual(HSNetFixtures.model.modelName, "HSNet")
        let misshapen = HSNet.deterministicStateDict(backbone: .resnet50) + HSNet.deterministicReferenceLayers().map {
            $0.name == "reference_layer3.weight" ? (name: $0.name, tensor: Tensor(zeros: [3, 2048])) : $0
        }
        assertInputError(["p.pt: does not fit PATNet (ResNet-50): wrong shape: reference_layer3.weight has shape [3, 2048], expected [2, 2048]"]) {
            _ = try HSNet(stateDict: misshapen, source: "p.pt")
        }
    }
}
