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
            PyTorch with load_state_dict(..., strict=False). Those are the layer-4 maskers; a \
            file may hold maskers for layers 3 and 2 too, under the same names behind layer3. \
            or layer2. (layer3.apm.mask_amplitude, ...), and its metadata names the slots.
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
            The defaults (APM-M with ACPA) are the masker `finetune` and `test --adapt` create \
            when they start fresh, the paper's configuration. The shapes come from --for \
            CHECKPOINT (the channels and feature size of the taps of each --slot layer at \
            --image-size: 512 x 50 x 50, 1024 x 25 x 25, 2048 x 13 x 13 on layers 2, 3, 4 of a \
            ResNet at 400) or from --channels, --height and --width (one layer). With several \
            layers the ACPA weights are drawn layer 4 first, as finetune draws them. Limits: C \
            <= \(MaskerLimits.maximumChannels), H and W <= \(MaskerLimits.maximumSide), at most \
            \(MaskerLimits.maximumMaskValues) values per mask.
            """)

    @Option(help: "Amplitude-phase masker: m (one mask per channel), s (one shared mask), none.")
    var apm: APMChoice = .m

    @Flag(inversion: .prefixedNo, help: "Include adaptive channel phase attention.")
    var acpa = true

    @Option(name: .customLong("for"), help: ArgumentHelp("The model the masker is for; its taps give the shapes. " + ModelSource.help))
    var model: String?

    @Option(name: [.customLong("slot"), .customLong("slots")], help: "Tap group(s) the masker serves: layer2, layer3 or layer4, comma-separated for several in one file (keys layer3.apm.*, ...). (default: layer4)")
    var slot: String?

    @Option(parsing: .unconditional, help: "With --for: side of the square network input (16 to \(HSNet.maximumImageSize)). (default: 400)")
    var imageSize: Int?

    @Option(parsing: .unconditional, help: "Feature channels C (without --for).")
    var channels: Int?

    @Option(parsing: .unconditional, help: "Feature height H (without --for).")
    var height: Int?

    @Option(parsing: .unconditional, help: "Feature width W (without --for).")
    var width: Int?

    @Option(parsing: .unconditional, help: "Seed of the generator that draws the ACPA weights.")
    var seed: UInt64 = 0

    @Option(help: "Masker file to write (.safetensors).")
    var output: String

    func validate() throws {
        guard apm != .none || acpa else {
            throw ValidationError("nothing to write: --apm none with --no-acpa")
        }
        let layers = try MaskerSlots.layers(slot)
        if let model {
            guard channels == nil, height == nil, width == nil else {
                throw ValidationError("--for \(model) gives the shapes; drop --channels, --height and --width")
            }
            _ = try BuiltinModel.named(model)
            try HSNet.checkImageSize(imageSize ?? 400)
        } else {
            guard let channels, let height, let width else {
                throw ValidationError("give --for CHECKPOINT (shapes from the model) or all of --channels, --height and --width")
            }
            guard imageSize == nil else { throw ValidationError("--image-size applies with --for only") }
            guard layers.count == 1 else {
                throw ValidationError("--channels, --height and --width describe one layer, --slot names \(layers.count): give --for CHECKPOINT for several")
            }
            try MaskerLimits.check(channels: channels, height: height, width: width, perChannel: apm == .m,
                                   amplitudePhase: apm != .none)
        }
        try OutputFormat.safetensors.check(output, option: "--output")
    }

    func run() throws {
        var check = OutputCheck()
        check.output("--output", output)
        if let model { check.model(checkpoint: model, backboneWeights: nil) }
        try check.prepare()
        let layers = try MaskerSlots.layers(slot)
        let variant: AmplitudePhaseMasker.Variant? = apm == .none ? nil : apm == .m ? .perChannel : .shared
        var state: MaskerState
        var metadata = ["created_by": "cdfss \(CDFSS.version) masker init", "seed": String(seed),
                        "generator": SeededGenerator.algorithm]
        if let model {
            let network = try ModelSource.load(checkpoint: model, backboneWeights: nil)
            let size = imageSize ?? 400
            try network.checkImageSize(size)
            state = try network.freshFrequencyMaskers(layers: layers, amplitudePhase: variant, channelAttention: acpa,
                                                      imageSize: size, seed: seed)
            metadata["for"] = model
            metadata["image_size"] = String(size)
            for layer in layers {
                let plane = network.featureSize(layer: layer, imageHeight: size, imageWidth: size)
                metadata[MaskerState.layerPrefix(layer) + "feature_shape"] = "[N, \(network.tapChannels(layer: layer)), \(plane.height), \(plane.width)]"
            }
        } else {
            let (channels, height, width) = (channels!, height!, width!)
            var generator = SeededGenerator(seed: seed)
            state = MaskerState(layers: [layers[0]: MaskerState.LayerMaskers(
                amplitudePhase: variant.map { AmplitudePhaseMasker(variant: $0, channels: channels, height: height, width: width) },
                channelAttention: acpa ? ChannelPhaseAttention(channels: channels, generator: &generator) : nil)])
            metadata[MaskerState.layerPrefix(layers[0]) + "feature_shape"] = "[N, \(channels), \(height), \(width)]"
        }
        state.metadata = metadata
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

    @Option(help: "The layer whose maskers to apply, for a file with several: layer2, layer3 or layer4. (default: the file's only layer)")
    var slot: String?

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
        let file = try MaskerState.read(URL(fileURLWithPath: masker))
        let layer = try chosenLayer(of: file, slot: slot, file: masker)
        let state = MaskerState(layers: [layer: file[layer: layer]])
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
                let prefix = MaskerState.layerPrefix(layer)
                    + (plugin is AmplitudePhaseMasker ? MaskerState.amplitudePrefix : MaskerState.attentionPrefix)
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

    @Option(help: "The layer to describe and draw, for a file with several: layer2, layer3 or layer4. (default: layer 4 if the file has it, else its finest)")
    var slot: String?

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
        let whole = try MaskerState.read(URL(fileURLWithPath: file))
        let layer = try chosenLayer(of: whole, slot: slot, file: file, preferring: 4)
        // The statistics and pictures describe one layer's maskers (with the file's metadata).
        let state = MaskerState(layers: [4: whole[layer: layer]], metadata: whole.metadata)
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
                try model.installFrequencyMaskers(amplitudePhase: state.amplitudePhase, channelAttention: attention, layer: layer,
                                                  imageSize: imageSize)
            } catch let error as InputError {
                throw InputError("\(file): \(error.message)")
            }
            let input = imageTensor(try RGBImage(contentsOf: URL(fileURLWithPath: image)), size: imageSize)
            let picture = try MaskerPictures.attentionHistogram(model: model, attention: attention, image: input,
                                                                pictureName: URL(fileURLWithPath: image).lastPathComponent, layer: layer)
            try outputs.stage(PNGWriter.encode(picture), to: URL(fileURLWithPath: attentionPng))
        }
        try outputs.commit()
        let summary = MaskerSummary(state)
        if json {
            print(try summary.json())
        } else {
            print("\(file): \(describe(whole))" + (whole.layerNumbers.count > 1 ? "; layer \(layer) below" : ""))
            print(summary.text, terminator: "")
            if let png { print("factors (amplitude | phase): \(png)") }
            if let attentionPng { print("channel attention weights: \(attentionPng)") }
        }
    }
}

/// "apm-m [1, 2048, 13, 13] + acpa(2048)" for layer-4 maskers; other layers' parts are named
/// with their layer ("layer3 apm-m [1, 1024, 25, 25] + layer3 acpa(1024) + ...").
func describe(_ state: MaskerState) -> String {
    var parts: [String] = []
    for layer in state.layerNumbers {
        let label = layer == 4 && state.layerNumbers == [4] ? "" : "layer\(layer) "
        if let apm = state[layer: layer].amplitudePhase { parts.append("\(label)\(apm.kind) \(apm.maskAmplitude.shapeDescription)") }
        if let acpa = state[layer: layer].channelAttention { parts.append("\(label)acpa(\(acpa.channels))") }
    }
    return parts.joined(separator: " + ")
}

/// The layer of `state` that `slot` (`layer3`) names; without it the file's only layer, or
/// `preferring` when the file has it, else its finest.
func chosenLayer(of state: MaskerState, slot: String?, file: String, preferring: Int? = nil) throws -> Int {
    if let slot {
        let layers = try HSNet.maskerLayers(slot, option: "--slot")
        guard layers.count == 1 else { throw InputError("--slot \(slot): name one layer") }
        guard state.layerNumbers.contains(layers[0]) else {
            throw InputError("--slot \(slot): \(file) has maskers on \(MaskerSlots.names(state.layerNumbers)) only")
        }
        return layers[0]
    }
    if state.layerNumbers.count == 1 { return state.layerNumbers[0] }
    if let preferring, state.layerNumbers.contains(preferring) { return preferring }
    guard preferring != nil else {
        throw InputError("\(file) has maskers on \(MaskerSlots.names(state.layerNumbers)): say which with --slot")
    }
    return state.layerNumbers[0]
}
