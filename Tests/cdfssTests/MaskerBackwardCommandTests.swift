import Foundation
import FreqMask
import TensorCore
import XCTest

/// `masker apply --grad-output`: the maskers' backward on exported features, for users of
/// another framework.
final class MaskerBackwardCommandTests: CommandLineTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    func testBackwardOfTheReferenceMaskerGivesAutogradsGradients() throws {
        // The published masker's module fixture: x, its masks, an upstream gradient and what
        // autograd gave for it.
        let fixture = try SafetensorsFile.read(Self.fixtures.appendingPathComponent("apm_m_module.safetensors")).tensors
        let masker = path("apm.safetensors")
        try MaskerState(stateDict: ["apm.mask_amplitude": fixture["mask_amplitude"]!, "apm.mask_phase": fixture["mask_phase"]!])
            .write(to: URL(fileURLWithPath: masker))
        try NumPyArray.write(fixture["x"]!, to: URL(fileURLWithPath: path("x.npy")))
        try NumPyArray.write(fixture["grad_y"]!, to: URL(fileURLWithPath: path("gy.npy")))
        let result = try run(["masker", "apply", "--masker", masker, "--input", path("x.npy"), "--output", path("y.npy"),
                              "--grad-output", path("gy.npy"), "--grad-input", path("gx.npy"), "--grad-params", path("gp.safetensors")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let gradients = try SafetensorsFile.read(URL(fileURLWithPath: path("gp.safetensors"))).tensors
        XCTAssertEqual(Set(gradients.keys), ["apm.mask_amplitude", "apm.mask_phase"])
        // The numerics are held to the reference's own rounding by the parity tests; here the
        // plumbing: a wrong sign, scale, order or name is off by far more than 1e-4.
        for (ours, theirs) in [(try NumPyArray.read(URL(fileURLWithPath: path("y.npy"))), fixture["y"]!),
                               (try NumPyArray.read(URL(fileURLWithPath: path("gx.npy"))), fixture["grad_x"]!),
                               (gradients["apm.mask_amplitude"]!, fixture["grad_mask_amplitude"]!),
                               (gradients["apm.mask_phase"]!, fixture["grad_mask_phase"]!)] {
            XCTAssertEqual(ours.shape, theirs.shape)
            let scale = theirs.scalars.map(abs).max()!
            let error = zip(ours.scalars, theirs.scalars).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(error, 1e-4 * scale)
        }
    }

    func testBackwardThroughBothMaskersEqualsTheLibrary() throws {
        let masker = path("m.safetensors")
        XCTAssertEqual(try run(["masker", "init", "--channels", "8", "--height", "5", "--width", "6", "--seed", "2",
                                "--output", masker]).status, 0)
        var random = SeededGenerator(seed: 4)
        let x = Tensor(shape: [2, 8, 5, 6], scalars: (0..<480).map { _ in random.uniform(-1, 1) })
        let gy = Tensor(shape: [2, 8, 5, 6], scalars: (0..<480).map { _ in random.uniform(-1, 1) })
        try NumPyArray.write(x, to: URL(fileURLWithPath: path("x.npy")))
        try NumPyArray.write(gy, to: URL(fileURLWithPath: path("gy.npy")))
        let result = try run(["masker", "apply", "--masker", masker, "--input", path("x.npy"), "--output", path("y.npy"),
                              "--grad-output", path("gy.npy"), "--grad-params", path("gp.safetensors")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("gx.npy")))

        let state = try MaskerState.read(URL(fileURLWithPath: masker))
        var h = x
        var tapes: [(FeaturePlugin, PluginTape)] = []
        for plugin in state.plugins { let (o, t) = try plugin.forwardForTraining(h); tapes.append((plugin, t)); h = o }
        var g = gy
        var expected: [String: Tensor] = [:]
        for (plugin, tape) in tapes.reversed() {
            var own: [String: Tensor] = [:]
            g = plugin.backward(g, tape: tape, parameterGradients: &own)
            for (name, value) in own { expected[(plugin is AmplitudePhaseMasker ? "apm." : "acpa.") + name] = value }
        }
        XCTAssertEqual(try SafetensorsFile.read(URL(fileURLWithPath: path("gp.safetensors"))).tensors, expected)
        XCTAssertEqual(Set(expected.keys), ["apm.mask_amplitude", "apm.mask_phase", "acpa.phase_attn.0.weight", "acpa.phase_attn.2.weight"])
    }

    func testBadGradientsAreOneLine() throws {
        let masker = path("m.safetensors")
        XCTAssertEqual(try run(["masker", "init", "--channels", "4", "--height", "3", "--width", "3", "--output", masker]).status, 0)
        try NumPyArray.write(Tensor(zeros: [1, 4, 3, 3]), to: URL(fileURLWithPath: path("x.npy")))
        try NumPyArray.write(Tensor(zeros: [1, 4, 3, 4]), to: URL(fileURLWithPath: path("wrong.npy")))
        let apply = ["masker", "apply", "--masker", masker, "--input", path("x.npy"), "--output", path("y.npy")]
        assertFailsWithOneLine(try run(apply + ["--grad-output", path("wrong.npy"), "--grad-input", path("gx.npy")]),
                               mentioning: [path("wrong.npy"), "[1, 4, 3, 4]"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("y.npy")), "nothing half-written")
        assertFailsWithOneLine(try run(apply + ["--grad-input", path("gx.npy")]), mentioning: ["--grad-output"])
        assertFailsWithOneLine(try run(apply + ["--grad-output", path("x.npy")]), mentioning: ["--grad-input"])
    }
}
