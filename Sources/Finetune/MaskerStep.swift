import Datasets
import Evaluation
import FreqMask
import HSNetCore
import TensorCore

extension HSNet {
    /// The parameters of the installed plug-ins under the names `maskerLossAndGradients` gives
    /// their gradients: `<state-dict prefix>.<parameter>` (`apm.mask_amplitude`,
    /// `acpa.phase_attn.0.weight`). Each plug-in object counts once, however many slots hold it.
    public func maskerParameters() throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (prefix, plugin) in try pluginsByPrefix() {
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
        let plugins = try pluginsByPrefix()
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
        for (prefix, plugin) in try pluginsByPrefix() {
            for (name, _) in plugin.parameters { owners[prefix + "." + name] = (plugin, name) }
        }
        for (fullName, value) in parameters.sorted(by: { $0.key < $1.key }) {
            guard let owner = owners[fullName] else {
                throw InputError("no installed plug-in has a parameter \(fullName) (parameters: \(owners.keys.sorted().joined(separator: ", ")))")
            }
            try owner.plugin.setParameter(owner.name, to: value)
        }
    }

    /// The distinct installed plug-ins keyed by their state-dict prefix; two plug-ins with the
    /// same prefix would make gradient names ambiguous.
    func pluginsByPrefix() throws -> [(prefix: String, plugin: FeaturePlugin)] {
        var seen: [String: FeaturePlugin] = [:]
        var result: [(prefix: String, plugin: FeaturePlugin)] = []
        for plugin in plugins.distinctPlugins {
            let prefix = Self.stateDictPrefix(of: plugin)
            guard seen[prefix] == nil else {
                throw InputError("two installed plug-ins share the parameter prefix \"\(prefix)\"; their parameters cannot be told apart")
            }
            seen[prefix] = plugin
            result.append((prefix, plugin))
        }
        return result
    }
}
