import ArgumentParser
import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import FreqMask
import HSNetCore
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
        abstract: "Write a fresh masker: masks at 1, ACPA weights drawn as torch's nn.Linear default.",
        discussion: """
            The defaults (APM-M with ACPA) are the masker `finetune` and `test --adapt` create             when they start fresh, the paper's configuration. Limits: C <= \(MaskerLimits.maximumChannels), \
            H and W <= \(MaskerLimits.maximumSide), at most \(MaskerLimits.maximumMaskValues) values per mask. \
            --backbone resnet50|resnet101|vgg16 with --image-size gives C, H and W of that \
            backbone's layer-4 taps, where the maskers sit (2048 x 13 x 13 for a ResNet at 400, \
            512 x 12 x 12 for VGG-16's pool5).
            """)

    @Option(help: "Amplitude-phase masker: m (one mask per channel), s (one shared mask), none.")
    var apm: APMChoice = .m

    @Flag(inversion: .prefixedNo, help: "Include adaptive channel phase attention.")
    var acpa = true

    @Option(parsing: .unconditional, help: "Feature channels C.")
    var channels: Int?

    @Option(parsing: .unconditional, help: "Feature height H.")
    var height: Int?

    @Option(parsing: .unconditional, help: "Feature width W.")
    var width: Int?

    @Option(help: "Shape the masker for this backbone's layer-4 taps instead: resnet50, resnet101 or vgg16.")
    var backbone: BackboneKind?

    @Option(parsing: .unconditional, help: "With --backbone: the side of the square network input.")
    var imageSize: Int?

    /// C, H and W: given, or those of `--backbone`'s layer-4 taps at `--image-size`.
    func featureShape() throws -> (channels: Int, height: Int, width: Int) {
        if let backbone {
            guard channels == nil, height == nil, width == nil else {
                throw ValidationError("--backbone gives the feature shape; leave out --channels, --height and --width")
            }
            let side = imageSize ?? 400
            try HSNet.checkImageSize(side)
            guard side >= backbone.minimumImageSize else {
                throw ValidationError("--image-size \(side): a \(backbone.name) needs at least \(backbone.minimumImageSize)")
            }
            let size = backbone.featureSize(layer: 4, imageHeight: side, imageWidth: side)
            return (backbone.channels(layer: 4), size.height, size.width)
        }
        guard imageSize == nil else { throw ValidationError("--image-size goes with --backbone") }
        guard let channels, let height, let width else {
            throw ValidationError("give --channels, --height and --width, or --backbone")
        }
        return (channels, height, width)
    }

    @Option(parsing: .unconditional, help: "Seed of the generator that draws the ACPA weights.")
    var seed: UInt64 = 0

    @Option(help: "Masker file to write (.safetensors).")
    var output: String

    func validate() throws {
        guard apm != .none || acpa else {
            throw ValidationError("nothing to write: --apm none with --no-acpa")
        }
        let (channels, height, width) = try featureShape()
        try MaskerLimits.check(channels: channels, height: height, width: width, perChannel: apm == .m,
                               amplitudePhase: apm != .none)
        try OutputFormat.safetensors.check(output, option: "--output")
    }

    func run() throws {
        var check = OutputCheck()
        check.output("--output", output)
        try check.prepare()
        let (channels, height, width) = try featureShape()
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
        abstract: "Apply a masker (APM, then ACPA) to a [N, C, H, W] float32 .npy array; with --grad-output, its backward too.",
        discussion: """
            The way to use the maskers from another framework: export the features, apply, and \
            read the result back. With --grad-output G.npy (the gradient of your loss for the \
            output, the output's shape) the backward runs too: --grad-input writes the gradient \
            for the input features (.npy), --grad-params the gradient of every masker parameter \
            under the masker file's own names (apm.mask_amplitude, acpa.phase_attn.0.weight, ...; \
            .safetensors), so a training loop elsewhere can drive the maskers or check them.
            """)

    @Option(help: "Masker file (.safetensors).")
    var masker: String

    @Option(help: "Features to mask: float32 .npy of shape [N, C, H, W].")
    var input: String

    @Option(help: "Where to write the masked features (.npy).")
    var output: String

    @Option(help: "Gradient of the loss for the output (.npy, the output's shape): runs the backward.")
    var gradOutput: String?

    @Option(help: "Where to write the gradient for the input features (.npy); needs --grad-output.")
    var gradInput: String?

    @Option(help: "Where to write the masker parameters' gradients (.safetensors, the masker file's names); needs --grad-output.")
    var gradParams: String?

    func validate() throws {
        try OutputFormat.npy.check(output, option: "--output")
        if let gradInput { try OutputFormat.npy.check(gradInput, option: "--grad-input") }
        if let gradParams { try OutputFormat.safetensors.check(gradParams, option: "--grad-params") }
        if gradOutput == nil, gradInput != nil || gradParams != nil {
            throw ValidationError("--grad-input and --grad-params need --grad-output (the gradient to send back)")
        }
        if gradOutput != nil, gradInput == nil, gradParams == nil {
            throw ValidationError("--grad-output: say where the gradients go (--grad-input, --grad-params or both)")
        }
    }

    func run() throws {
        var check = OutputCheck()
        check.output("--output", output)
        check.output("--grad-input", gradInput)
        check.output("--grad-params", gradParams)
        check.input("--masker", masker)
        check.input("--input", input)
        check.input("--grad-output", gradOutput)
        try check.prepare()
        let state = try MaskerState.read(URL(fileURLWithPath: masker))
        var features = try NumPyArray.read(URL(fileURLWithPath: input))
        let upstream = try gradOutput.map { try NumPyArray.read(URL(fileURLWithPath: $0)) }
        var tapes: [(plugin: FeaturePlugin, tape: PluginTape)] = []
        do {
            for plugin in state.plugins {
                if upstream != nil {
                    let (masked, tape) = try plugin.forwardForTraining(features)
                    tapes.append((plugin, tape))
                    features = masked
                } else {
                    features = try plugin(features)
                }
            }
        } catch let error as InputError {
            throw InputError("\(input): \(error.message)")
        }
        // Everything is computed before anything is written: the outputs appear together.
        let outputs = StagedOutputs()
        try outputs.stage(NumPyArray.encode(features), to: URL(fileURLWithPath: output))
        if let upstream, let gradOutput {
            guard upstream.shape == features.shape else {
                throw InputError("\(gradOutput): the gradient has shape \(upstream.shapeDescription), the output \(features.shapeDescription)")
            }
            guard upstream.scalars.allSatisfy(\.isFinite) else {
                throw InputError("\(gradOutput): the gradient holds a NaN or an infinity")
            }
            var grad = upstream
            var parameters: [String: Tensor] = [:]
            for (plugin, tape) in tapes.reversed() {
                var own: [String: Tensor] = [:]
                grad = plugin.backward(grad, tape: tape, parameterGradients: &own)
                let prefix = plugin is AmplitudePhaseMasker ? MaskerState.amplitudePrefix : MaskerState.attentionPrefix
                for (name, value) in own { parameters[prefix + name] = value }
            }
            if let gradInput { try outputs.stage(NumPyArray.encode(grad), to: URL(fileURLWithPath: gradInput)) }
            if let gradParams {
                try outputs.stage(SafetensorsFile(tensors: parameters, metadata: ["created_by": "cdfss \(CDFSS.version) masker apply"]).encoded(),
                                  to: URL(fileURLWithPath: gradParams))
            }
        }
        try outputs.commit()
        print("wrote \(output): \(features.shapeDescription) masked by \(describe(state))"
            + (gradOutput == nil ? "" : "; the backward: " + [gradInput, gradParams].compactMap { $0 }.joined(separator: ", ")))
    }
}

