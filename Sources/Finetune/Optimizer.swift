import Datasets
import Evaluation
import Foundation
import TensorCore

/// A first-order optimiser over named parameters, with the update rules of `torch.optim`
/// (single-tensor path, float32 arithmetic per element, scalars such as bias corrections
/// computed in double precision as Python does).
///
/// The learning rate is given to every step (a `LearningRateSchedule` supplies it), so the
/// optimiser holds only its hyperparameters and its running state. The first step fixes the
/// set of parameter names and shapes; later steps must present the same set, each with a
/// gradient of the same shape.
public protocol Optimizer {
    /// The number of steps taken (torch's `state["step"]`; the same for every parameter here).
    var stepCount: Int { get }

    /// One update: `parameters` and `gradients` must have the same names and shapes.
    mutating func step(_ parameters: inout [String: Tensor], gradients: [String: Tensor], learningRate: Double) throws

    /// Everything needed to continue exactly where this optimiser stands.
    var state: OptimizerState { get }
    init(state: OptimizerState) throws
}

/// An optimiser's state as tensors plus scalars, for checkpoints that resume a run exactly.
///
/// Tensors are named `<buffer>.<parameter>` with torch's buffer names (`exp_avg`,
/// `exp_avg_sq`, `momentum_buffer`); scalars hold the hyperparameters and the step count.
public struct OptimizerState: Equatable {
    /// `adam` or `sgd`.
    public var algorithm: String
    public var stepCount: Int
    public var hyperparameters: [String: Double]
    public var tensors: [String: Tensor]

    public init(algorithm: String, stepCount: Int, hyperparameters: [String: Double], tensors: [String: Tensor]) {
        self.algorithm = algorithm
        self.stepCount = stepCount
        self.hyperparameters = hyperparameters
        self.tensors = tensors
    }

    /// The scalars as strings, for safetensors metadata (keys prefixed `optimizer.`). Doubles
    /// are written in Swift's shortest round-trip form, so reading them back is exact.
    public var metadata: [String: String] {
        var entries = ["optimizer.algorithm": algorithm, "optimizer.step": String(stepCount)]
        for (name, value) in hyperparameters { entries["optimizer." + name] = "\(value)" }
        return entries
    }

    /// Rebuilds a state from `metadata` (other keys are ignored) and the buffer tensors.
    public init(metadata: [String: String], tensors: [String: Tensor]) throws {
        guard let algorithm = metadata["optimizer.algorithm"] else {
            throw InputError("optimizer state: no optimizer.algorithm entry in the metadata")
        }
        guard let stepText = metadata["optimizer.step"], let step = Int(stepText), step >= 0 else {
            throw InputError("optimizer state: optimizer.step is \(metadata["optimizer.step"] ?? "missing"), expected a count >= 0")
        }
        var hyperparameters: [String: Double] = [:]
        for (key, text) in metadata where key.hasPrefix("optimizer.") && key != "optimizer.algorithm" && key != "optimizer.step" {
            guard let value = Double(text) else {
                throw InputError("optimizer state: \(key) is \"\(text)\", expected a number")
            }
            hyperparameters[String(key.dropFirst("optimizer.".count))] = value
        }
        self.init(algorithm: algorithm, stepCount: step, hyperparameters: hyperparameters, tensors: tensors)
    }

    func hyperparameter(_ name: String) throws -> Double {
        guard let value = hyperparameters[name] else {
            throw InputError("\(algorithm) optimizer state has no \(name)")
        }
        return value
    }

    /// The parameter names of the buffers called `buffer`, with their tensors.
    func buffers(_ buffer: String) -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (key, value) in tensors where key.hasPrefix(buffer + ".") {
            result[String(key.dropFirst(buffer.count + 1))] = value
        }
        return result
    }
}

