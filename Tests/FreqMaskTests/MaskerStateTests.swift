import Foundation
import FreqMask
import TensorCore
import XCTest

final class MaskerStateTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cdfss-masker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testRoundTripWithReferenceKeyNames() throws {
        var random = TestRandom(seed: 7)
        var generator = SeededGenerator(seed: 1)
        let apm = try AmplitudePhaseMasker(maskAmplitude: random.tensor([1, 16, 5, 5]), maskPhase: random.tensor([1, 16, 5, 5]))
        let acpa = ChannelPhaseAttention(channels: 16, generator: &generator)
        let url = directory.appendingPathComponent("m.safetensors")
        try MaskerState(amplitudePhase: apm, channelAttention: acpa, metadata: ["seed": "1"]).write(to: url)

        let file = try SafetensorsFile.read(url)
        XCTAssertEqual(Set(file.tensors.keys), ["apm.mask_amplitude", "apm.mask_phase", "acpa.phase_attn.0.weight", "acpa.phase_attn.2.weight"])
        XCTAssertEqual(file.metadata["apm"], "m")
        XCTAssertEqual(file.metadata["acpa"], "true")

        let loaded = try MaskerState.read(url)
        XCTAssertEqual(loaded.amplitudePhase?.maskAmplitude, apm.maskAmplitude)
        XCTAssertEqual(loaded.amplitudePhase?.maskPhase, apm.maskPhase)
        XCTAssertEqual(loaded.channelAttention?.firstWeight, acpa.firstWeight)
        XCTAssertEqual(loaded.channelAttention?.secondWeight, acpa.secondWeight)
        XCTAssertEqual(loaded.metadata["seed"], "1")
        XCTAssertEqual(loaded.plugins.map(\.kind), ["apm-m", "acpa"])
    }

    func testEitherPartMayBeAbsent() throws {
        let url = directory.appendingPathComponent("s.safetensors")
        try MaskerState(amplitudePhase: AmplitudePhaseMasker(variant: .shared, channels: 8, height: 3, width: 4), channelAttention: nil).write(to: url)
        let shared = try MaskerState.read(url)
        XCTAssertEqual(shared.amplitudePhase?.variant, .shared)
        XCTAssertNil(shared.channelAttention)

        var generator = SeededGenerator(seed: 0)
        try MaskerState(amplitudePhase: nil, channelAttention: ChannelPhaseAttention(channels: 8, generator: &generator)).write(to: url)
        XCTAssertEqual(try MaskerState.read(url).plugins.map(\.kind), ["acpa"])
    }

    func testMismatchesAreExplained() throws {
        let url = directory.appendingPathComponent("bad.safetensors")
        func expectError(_ tensors: [String: Tensor], mentioning text: String, line: UInt = #line) throws {
            try SafetensorsFile(tensors: tensors).write(to: url)
            XCTAssertThrowsError(try MaskerState.read(url), line: line) { error in
                XCTAssertTrue("\(error)".contains(text), "\(error)", line: line)
                XCTAssertTrue("\(error)".hasPrefix(url.path), "\(error)", line: line)
                XCTAssertFalse("\(error)".contains("\n"), line: line)
            }
        }
        let mask = Tensor(zeros: [1, 4, 3, 3])
        try expectError(["apm.mask_amplitude": mask], mentioning: "no apm.mask_phase")
        try expectError(["apm.mask_amplitude": mask, "apm.mask_phase": Tensor(zeros: [1, 4, 3, 2])], mentioning: "[1, 4, 3, 2]")
        try expectError(["apm.mask_amplitude": mask, "apm.mask_phase": mask, "backbone.conv1.weight": mask], mentioning: "backbone.conv1.weight")
        try expectError(["acpa.phase_attn.0.weight": Tensor(zeros: [8, 4])], mentioning: "no acpa.phase_attn.2.weight")
        try expectError(["apm.mask_amplitude": mask, "apm.mask_phase": mask,
                         "acpa.phase_attn.0.weight": Tensor(zeros: [8, 6]), "acpa.phase_attn.2.weight": Tensor(zeros: [6, 8])],
                        mentioning: "6")
        try expectError([:], mentioning: "no masker tensors")
        XCTAssertThrowsError(try MaskerState(amplitudePhase: nil, channelAttention: nil).write(to: url))
    }
}