struct MaskerShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Describe a masker file: variant, shapes, statistics of sigmoid(mask); draw it.",
        discussion: """
            --png draws the factors sigmoid(mask) that the amplitude-phase masker applies to \
            each frequency, amplitude and phase side by side, on the centred frequency grid \
            (zero frequency framed, as the masks are stored), with a colour scale that follows \
            the values: the channel mean, or one row per input channel given with --channels \
            (APM-M masks input channel j with mask channel (j + C/2) mod C, as the published \
            code does; rows name both). --diff FILE draws the change from another masker (the \
            start of fine-tuning, say). --attention-png draws, for the picture --image through \
            --checkpoint's backbone and this masker, the histogram of the weights the channel \
            attention gives the 2048 channels of each layer-4 tap.
            """)

    @Argument(help: "Masker file (.safetensors).")
    var file: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(help: "Draw sigmoid(mask_amplitude) and sigmoid(mask_phase) as heatmaps (PNG).")
    var png: String?

    @Option(help: "Input channels to draw one by one (comma-separated), instead of the channel mean.")
    var channels: String?

    @Option(help: "Another masker file: draw the change of sigmoid(mask) from it.")
    var diff: String?

    @Option(help: "Draw the channel attention's weights for --image as histograms (PNG).")
    var attentionPng: String?

    @Option(help: "The picture for --attention-png.")
    var image: String?

    @Option(help: ArgumentHelp("The model for --attention-png. " + ModelSource.help))
    var checkpoint: String?

    @Option(parsing: .unconditional, help: "Side of the square network input, for --attention-png (16 to \(HSNet.maximumImageSize)).")
    var imageSize = 400

    func validate() throws {
        guard (attentionPng == nil) == (image == nil), (attentionPng == nil) == (checkpoint == nil) else {
            throw ValidationError("--attention-png, --image and --checkpoint go together")
        }
        guard png != nil || (channels == nil && diff == nil) else { throw ValidationError("--channels and --diff shape the --png picture; give --png") }
        if let png { try OutputFormat.png.check(png, option: "--png") }
        if let attentionPng { try OutputFormat.png.check(attentionPng, option: "--attention-png") }
        if let checkpoint { _ = try BuiltinModel.named(checkpoint) }
        try HSNet.checkImageSize(imageSize)
    }

    func parsedChannels() throws -> [Int]? {
        guard let channels else { return nil }
        let values = channels.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else { throw InputError("--channels \"\(channels)\": expected channel numbers separated by commas") }
        return values.map { $0! }
    }

    func run() throws {
        var check = OutputCheck()
        check.output("--png", png)
        check.output("--attention-png", attentionPng)
        check.input("the masker file", file)
        check.input("--diff", diff)
        check.input("--image", image)
        if let checkpoint { check.model(checkpoint: checkpoint, backboneWeights: nil) }
        try check.prepare()
        let state = try MaskerState.read(URL(fileURLWithPath: file))
        let outputs = StagedOutputs()
        if let png {
            guard let masker = state.amplitudePhase else {
                throw InputError("\(file): has no amplitude-phase masker to draw (--png needs apm.mask_amplitude and apm.mask_phase)")
            }
            let baseline = try diff.map { path -> AmplitudePhaseMasker in
                guard let other = try MaskerState.read(URL(fileURLWithPath: path)).amplitudePhase else {
                    throw InputError("--diff \(path): has no amplitude-phase masker")
                }
                return other
            }
            let picture = try MaskerPictures.frequencyMaps(masker, channels: try parsedChannels(), baseline: baseline,
                                                           baselineName: diff.map { URL(fileURLWithPath: $0).lastPathComponent })
            try outputs.stage(PNGWriter.encode(picture), to: URL(fileURLWithPath: png))
        }
        if let attentionPng, let image, let checkpoint {
            guard let attention = state.channelAttention else { throw InputError("\(file): has no channel attention (acpa.*) to draw") }
            let model = try ModelSource.load(checkpoint: checkpoint, backboneWeights: nil)
            try model.checkImageSize(imageSize)
            do {
                try model.installFrequencyMaskers(amplitudePhase: state.amplitudePhase, channelAttention: attention, imageSize: imageSize)
            } catch let error as InputError {
                throw InputError("\(file): \(error.message)")
            }
            let input = imageTensor(try RGBImage(contentsOf: URL(fileURLWithPath: image)), size: imageSize)
            let picture = try MaskerPictures.attentionHistogram(model: model, attention: attention, image: input,
                                                                pictureName: URL(fileURLWithPath: image).lastPathComponent)
            try outputs.stage(PNGWriter.encode(picture), to: URL(fileURLWithPath: attentionPng))
        }
        try outputs.commit()
        let summary = MaskerSummary(state)
        if json {
            print(try summary.json())
        } else {
            print("\(file): \(describe(state))")
            print(summary.text, terminator: "")
            if let png { print("factors (amplitude | phase): \(png)") }
            if let attentionPng { print("channel attention weights: \(attentionPng)") }
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
