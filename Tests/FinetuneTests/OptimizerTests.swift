import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import HSNetCore
import TensorCore
import XCTest

/// Adam, SGD and the learning-rate schedules against torch.optim, state export/import, and
/// the errors for input that does not fit.
final class OptimizerTests: XCTestCase {
    /// Reproducible values in [-scale, scale) (a linear congruential sequence).
    static func pseudoRandom(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var x = seed &* 0x9E3779B97F4A7C15 | 1
        let count = shape.reduce(1, *)
        return Tensor(shape: shape, scalars: (0..<count).map { _ in
            x = x &* 6364136223846793005 &+ 1442695040888963407
            return (Float(x >> 40) / Float(1 << 24) * 2 - 1) * scale
        })
    }

    static func parameters(seed: UInt64) -> [String: Tensor] {
        ["a.weight": pseudoRandom([3, 5], seed: seed), "b": pseudoRandom([7], seed: seed + 1),
         "c.mask": pseudoRandom([1, 2, 3, 3], seed: seed + 2)]
    }

    /// The gradients of step `k`: different at every step.
    static func gradients(step k: Int) -> [String: Tensor] {
        parameters(seed: 1000 + UInt64(k) * 10).mapValues { Tensor(shape: $0.shape, scalars: $0.scalars.map { $0 * 0.01 }) }
    }

    // MARK: SGD

    func testPlainSGDStepMovesEachParameterByMinusLearningRateTimesGradient() throws {
        let start = Self.parameters(seed: 1)
        let gradients = Self.gradients(step: 0)
        var parameters = start
        var sgd = try SGD()
        let lr = 0.0375
        try sgd.step(&parameters, gradients: gradients, learningRate: lr)
        XCTAssertEqual(sgd.stepCount, 1)
        for (name, p) in parameters {
            let (p0, g) = (start[name]!.scalars, gradients[name]!.scalars)
            for i in p.scalars.indices {
                // torch's param.add_(grad, alpha=-lr): one float32 product, one float32 sum.
                XCTAssertEqual(p.scalars[i], p0[i] + Float(-lr) * g[i], "\(name)[\(i)]")
            }
        }
    }

    func testPlainSGDStepOnTheModelsPlugins() throws {
        let model = FinetuneFixtures.model
        model.plugins.removeAll()
        _ = try XCTUnwrap(try model.installCheckpointMaskers(imageSize: 400), "checkpoint holds apm/acpa")
        defer { model.plugins.removeAll() }
        let start = try model.maskerParameters()
        XCTAssertEqual(Set(start.keys), ["apm.mask_amplitude", "apm.mask_phase", "acpa.phase_attn.0.weight", "acpa.phase_attn.2.weight"])
        var seed: UInt64 = 50
        var gradients: [String: Tensor] = [:]
        for (name, value) in start {
            gradients[name] = Self.pseudoRandom(value.shape, seed: seed, scale: 1e-3)
            seed += 1
        }
        var sgd = try SGD()
        let lr = 0.5
        try model.applyMaskerStep(&sgd, gradients: gradients, learningRate: lr)
        let after = try model.maskerParameters()
        for (name, p) in after {
            let (p0, g) = (start[name]!.scalars, gradients[name]!.scalars)
            let mismatches = p.scalars.indices.filter { p.scalars[$0] != p0[$0] + Float(-lr) * g[$0] }
            XCTAssertEqual(mismatches.count, 0, "\(name): first at \(mismatches.first ?? -1)")
        }

        // A gradient for a parameter no plug-in has, or of the wrong shape: refused, nothing changes.
        var bad = gradients
        bad["apm.mask_gain"] = Tensor(zeros: [1])
        XCTAssertThrowsError(try model.applyMaskerStep(&sgd, gradients: bad, learningRate: lr)) { error in
            XCTAssertTrue("\(error)".contains("apm.mask_gain"), "\(error)")
        }
        bad = gradients
        bad["acpa.phase_attn.0.weight"] = Tensor(zeros: [2048, 8])
        XCTAssertThrowsError(try model.applyMaskerStep(&sgd, gradients: bad, learningRate: lr)) { error in
            XCTAssertTrue("\(error)".contains("acpa.phase_attn.0.weight") && "\(error)".contains("[2048, 8]"), "\(error)")
        }
        XCTAssertEqual(try model.maskerParameters(), after)
        XCTAssertEqual(sgd.stepCount, 1)
    }

