import TensorCore

/// The models cdfss runs, and the recognisable checkpoints of those it does not: torchvision's
/// VGG-16 with BatchNorm (`vgg16_bn`, whose `features.*` indices differ from VGG-16's) is no
/// backbone HSNet publishes, and PATNet is published (and run here) with ResNets only. Without
/// this check such a file would fail with a list of hundreds of missing names. PATNet (HSNet
/// with `reference_layer1..3`) is run: `HSNet.prototypeTransformation`.
public enum SupportedModels {
    /// How the refusal names the supported models.
    public static let description = "HSNet with a \(BackboneKind.namesList) backbone, or PATNet with a ResNet-50 or ResNet-101 backbone"

    /// The unsupported model whose parameters `names` hold, if one is recognised.
    public static func unsupportedModel(in names: [String]) -> String? {
        if names.contains(where: { ($0.hasPrefix("backbone.features.") || $0.hasPrefix("features.")) && $0.hasSuffix(".running_mean") }) {
            return "a VGG backbone with BatchNorm (vgg16_bn)"
        }
        if isPATNet(names), names.contains(where: { $0.hasPrefix("backbone.features.") }) {
            return "PATNet with a VGG-16 backbone"
        }
        return nil
    }

    /// Throws one line naming the model `names` belong to and the models cdfss supports.
    public static func check(_ names: [String], source: String) throws {
        if let model = unsupportedModel(in: names) {
            throw InputError("\(source): holds \(model), which cdfss does not run; cdfss supports \(description)")
        }
    }
}

extension SupportedModels {
    /// How cdfss can use a checkpoint with these parameter names, for `cdfss inspect`: as the
    /// model, as the learner beside a backbone file, as the backbone file, or not at all.
    public static func use(of names: [String]) -> String {
        if let model = unsupportedModel(in: names) {
            return "no: it holds \(model); cdfss supports \(description)"
        }
        let hasLearner = names.contains { $0.hasPrefix("hpn_learner.") }
        if hasLearner, names.contains(where: { $0.hasPrefix("backbone.") }) {
            let kind = BackboneKind.recognised(in: names, prefix: "backbone.").name
            if isPATNet(names) { return "yes: PATNet (\(kind))" }
            return "yes: HSNet with a \(kind) backbone"
        }
        if hasLearner {
            return "as --checkpoint with --backbone-weights (the learner alone)"
        }
        if names.contains("layer1.0.conv1.weight") || names.contains("features.0.weight") {
            return "as --backbone-weights (a \(BackboneKind.recognised(in: names, prefix: "").name))"
        }
        return "no: cdfss supports \(description)"
    }
}

extension SupportedModels {
    /// PATNet's checkpoints add `reference_layer1..3` to HSNet's (DataParallel's `module.`
    /// already removed by the reader).
    public static func isPATNet(_ names: [String]) -> Bool {
        names.contains { $0.hasPrefix("reference_layer") }
    }
}
