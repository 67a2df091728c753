import ArgumentParser
import Foundation
import FreqMask
import HSNetCore
import Imaging
import TensorCore

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Segment a query picture from one or more annotated support pictures with HSNet.",
        discussion: """
            Each support image/mask pair is one shot; with several shots the per-shot masks \
            vote and a pixel is foreground when it gets at least half of the top vote. The \
            pictures are resized to --image-size for the network, and the mask is written at \
            the query picture's own size (0 background, 255 foreground).

            The checkpoint is an HSNet state dict (.pt/.pth from PyTorch, or .safetensors). \
            Without backbone.* entries, give torchvision's ResNet-50 ImageNet weights with \
            --backbone-weights. Frequency maskers (apm.*, acpa.*) in the checkpoint are used \
            unless --no-masker; --masker takes them from a masker file instead.
            """)

    @Option(help: ArgumentHelp(ModelSource.help))
    var checkpoint: String

    @Option(help: "ResNet-50 state dict for the backbone (torchvision's resnet50 .pth), when the checkpoint has none.")
    var backboneWeights: String?

    @Option(help: "Masker file (.safetensors, from `cdfss masker` or fine-tuning) to plug into layer 4; wins over the checkpoint's.")
    var masker: String?

    @Flag(help: "Ignore the maskers stored in the checkpoint (plain HSNet).")
    var noMasker = false

    @Option(help: "Query picture (PNG, JPEG or TIFF).")
    var query: String

    @Option(name: .customLong("support"), help: "Support picture; repeat for several shots.")
    var supports: [String]

    @Option(name: .customLong("support-mask"), help: "Mask of the support picture at the same position (>= 128 is foreground; a mask without foreground is an error).")
    var supportMasks: [String]

    @Option(parsing: .unconditional, help: "Side of the square network input (16 to \(HSNet.maximumImageSize)).")
    var imageSize = 400

    @Option(help: "Where to write the predicted mask (PNG, 0/255, at the query picture's size).")
    var output: String?

    @Option(help: "Write each shot's logits at network resolution, float32 [K, 2, S, S] (.npy).")
    var logits: String?

    @Option(help: "Write the query picture with the predicted mask tinted over it (PNG).")
    var overlay: String?

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        guard !supports.isEmpty else { throw ValidationError("give at least one --support picture") }
        guard supports.count == supportMasks.count else {
            throw ValidationError("\(supports.count) --support pictures but \(supportMasks.count) --support-mask files: give one mask per picture")
        }
        guard !(noMasker && masker != nil) else { throw ValidationError("--no-masker and --masker exclude each other") }
        guard output != nil || logits != nil || overlay != nil else {
            throw ValidationError("nothing to write: give --output, --logits or --overlay")
        }
        try HSNet.checkImageSize(imageSize)
        _ = try BuiltinModel.named(checkpoint)
        if let output { try OutputFormat.png.check(output, option: "--output") }
        if let overlay { try OutputFormat.png.check(overlay, option: "--overlay") }
        if let logits { try OutputFormat.npy.check(logits, option: "--logits") }
    }

    func run() throws {
        var check = OutputCheck()
        check.output("--output", output)
        check.output("--logits", logits)
        check.output("--overlay", overlay)
        check.model(checkpoint: checkpoint, backboneWeights: backboneWeights)
        check.input("--masker", masker)
        check.input("--query", query)
        check.inputs("--support", supports)
        check.inputs("--support-mask", supportMasks)
        try check.prepare()

        let model = try ModelSource.load(checkpoint: checkpoint, backboneWeights: backboneWeights)
        let maskerDescription = try MaskerChoice(masker: masker, noMasker: noMasker)
            .install(into: model, checkpoint: checkpoint, imageSize: imageSize).description

        let started = Date()
        let prediction = try model.predict(queryFile: URL(fileURLWithPath: query),
                                           supportFiles: supports.map { URL(fileURLWithPath: $0) },
                                           supportMaskFiles: supportMasks.map { URL(fileURLWithPath: $0) },
                                           imageSize: imageSize, keepingNetworkLogits: logits != nil)
        let seconds = Date().timeIntervalSince(started)
        // All or none: the files appear together once each one is written.
        let outputs = StagedOutputs()
        if let output { try outputs.stage(PNGWriter.encode(visibleMask(prediction.mask)), to: URL(fileURLWithPath: output)) }
        if let logits, let networkLogits = prediction.networkLogits {
            try outputs.stage(NumPyArray.encode(networkLogits), to: URL(fileURLWithPath: logits))
        }
        if let overlay {
            let picture = try RGBImage(contentsOf: URL(fileURLWithPath: query))
            try outputs.stage(PNGWriter.encode(Imaging.overlay(image: picture, mask: prediction.mask)), to: URL(fileURLWithPath: overlay))
        }
        try outputs.commit()

        if json {
            let summary: [String: Any] = [
                "query": query, "shots": prediction.shots, "image_size": imageSize, "maskers": maskerDescription,
                "mask": output ?? NSNull(), "logits": logits ?? NSNull(), "overlay": overlay ?? NSNull(), "width": prediction.mask.width, "height": prediction.mask.height,
                "foreground_fraction": prediction.foregroundFraction,
                "shot_foreground_fractions": prediction.shotForegroundFractions, "seconds": seconds,
            ]
            let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            let written = [output, logits, overlay].compactMap { $0 }.joined(separator: ", ")
            print("wrote \(written): \(prediction.mask.width) x \(prediction.mask.height), "
                + String(format: "%.2f%% foreground", 100 * prediction.foregroundFraction)
                + " (\(prediction.shots) shot\(prediction.shots == 1 ? "" : "s"), maskers \(maskerDescription), "
                + String(format: "%.2f s)", seconds))
        }
    }
}