    /// Three steps on p0 = [0.5, -1.25, 2.0, 0.03125] with gradient
    /// [0.1, -0.2, 0.3, -0.4] (k+1) + [0, 0.05, -0.7, 0.2] k at step k = 0, 1, 2,
    /// the parameters after each step as torch 2.15 gives them:
    ///
    ///     p = torch.nn.Parameter(torch.tensor([0.5, -1.25, 2.0, 0.03125]))
    ///     opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)   # nesterov=True for the second
    ///     for k in range(3):
    ///         p.grad = torch.tensor([0.1, -0.2, 0.3, -0.4]) * (k + 1) + torch.tensor([0.0, 0.05, -0.7, 0.2]) * k
    ///         opt.step(); print([float(x) for x in p.detach()])
    static let tinyStart: [Float] = [0.5, -1.25, 2.0, 0.03125]
    static func tinyGradient(step k: Int) -> [Float] {
        zip([Float(0.1), -0.2, 0.3, -0.4], [Float(0), 0.05, -0.7, 0.2]).map { $0 * Float(k + 1) + $1 * Float(k) }
    }
    static let torchMomentum: [[Float]] = [
        [0.4894999861717224, -1.2287499904632568, 1.968000054359436, 0.07121875137090683],
        [0.45956048369407654, -1.1733962297439575, 1.9472320079803467, 0.16711941361427307],
        [0.4021553695201874, -1.0724045038223267, 1.9765936136245728, 0.3332628905773163]]
    static let torchNesterov: [[Float]] = [
        [0.4800499975681305, -1.209625005722046, 1.9392000436782837, 0.10719062387943268],
        [0.4326328933238983, -1.1236141920089722, 1.9285955429077148, 0.25336164236068726],
        [0.3505675494670868, -0.9816582798957825, 2.0031323432922363, 0.4825306534767151]]
    /// The same with `torch.optim.Adam([p], lr=0.01, weight_decay=0.1)`.
    static let torchAdamDecay: [[Float]] = [
        [0.49000000953674316, -1.2400000095367432, 1.9900000095367432, 0.04124999791383743],
        [0.4801687002182007, -1.2300739288330078, 1.9819811582565308, 0.05115743726491928],
        [0.4703945815563202, -1.220176339149475, 1.9799058437347412, 0.06102903187274933]]

    func runTiny<O: Optimizer>(_ optimizer: inout O, learningRate: Double) throws -> [[Float]] {
        var parameters = ["p": Tensor(shape: [4], scalars: Self.tinyStart)]
        var trajectory: [[Float]] = []
        for k in 0..<3 {
            try optimizer.step(&parameters, gradients: ["p": Tensor(shape: [4], scalars: Self.tinyGradient(step: k))],
                               learningRate: learningRate)
            trajectory.append(parameters["p"]!.scalars)
        }
        return trajectory
    }

    /// torch's vectorised kernels may fuse a multiply-add where this code rounds twice, so
    /// agreement is asked to within 1 ulp per element (2 for Adam's longer chain), not
    /// bitwise; on these numbers it is in fact bitwise.
    func assertClose(_ ours: [[Float]], _ torch: [[Float]], ulpBound: Float = 1, _ what: String) {
        for (k, (a, b)) in zip(ours, torch).enumerated() {
            for i in a.indices {
                XCTAssertLessThanOrEqual(ulps(a[i], b[i]), ulpBound, "\(what) step \(k) [\(i)]: \(a[i]) vs torch \(b[i])")
            }
        }
    }