/// Checks that `gradients` fits `parameters` (same names, same shapes) and, after the first
/// step, that the names and shapes are those of the optimiser's buffers (`known`).
func checkStepInput(_ parameters: [String: Tensor], _ gradients: [String: Tensor], known: [String: [Int]]?,
                    learningRate: Double) throws {
    guard learningRate.isFinite, learningRate >= 0 else {
        throw InputError("learning rate \(learningRate): expected a finite value >= 0")
    }
    if let name = gradients.keys.sorted().first(where: { parameters[$0] == nil }) {
        throw InputError("gradient for unknown parameter \(name) (parameters: \(parameters.keys.sorted().joined(separator: ", ")))")
    }
    if let name = parameters.keys.sorted().first(where: { gradients[$0] == nil }) {
        throw InputError("no gradient for parameter \(name)")
    }
    for name in parameters.keys.sorted() {
        let (p, g) = (parameters[name]!, gradients[name]!)
        guard p.shape == g.shape else {
            throw InputError("gradient for \(name) has shape \(g.shapeDescription), the parameter \(p.shapeDescription)")
        }
    }
    guard let known else { return }
    if let name = parameters.keys.sorted().first(where: { known[$0] == nil }) {
        throw InputError("parameter \(name) is new to the optimizer (it holds state for \(known.keys.sorted().joined(separator: ", ")))")
    }
    if let name = known.keys.sorted().first(where: { parameters[$0] == nil }) {
        throw InputError("parameter \(name) is missing (the optimizer holds state for it)")
    }
    for (name, shape) in known where shape != parameters[name]!.shape {
        throw InputError("parameter \(name) has shape \(parameters[name]!.shapeDescription), the optimizer state [\(shape.map(String.init).joined(separator: ", "))]")
    }
}

func checkHyperparameter(_ name: String, _ value: Double, _ range: ClosedRange<Double>, open: Bool = false) throws {
    guard value.isFinite, range.contains(value), !(open && value == range.upperBound) else {
        throw InputError("\(name) \(value): expected a value in \(range.lowerBound)...\(range.upperBound)\(open ? " (upper end excluded)" : "")")
    }
}

// MARK: - Adam

