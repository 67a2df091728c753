import Datasets
import Evaluation
import FreqMask
import HSNetCore
import TensorCore

extension HSNet {
    /// The parameters of the installed plug-ins under the names `maskerLossAndGradients` gives
    /// their gradients: `<prefix>.<parameter>` (`apm.mask_amplitude`, `acpa.phase_attn.0.weight`
    /// on layer 4, `layer3.apm.mask_phase` on layer 3; `pluginsByParameterPrefix()`). Each
    /// plug-in object counts once, however many slots hold it.
    public func maskerParameters() throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (prefix, plugin) in try pluginsByParameterPrefix() {
            for (name, value) in plugin.parameters { result[prefix + "." + name] = value }
        }
        return result
    }

    /// One optimiser step on the installed plug-ins: reads their parameters, updates them with
    /// `gradients` (named as `maskerLossAndGradients` names them; every parameter needs one)
    /// and writes them back with `setParameter`. Bad input (an unknown name, a missing
    /// gradient, a shape mismatch) throws before anything changes.
    public func applyMaskerStep<O: Optimizer>(_ optimizer: inout O, gradients: [String: Tensor],
                                              learningRate: Double) throws {
        let plugins = try pluginsByParameterPrefix()
        var parameters: [String: Tensor] = [:]
        var owners: [String: (plugin: FeaturePlugin, name: String)] = [:]
        for (prefix, plugin) in plugins {
            for (name, value) in plugin.parameters {
                parameters[prefix + "." + name] = value
                owners[prefix + "." + name] = (plugin, name)
            }
        }
        if let unknown = gradients.keys.sorted().first(where: { owners[$0] == nil }) {
            throw InputError("gradient for \(unknown), which no installed plug-in has (parameters: \(owners.keys.sorted().joined(separator: ", ")))")
        }
        try optimizer.step(&parameters, gradients: gradients, learningRate: learningRate)
        for (fullName, value) in parameters {
            let owner = owners[fullName]!
            try owner.plugin.setParameter(owner.name, to: value)
        }
    }

    /// Writes `parameters` (named as `maskerParameters()` names them) back into the installed
    /// plug-ins; every name must belong to one.
    public func setMaskerParameters(_ parameters: [String: Tensor]) throws {
        var owners: [String: (plugin: FeaturePlugin, name: String)] = [:]
        for (prefix, plugin) in try pluginsByParameterPrefix() {
            for (name, _) in plugin.parameters { owners[prefix + "." + name] = (plugin, name) }
        }
        for (fullName, value) in parameters.sorted(by: { $0.key < $1.key }) {
            guard let owner = owners[fullName] else {
                throw InputError("no installed plug-in has a parameter \(fullName) (parameters: \(owners.keys.sorted().joined(separator: ", ")))")
            }
            try owner.plugin.setParameter(owner.name, to: value)
        }
    }
}