    func testSGDMomentumAndWeightDecayMatchTorch() throws {
        var momentum = try SGD(momentum: 0.9, weightDecay: 0.01)
        assertClose(try runTiny(&momentum, learningRate: 0.1), Self.torchMomentum, "momentum")
        var nesterov = try SGD(momentum: 0.9, weightDecay: 0.01, nesterov: true)
        assertClose(try runTiny(&nesterov, learningRate: 0.1), Self.torchNesterov, "nesterov")
        // The first step's buffer is the (decayed) gradient itself, as in torch.
        var once = try SGD(momentum: 0.9, weightDecay: 0.01)
        var p = ["p": Tensor(shape: [4], scalars: Self.tinyStart)]
        try once.step(&p, gradients: ["p": Tensor(shape: [4], scalars: Self.tinyGradient(step: 0))], learningRate: 0.1)
        let expectedBuffer = zip(Self.tinyGradient(step: 0), Self.tinyStart).map { $0 + Float(0.01) * $1 }
        XCTAssertEqual(once.momentumBuffers["p"]?.scalars, expectedBuffer)
    }

    func testAdamWeightDecayMatchesTorch() throws {
        var adam = try Adam(weightDecay: 0.1)
        assertClose(try runTiny(&adam, learningRate: 0.01), Self.torchAdamDecay, ulpBound: 2, "adam")
    }

    // MARK: State export and import

    /// N steps, export, import into a fresh optimiser (through safetensors-style metadata
    /// strings too), M more steps: bitwise the same as N + M steps without interruption.
    func checkResume<O: Optimizer>(_ make: () throws -> O, n: Int, m: Int, _ what: String) throws {
        var straight = try make()
        var straightParameters = Self.parameters(seed: 7)
        let schedule = LearningRateSchedule.cosine(base: 0.05, totalSteps: n + m)
        for k in 0..<(n + m) {
            try straight.step(&straightParameters, gradients: Self.gradients(step: k), learningRate: schedule.rate(atStep: k))
        }

        var first = try make()
        var parameters = Self.parameters(seed: 7)
        for k in 0..<n {
            try first.step(&parameters, gradients: Self.gradients(step: k), learningRate: schedule.rate(atStep: k))
        }
        let exported = first.state
        XCTAssertEqual(exported.stepCount, n, what)
        let reread = try OptimizerState(metadata: exported.metadata, tensors: exported.tensors)
        XCTAssertEqual(reread, exported, what)
        var resumed = try O(state: reread)
        XCTAssertEqual(resumed.state, exported, what)
        while resumed.stepCount < n + m {
            let k = resumed.stepCount
            try resumed.step(&parameters, gradients: Self.gradients(step: k), learningRate: schedule.rate(atStep: k))
        }
        XCTAssertEqual(parameters, straightParameters, what)
        XCTAssertEqual(resumed.state, straight.state, what)
        // The run really moved the parameters, and the state is not trivially empty.
        XCTAssertNotEqual(parameters, Self.parameters(seed: 7), what)
    }

    func testAdamStateRoundTripContinuesExactly() throws {
        try checkResume({ try Adam() }, n: 3, m: 4, "adam")
        try checkResume({ try Adam(beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.05) }, n: 2, m: 3, "adam with decay")
        let state = try Adam().state
        XCTAssertEqual(state.stepCount, 0)
        XCTAssertTrue(state.tensors.isEmpty)
    }

    func testSGDStateRoundTripContinuesExactly() throws {
        try checkResume({ try SGD(momentum: 0.9) }, n: 3, m: 4, "sgd momentum")
        try checkResume({ try SGD(momentum: 0.5, weightDecay: 0.01, nesterov: true) }, n: 1, m: 2, "sgd nesterov")
        try checkResume({ try SGD(weightDecay: 0.02) }, n: 2, m: 2, "plain sgd")
    }

    func testImportRefusesAnotherAlgorithmOrIncompleteState() throws {
        var adam = try Adam()
        var p = Self.parameters(seed: 3)
        try adam.step(&p, gradients: Self.gradients(step: 0), learningRate: 1e-3)
        XCTAssertThrowsError(try SGD(state: adam.state))
        var state = adam.state
        state.tensors.removeValue(forKey: "exp_avg_sq.b")
        XCTAssertThrowsError(try Adam(state: state)) { XCTAssertTrue("\($0)".contains("exp_avg_sq"), "\($0)") }
        var noBeta = adam.state
        noBeta.hyperparameters.removeValue(forKey: "beta2")
        XCTAssertThrowsError(try Adam(state: noBeta)) { XCTAssertTrue("\($0)".contains("beta2"), "\($0)") }
    }