/// `torch.optim.Adam` (no AMSGrad, not decoupled): with `g = grad + weightDecay * param`,
///
///     m = m + (1 - beta1) (g - m)            (torch's lerp)
///     v = beta2 v + (1 - beta2) g^2
///     param = param - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
///
/// with the step number t counted from 1.
public struct Adam: Optimizer {
    public let beta1: Double
    public let beta2: Double
    public let epsilon: Double
    public let weightDecay: Double
    public private(set) var stepCount = 0
    /// First and second moments (`exp_avg`, `exp_avg_sq`), empty before the first step.
    public private(set) var firstMoments: [String: Tensor] = [:]
    public private(set) var secondMoments: [String: Tensor] = [:]

    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0) throws {
        try checkHyperparameter("Adam beta1", beta1, 0...1, open: true)
        try checkHyperparameter("Adam beta2", beta2, 0...1, open: true)
        try checkHyperparameter("Adam epsilon", epsilon, 0...Double.greatestFiniteMagnitude)
        try checkHyperparameter("Adam weight decay", weightDecay, 0...Double.greatestFiniteMagnitude)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    public mutating func step(_ parameters: inout [String: Tensor], gradients: [String: Tensor], learningRate: Double) throws {
        try checkStepInput(parameters, gradients, known: stepCount == 0 ? nil : firstMoments.mapValues(\.shape), learningRate: learningRate)
        if stepCount == 0 {
            for (name, value) in parameters {
                firstMoments[name] = Tensor(zeros: value.shape)
                secondMoments[name] = Tensor(zeros: value.shape)
            }
        }
        stepCount += 1
        let t = Double(stepCount)
        let stepSize = Float(learningRate / (1 - pow(beta1, t)))
        let correction2 = Float((1 - pow(beta2, t)).squareRoot())
        let (w1, b2, w2) = (Float(1 - beta1), Float(beta2), Float(1 - beta2))
        let (eps, decay) = (Float(epsilon), Float(weightDecay))
        for name in parameters.keys.sorted() {
            let gradient = gradients[name]!
            gradient.withUnsafeBufferPointer { g in
                parameters[name]!.withUnsafeMutableBufferPointer { p in
                    firstMoments[name]!.withUnsafeMutableBufferPointer { m in
                        secondMoments[name]!.withUnsafeMutableBufferPointer { v in
                            Self.update(count: g.count, p: p.baseAddress!, g: g.baseAddress!, m: m.baseAddress!,
                                        v: v.baseAddress!, w1: w1, b2: b2, w2: w2, correction2: correction2,
                                        eps: eps, stepSize: stepSize, decay: decay)
                        }
                    }
                }
            }
        }
    }

    /// The element-wise update, in torch's operation order (each line one rounded float32 op,
    /// no fused multiply-adds: Swift does not contract these expressions).
    @inline(__always)
    static func update(count: Int, p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>,
                       m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                       w1: Float, b2: Float, w2: Float, correction2: Float, eps: Float, stepSize: Float, decay: Float) {
        let negativeStep = -stepSize
        if decay == 0 {
            for i in 0..<count {
                let grad = g[i]
                let mi = m[i] + w1 * (grad - m[i])
                let vi = v[i] * b2 + w2 * (grad * grad)
                m[i] = mi
                v[i] = vi
                p[i] = p[i] + negativeStep * (mi / (vi.squareRoot() / correction2 + eps))
            }
        } else {
            for i in 0..<count {
                let grad = g[i] + decay * p[i]
                let mi = m[i] + w1 * (grad - m[i])
                let vi = v[i] * b2 + w2 * (grad * grad)
                m[i] = mi
                v[i] = vi
                p[i] = p[i] + negativeStep * (mi / (vi.squareRoot() / correction2 + eps))
            }
        }
    }

    public var state: OptimizerState {
        var tensors: [String: Tensor] = [:]
        for (name, value) in firstMoments { tensors["exp_avg." + name] = value }
        for (name, value) in secondMoments { tensors["exp_avg_sq." + name] = value }
        return OptimizerState(algorithm: "adam", stepCount: stepCount,
                              hyperparameters: ["beta1": beta1, "beta2": beta2, "eps": epsilon, "weight_decay": weightDecay],
                              tensors: tensors)
    }

    public init(state: OptimizerState) throws {
        guard state.algorithm == "adam" else {
            throw InputError("optimizer state is for \(state.algorithm), not adam")
        }
        try self.init(beta1: state.hyperparameter("beta1"), beta2: state.hyperparameter("beta2"),
                      epsilon: state.hyperparameter("eps"), weightDecay: state.hyperparameter("weight_decay"))
        let (first, second) = (state.buffers("exp_avg"), state.buffers("exp_avg_sq"))
        if let key = state.tensors.keys.sorted().first(where: { !$0.hasPrefix("exp_avg.") && !$0.hasPrefix("exp_avg_sq.") }) {
            throw InputError("adam optimizer state: unexpected tensor \(key) (expected exp_avg.* and exp_avg_sq.*)")
        }
        guard state.stepCount >= 0 else { throw InputError("adam optimizer state: step count \(state.stepCount) < 0") }
        if state.stepCount == 0 {
            guard first.isEmpty && second.isEmpty else {
                throw InputError("adam optimizer state: moments given for step count 0")
            }
        } else {
            for name in Set(first.keys).union(second.keys).sorted() {
                guard let m = first[name], let v = second[name] else {
                    throw InputError("adam optimizer state: \(name) has \(first[name] == nil ? "no exp_avg" : "no exp_avg_sq")")
                }
                guard m.shape == v.shape else {
                    throw InputError("adam optimizer state: exp_avg.\(name) is \(m.shapeDescription) but exp_avg_sq.\(name) \(v.shapeDescription)")
                }
            }
            guard !first.isEmpty else { throw InputError("adam optimizer state: step count \(state.stepCount) but no moments") }
        }
        stepCount = state.stepCount
        firstMoments = first
        secondMoments = second
    }
}

// MARK: - SGD

/// `torch.optim.SGD` with dampening 0: with `g = grad + weightDecay * param`,
///
///     buf = g                       at the first step
///     buf = momentum * buf + g      afterwards
///     d   = nesterov ? g + momentum * buf : buf        (d = g without momentum)
///     param = param - lr * d
public struct SGD: Optimizer {
    public let momentum: Double
    public let weightDecay: Double
    public let nesterov: Bool
    public private(set) var stepCount = 0
    /// Momentum buffers (`momentum_buffer`), empty before the first step or without momentum.
    public private(set) var momentumBuffers: [String: Tensor] = [:]
    /// The parameter names and shapes fixed by the first step (needed when there are no buffers).
    private var shapes: [String: [Int]] = [:]

