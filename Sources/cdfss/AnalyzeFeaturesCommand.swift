import ArgumentParser
import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import HSNetCore
import Imaging
import TensorCore

struct AnalyzeFeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Write a picture's backbone taps, before and after the plug-ins, as .npy files.",
        discussion: """
            Files in --out, float32: query.TAP.npy (the backbone tap [1, C, H, W]) and \
            query.TAP.plugins.npy (after the .query and .query.masked plug-ins). With \
            --support and --support-mask also support.TAP.npy, support.TAP.masked.npy (after \
            the .support plug-ins, the masking and the .support.masked plug-ins) and the \
            correlation pyramids corr.layer4.npy, corr.layer3.npy, corr.layer2.npy \
            [1, taps, Hq, Wq, Hs, Ws], as HSNet correlates them.
            """)

    @OptionGroup var model: AnalysisModelOptions

    @Option(help: "The picture (PNG, JPEG or TIFF), taken as the query.")
    var image: String

    @Option(help: "A support picture, for the masked support taps and the correlations.")
    var support: String?

    @Option(help: "The support picture's mask (>= 128 is foreground).")
    var supportMask: String?

    @Option(help: "Taps to write: names (layer4.0), layers (layer4) or all.")
    var taps = "all"

    @Option(help: "Folder to write into, created if missing.")
    var out: String

    @Option(help: "Also write a self-contained HTML report here (the arrays written with their shapes and statistics).")
    var html: String?

    func validate() throws {
        guard (support == nil) == (supportMask == nil) else { throw ValidationError("--support and --support-mask go together") }
        try HSNet.checkImageSize(model.imageSize)
        _ = try BackboneTaps.anyBackbone.parse(taps)
        if let html { try OutputFormat.html.check(html, option: "--html") }
    }

    func run() throws {
        var check = OutputCheck()
        check.outputFolder("--out", out)
        check.output("--html", html)
        check.model(checkpoint: model.checkpoint, backboneWeights: model.backboneWeights)
        check.input("--masker", model.masker)
        check.input("--image", image)
        check.input("--support", support)
        check.input("--support-mask", supportMask)
        try check.prepare()
        // The arrays appear together at the end, or not at all.
        let outputs = StagedOutputs()
        try outputs.createFolder(URL(fileURLWithPath: out), option: "--out")
        let size = model.imageSize
        let query = imageTensor(try RGBImage(contentsOf: URL(fileURLWithPath: image)), size: size)
        let supportInput = try support.map { path in
            try AdaptationImage.load(image: path, mask: supportMask!, size: size)
        }
        if let supportInput, supportInput.hasEmptyMask {
            throw InputError("\(supportMask!): the mask has no foreground at \(size) x \(size); a support needs some")
        }
        let network = try ModelSource.load(checkpoint: model.checkpoint, backboneWeights: model.backboneWeights)
        try network.checkImageSize(model.imageSize)
        let maskers = try MaskerChoice(masker: model.masker, noMasker: model.noMasker)
            .install(into: network, checkpoint: model.checkpoint, imageSize: size)
        let tapIndices = try BackboneTaps(of: network).parse(taps)
        let tensors = try FeatureExport.tensors(model: network, query: query, taps: tapIndices,
                                                support: supportInput.map { ($0.image, $0.mask) })
        let folder = URL(fileURLWithPath: out)
        for (name, tensor) in tensors { try outputs.stage(NumPyArray.encode(tensor), to: folder.appendingPathComponent(name + ".npy")) }
        if let html {
            var configuration: [(key: String, value: String)] = [
                ("checkpoint", model.checkpoint), ("maskers", maskers.description), ("picture (query)", image),
                ("image size", "\(size) x \(size)"), ("taps", taps), ("folder", out),
            ]
            if let support { configuration.append(("support", "\(support) (mask \(supportMask!))")) }
            try DiagnosticPages.features(tensors, configuration: configuration, generator: "cdfss \(CDFSS.version) analyze features")
                .stage(to: URL(fileURLWithPath: html), in: outputs)
        }
        try outputs.commit()
        print("wrote \(tensors.count) arrays to \(out) (maskers \(maskers.description)): "
            + tensors.map { "\($0.name) \($0.tensor.shapeDescription)" }.joined(separator: ", "))
    }
}