    // MARK: Input checks

    func testStepRefusesGradientsThatDoNotFit() throws {
        var adam = try Adam()
        var p = Self.parameters(seed: 4)
        let unchanged = p
        var extra = Self.gradients(step: 0)
        extra["d"] = Tensor(zeros: [2])
        XCTAssertThrowsError(try adam.step(&p, gradients: extra, learningRate: 1e-3)) {
            XCTAssertEqual("\($0)".split(separator: "\n").count, 1)
            XCTAssertTrue("\($0)".contains("unknown parameter d"), "\($0)")
        }
        var reshaped = Self.gradients(step: 0)
        reshaped["b"] = Tensor(zeros: [1, 7])
        XCTAssertThrowsError(try adam.step(&p, gradients: reshaped, learningRate: 1e-3)) {
            XCTAssertTrue("\($0)".contains("[1, 7]") && "\($0)".contains("[7]"), "\($0)")
        }
        var missing = Self.gradients(step: 0)
        missing.removeValue(forKey: "a.weight")
        XCTAssertThrowsError(try adam.step(&p, gradients: missing, learningRate: 1e-3)) {
            XCTAssertTrue("\($0)".contains("no gradient for parameter a.weight"), "\($0)")
        }
        XCTAssertThrowsError(try adam.step(&p, gradients: Self.gradients(step: 0), learningRate: -1))
        XCTAssertEqual(p, unchanged)
        XCTAssertEqual(adam.stepCount, 0)

        // After the first step the parameter set is fixed.
        try adam.step(&p, gradients: Self.gradients(step: 0), learningRate: 1e-3)
        var fewer = p
        fewer.removeValue(forKey: "c.mask")
        var fewerGradients = Self.gradients(step: 1)
        fewerGradients.removeValue(forKey: "c.mask")
        XCTAssertThrowsError(try adam.step(&fewer, gradients: fewerGradients, learningRate: 1e-3)) {
            XCTAssertTrue("\($0)".contains("c.mask"), "\($0)")
        }
        XCTAssertThrowsError(try Adam(beta1: 1))
        XCTAssertThrowsError(try SGD(nesterov: true))
    }

    // MARK: Schedules

    /// torch 2.15's CosineAnnealingLR(T_max=7, eta_min=0) on base lr 0.05, the rate in
    /// `param_groups[0]["lr"]` before each of 9 steps (as hex floats):
    ///
    ///     opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.05)
    ///     sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7)
    ///     for k in range(9):
    ///         print(float.hex(opt.param_groups[0]["lr"])); opt.step(); sched.step()
    static let torchCosine: [String] = [
        "0x1.999999999999ap-5", "0x1.8551843eaf1c7p-5", "0x1.4c7d9f437f8bbp-5", "0x1.f4be9c700744ep-6",
        "0x1.3e7496c32bee7p-6", "0x1.346fe9586837fp-7", "0x1.448155aea7d33p-9", "0x0.0p+0", "0x1.448155aea7d2dp-9"]

    func testCosineScheduleMatchesTorch() throws {
        let schedule = try LearningRateSchedule(name: "cosine", base: 0.05, totalSteps: 7)
        for (k, hex) in Self.torchCosine.enumerated() {
            let torch = try XCTUnwrap(Double(hex), hex)
            // torch recurses from one step to the next; the closed form differs by rounding only.
            XCTAssertEqual(schedule.rate(atStep: k), torch, accuracy: 1e-15, "step \(k)")
        }
        XCTAssertEqual(schedule.rate(atStep: 0), 0.05)
        XCTAssertEqual(schedule.rate(atStep: 7), 0)
        let constant = try LearningRateSchedule(name: "constant", base: 1e-3, totalSteps: 7)
        XCTAssertEqual((0..<9).map { constant.rate(atStep: $0) }, Array(repeating: 1e-3, count: 9))
        XCTAssertThrowsError(try LearningRateSchedule(name: "step", base: 1e-3, totalSteps: 7))
        XCTAssertThrowsError(try LearningRateSchedule(name: "cosine", base: 1e-3, totalSteps: 0))
    }
}