    public init(momentum: Double = 0, weightDecay: Double = 0, nesterov: Bool = false) throws {
        try checkHyperparameter("SGD momentum", momentum, 0...Double.greatestFiniteMagnitude)
        try checkHyperparameter("SGD weight decay", weightDecay, 0...Double.greatestFiniteMagnitude)
        guard !nesterov || momentum > 0 else { throw InputError("SGD: Nesterov momentum needs momentum > 0") }
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    public mutating func step(_ parameters: inout [String: Tensor], gradients: [String: Tensor], learningRate: Double) throws {
        try checkStepInput(parameters, gradients, known: stepCount == 0 ? nil : shapes, learningRate: learningRate)
        let first = stepCount == 0
        if first { shapes = parameters.mapValues(\.shape) }
        let (negativeRate, mu, decay) = (Float(-learningRate), Float(momentum), Float(weightDecay))
        for name in parameters.keys.sorted() {
            var direction = gradients[name]!
            if decay != 0 {
                let p = parameters[name]!
                p.withUnsafeBufferPointer { p in
                    direction.withUnsafeMutableBufferPointer { d in
                        for i in 0..<d.count { d[i] = d[i] + decay * p[i] }
                    }
                }
            }
            if mu != 0 {
                if first {
                    momentumBuffers[name] = direction
                } else {
                    direction.withUnsafeBufferPointer { g in
                        momentumBuffers[name]!.withUnsafeMutableBufferPointer { b in
                            for i in 0..<b.count { b[i] = b[i] * mu + g[i] }
                        }
                    }
                }
                if nesterov {
                    momentumBuffers[name]!.withUnsafeBufferPointer { b in
                        direction.withUnsafeMutableBufferPointer { d in
                            for i in 0..<d.count { d[i] = d[i] + mu * b[i] }
                        }
                    }
                } else {
                    direction = momentumBuffers[name]!
                }
            }
            direction.withUnsafeBufferPointer { d in
                parameters[name]!.withUnsafeMutableBufferPointer { p in
                    for i in 0..<p.count { p[i] = p[i] + negativeRate * d[i] }
                }
            }
        }
        stepCount += 1
    }

    public var state: OptimizerState {
        var tensors: [String: Tensor] = [:]
        for (name, value) in momentumBuffers { tensors["momentum_buffer." + name] = value }
        var hyperparameters = ["momentum": momentum, "weight_decay": weightDecay, "nesterov": nesterov ? 1.0 : 0.0]
        // Without momentum there are no buffers to carry the parameter shapes: record them.
        if momentum == 0 {
            for (name, value) in shapes {
                tensors["shape." + name] = Tensor(shape: [value.count], scalars: value.map(Float.init))
            }
        }
        hyperparameters["dampening"] = 0
        return OptimizerState(algorithm: "sgd", stepCount: stepCount, hyperparameters: hyperparameters, tensors: tensors)
    }

    public init(state: OptimizerState) throws {
        guard state.algorithm == "sgd" else {
            throw InputError("optimizer state is for \(state.algorithm), not sgd")
        }
        let nesterov = try state.hyperparameter("nesterov")
        guard nesterov == 0 || nesterov == 1 else { throw InputError("sgd optimizer state: nesterov is \(nesterov), expected 0 or 1") }
        if let dampening = state.hyperparameters["dampening"], dampening != 0 {
            throw InputError("sgd optimizer state: dampening \(dampening) (only 0 is supported)")
        }
        try self.init(momentum: state.hyperparameter("momentum"), weightDecay: state.hyperparameter("weight_decay"),
                      nesterov: nesterov == 1)
        guard state.stepCount >= 0 else { throw InputError("sgd optimizer state: step count \(state.stepCount) < 0") }
        let prefix = momentum == 0 ? "shape." : "momentum_buffer."
        if let key = state.tensors.keys.sorted().first(where: { !$0.hasPrefix(prefix) }) {
            throw InputError("sgd optimizer state: unexpected tensor \(key) (expected \(prefix)*)")
        }
        let entries = state.buffers(String(prefix.dropLast()))
        guard (state.stepCount == 0) == entries.isEmpty else {
            throw InputError("sgd optimizer state: step count \(state.stepCount) with \(entries.count) \(prefix)* tensors")
        }
        if momentum == 0 {
            for (name, value) in entries {
                let dims = value.scalars.map { Int(exactly: $0) ?? -1 }
                guard value.rank == 1, dims.allSatisfy({ $0 >= 0 }) else {
                    throw InputError("sgd optimizer state: shape.\(name) holds \(value.scalars), expected dimensions")
                }
                shapes[name] = dims
            }
        } else {
            momentumBuffers = entries
            shapes = entries.mapValues(\.shape)
        }
        stepCount = state.stepCount
    }
}
