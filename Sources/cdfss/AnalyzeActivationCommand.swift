import ArgumentParser
import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import HSNetCore
import Imaging
import TensorCore

struct AnalyzeActivationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activation",
        abstract: "Picture of a tap's channel mean over a picture, before and after the plug-ins.",
        discussion: """
            The channel mean of the tap is upsampled (bilinear) to the picture and drawn over \
            it, without and with the model's query plug-ins side by side on one colour scale. \
            A tap whose layer has no plug-in is drawn once.
            """)

    @OptionGroup var model: AnalysisModelOptions

    @Option(help: "The picture (PNG, JPEG or TIFF).")
    var image: String

    @Option(help: "The tap to draw (layer2.0 .. layer4.2; by default the last: layer4.2 of a ResNet, layer4.0 of VGG-16).")
    var tap: String?

    @Option(help: "Where to write the picture (PNG).")
    var output: String

    @Option(help: "Also write a self-contained HTML report here (the picture with its settings).")
    var html: String?

    func validate() throws {
        try HSNet.checkImageSize(model.imageSize)
        try OutputFormat.png.check(output, option: "--output")
        if let tap { _ = try BackboneTaps.anyBackbone.index(of: tap) }
        if let html { try OutputFormat.html.check(html, option: "--html") }
    }

    func run() throws {
        var check = OutputCheck()
        check.output("--output", output)
        check.output("--html", html)
        check.input("--image", image)
        check.model(checkpoint: model.checkpoint, backboneWeights: model.backboneWeights)
        check.input("--masker", model.masker)
        try check.prepare()
        let picture = try RGBImage(contentsOf: URL(fileURLWithPath: image))
        let network = try ModelSource.load(checkpoint: model.checkpoint, backboneWeights: model.backboneWeights)
        try network.checkImageSize(model.imageSize)
        let maskers = try MaskerChoice(masker: model.masker, noMasker: model.noMasker)
            .install(into: network, checkpoint: model.checkpoint, imageSize: model.imageSize)
        let tapName = tap ?? BackboneTaps(of: network).names.last!
        let index = try BackboneTaps(of: network).index(of: tapName)
        let taps = network.features(of: imageTensor(picture, size: model.imageSize))
        let layer = network.backbone.tapLayers[index]
        let hasPlugins = PluginSlot.Stage.allCases.contains { !network.plugins[try! PluginSlot(layer: layer, role: .query, stage: $0)].isEmpty }
        let with = hasPlugins ? try network.queryFeatures(fromTaps: taps)[index] : nil
        let figure = DiagnosticPictures.activation(picture: picture, tapName: tapName, without: taps[index], with: with)
        let outputs = StagedOutputs()
        try outputs.stage(PNGWriter.encode(figure), to: URL(fileURLWithPath: output))
        if let html {
            let configuration: [(key: String, value: String)] = [
                ("checkpoint", model.checkpoint), ("maskers", maskers.description), ("picture", image),
                ("image size", "\(model.imageSize) x \(model.imageSize)"), ("tap", tapName), ("PNG", output),
            ]
            try DiagnosticPages.activation(figure, tap: tapName, configuration: configuration, generator: "cdfss \(CDFSS.version) analyze activation")
                .stage(to: URL(fileURLWithPath: html), in: outputs)
        }
        try outputs.commit()
        print("wrote \(output): \(tapName) channel mean \(hasPlugins ? "without and with" : "without") plug-ins (maskers \(maskers.description))")
    }
}
