import TensorCore

/// A feature-to-feature plug-in: takes a [N, C, H, W] feature map and returns one of the same
/// shape, with a backward pass. The amplitude-phase masker and channel phase attention are
/// plug-ins; a model exposes named slots that hold any number of them, so new plug-ins fit
/// without the model knowing them.
public protocol FeaturePlugin: AnyObject {
    /// A short name for logs and reports ("apm-m", "acpa").
    var kind: String { get }

    /// The trainable parameters, named as in the PyTorch state_dict relative to the plug-in
    /// (for example `mask_amplitude`, `phase_attn.0.weight`).
    var parameters: [(name: String, value: Tensor)] { get }

    /// Replaces a parameter; throws an `InputError` naming the parameter and both shapes
    /// when the shape differs.
    func setParameter(_ name: String, to value: Tensor) throws

    /// Inference: `y = f(x)`. Throws an `InputError` when `x` does not fit the plug-in
    /// (the message says which shape was expected).
    func callAsFunction(_ x: Tensor) throws -> Tensor

    /// Training forward: `y` and what `backward` needs.
    func forwardForTraining(_ x: Tensor) throws -> (output: Tensor, tape: PluginTape)

    /// Returns the gradient for the input and adds each parameter's gradient into
    /// `parameterGradients` under the parameter's name (creating it when absent).
    func backward(_ gradOutput: Tensor, tape: PluginTape,
                  parameterGradients: inout [String: Tensor]) -> Tensor
}

/// What a plug-in's training forward keeps for its backward. Opaque to the model.
public protocol PluginTape {}
