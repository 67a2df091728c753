import ArgumentParser
import Foundation
import FreqMask
import Imaging
import TensorCore

struct MaskerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "masker",
        abstract: "Create, apply and inspect masker state files.",
        discussion: """
            A masker file is safetensors with the reference model's keys (apm.mask_amplitude, \
            apm.mask_phase, acpa.phase_attn.0.weight, acpa.phase_attn.2.weight), loadable in \
            PyTorch with load_state_dict(..., strict=False).
            """,
        subcommands: [MaskerInit.self, MaskerApply.self, MaskerShow.self])
}

enum APMChoice: String, ExpressibleByArgument, CaseIterable {
    case m, s, none
}

struct MaskerInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a fresh masker: masks at 1, ACPA weights drawn as torch's nn.Linear default.")

    @Option(help: "Amplitude-phase masker: m (one mask per channel), s (one shared mask), none.")
    var apm: APMChoice = .m

    @Flag(help: "Include adaptive channel phase attention.")
    var acpa = false

    @Option(help: "Feature channels C.")
    var channels: Int

    @Option(help: "Feature height H.")
    var height: Int

    @Option(help: "Feature width W.")
    var width: Int

    @Option(help: "Seed of the generator that draws the ACPA weights.")
    var seed: UInt64 = 0

    @Option(help: "Masker file to write (.safetensors).")
    var output: String

    func validate() throws {
        guard channels > 0, height > 0, width > 0 else {
            throw ValidationError("--channels, --height and --width must be positive")
        }
        guard apm != .none || acpa else {
            throw ValidationError("nothing to write: --apm none without --acpa")
        }
    }

    func run() throws {
        var check = OutputCheck()
        check.output("--output", output)
        try check.prepare()
        let amplitudePhase = apm == .none ? nil : AmplitudePhaseMasker(
            variant: apm == .m ? .perChannel : .shared, channels: channels, height: height, width: width)
        var generator = SeededGenerator(seed: seed)
        let attention = acpa ? ChannelPhaseAttention(channels: channels, generator: &generator) : nil
        let state = MaskerState(amplitudePhase: amplitudePhase, channelAttention: attention, metadata: [
            "created_by": "cdfss \(CDFSS.version) masker init",
            "seed": String(seed),
            "generator": SeededGenerator.algorithm,
            "feature_shape": "[N, \(channels), \(height), \(width)]",
        ])
        try state.write(to: URL(fileURLWithPath: output))
        print("wrote \(output): \(describe(state))")
    }
}

struct MaskerApply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply a masker (APM, then ACPA) to a [N, C, H, W] float32 .npy array.")

    @Option(help: "Masker file (.safetensors).")
    var masker: String

    @Option(help: "Features to mask: float32 .npy of shape [N, C, H, W].")
    var input: String

    @Option(help: "Where to write the masked features (.npy).")
    var output: String

    func run() throws {
        var check = OutputCheck()
        check.output("--output", output)
        check.input("--masker", masker)
        check.input("--input", input)
        try check.prepare()
        let state = try MaskerState.read(URL(fileURLWithPath: masker))
        var features = try NumPyArray.read(URL(fileURLWithPath: input))
        do {
            for plugin in state.plugins { features = try plugin(features) }
        } catch let error as InputError {
            throw InputError("\(input): \(error.message)")
        }
        try NumPyArray.write(features, to: URL(fileURLWithPath: output))
        print("wrote \(output): \(features.shapeDescription) masked by \(describe(state))")
    }
}

struct MaskerShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Describe a masker file: variant, shapes, statistics of sigmoid(mask).")

    @Argument(help: "Masker file (.safetensors).")
    var file: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(help: ArgumentHelp(
        "Draw sigmoid(mask_amplitude) and sigmoid(mask_phase), averaged over channels, as heatmaps (PNG).",
        discussion: "Zero frequency in the centre, as the masks are stored; colour scale 0 (dark) to 1 (bright)."))
    var png: String?

    func run() throws {
        var check = OutputCheck()
        check.output("--png", png)
        check.input("the masker file", file)
        try check.prepare()
        let state = try MaskerState.read(URL(fileURLWithPath: file))
        if let png {
            guard let factors = MaskerSummary.channelAveragedFactors(state) else {
                throw InputError("\(file): has no amplitude-phase masker to draw (--png needs apm.mask_amplitude and apm.mask_phase)")
            }
            // Cells of at least 12 pixels, and panels of at least about 200 pixels.
            let scale = max(12, 208 / max(factors.height, factors.width))
            let panels = [factors.amplitude, factors.phase].map {
                heatmap(values: $0, width: factors.width, height: factors.height, range: 0...1, scale: scale)
            }
            try sideBySide(panels, gap: 8).writePNG(to: URL(fileURLWithPath: png))
        }
        let summary = MaskerSummary(state)
        if json {
            print(try summary.json())
        } else {
            print("\(file): \(describe(state))")
            print(summary.text, terminator: "")
            if let png { print("heatmaps (amplitude | phase): \(png)") }
        }
    }
}

/// "apm-m [1, 2048, 13, 13] + acpa(2048)".
func describe(_ state: MaskerState) -> String {
    var parts: [String] = []
    if let apm = state.amplitudePhase { parts.append("\(apm.kind) \(apm.maskAmplitude.shapeDescription)") }
    if let acpa = state.channelAttention { parts.append("acpa(\(acpa.channels))") }
    return parts.joined(separator: " + ")
}
