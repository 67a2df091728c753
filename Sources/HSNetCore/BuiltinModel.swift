import Foundation
import TensorCore

/// The models a `--checkpoint` may name instead of a file. `builtin:` is reserved for them,
/// so that a misspelt name is an error that lists the real ones rather than "file not found".
public enum BuiltinModel: String, CaseIterable, Sendable {
    /// HSNet with deterministic pseudo-random weights (`HSNet.withDeterministicWeights()`):
    /// needs no download, shows that every step runs and how fast, never what HSNet can do.
    case deterministic = "builtin:deterministic"
    /// The same with HSNet's VGG-16 backbone (`HSNet.withDeterministicWeights(backbone: .vgg16)`).
    case deterministicVGG16 = "builtin:deterministic-vgg16"
    /// The demo model: the deterministic backbone with a learner trained by `cdfss train` on
    /// the synthetic `source` style (4 of its 6 classes, 250 Adam steps at 200 x 200;
    /// `scripts/demo-model.sh` reproduces it). It segments source-style pictures; what it does
    /// on other styles is what `cdfss demo` shows.
    case demo = "builtin:demo"

    public static let prefix = "builtin:"

    /// The built-in model `name` names, nil when `name` does not start with `builtin:` (it is
    /// then a file), and an error naming the built-in models when it does but none matches.
    public static func named(_ name: String) throws -> BuiltinModel? {
        guard name.hasPrefix(prefix) else { return nil }
        guard let model = BuiltinModel(rawValue: name) else {
            throw InputError("--checkpoint \(name): there is no such built-in model; the built-in models are \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return model
    }

    public func load() throws -> HSNet {
        switch self {
        case .deterministic: return try HSNet.withDeterministicWeights()
        case .deterministicVGG16: return try HSNet.withDeterministicWeights(backbone: .vgg16)
        case .demo:
            let model = try HSNet.withDeterministicWeights()
            model.learner = try HPNLearner(stateDict: try Self.demoLearnerStateDict(), source: "the demo model")
            return model
        }
    }

    /// The demo model's learner as shipped (`hpn_learner.*`).
    public static func demoLearnerStateDict() throws -> [(name: String, tensor: Tensor)] {
        guard let url = Bundle.module.url(forResource: "demo-learner", withExtension: "safetensors") else {
            throw InputError("the demo model's learner (demo-learner.safetensors) is missing from this build")
        }
        return try HSNet.readStateDict(url)
    }
}
