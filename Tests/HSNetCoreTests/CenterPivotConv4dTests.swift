import Foundation
@testable import HSNetCore
import ReferenceParity
import TensorCore
import XCTest

final class CenterPivotConv4dTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    func load(_ name: String) throws -> ReferenceFixture {
        try ReferenceFixture(Self.fixtures.appendingPathComponent(name))
    }

    /// Forward, input gradient and the four parameter gradients against one torch case whose
    /// tensors are stored under `prefix`, each against its float64 reference with the bound
    /// `ParityBound.multiple(longestSum:)` times the published code's own float32 error.
    func check(_ layer: CenterPivotConv4d, _ file: ReferenceFixture, prefix: String = "", label: String,
               line: UInt = #line) throws {
        func t(_ name: String) throws -> Tensor { try file.tensor(prefix + name) }
        let x = try t("x")
        let gradY = try t("grad_y")
        let y = layer.forward(x)
        XCTAssertEqual(y.shape, try t("y").shape, line: line)
        let grads = layer.parameterGradients(gradY, input: x)
        // The longest sums: an output adds both convolutions' windows over every input
        // channel, an input gradient both windows over every output channel, a parameter
        // gradient every output position.
        let window = layer.conv1.weight.count / layer.conv1.weight.shape[0]
        let outputChannels = layer.conv1.weight.shape[0]
        let positions = y.count / outputChannels
        let results: [(String, Tensor, Int)] = [
            ("y", y, 2 * window), ("grad_x", layer.backwardInput(gradY, inputShape: x.shape), 2 * window / x.shape[1] * outputChannels),
            ("grad_conv1.weight", grads.conv1Weight, positions), ("grad_conv1.bias", grads.conv1Bias!, positions),
            ("grad_conv2.weight", grads.conv2Weight, positions), ("grad_conv2.bias", grads.conv2Bias!, positions),
        ]
        for (name, actual, longest) in results {
            let check = try file.output(prefix + name).check(actual, longestSum: longest)
            print("CenterPivotConv4d \(label) \(check)")
            XCTAssertTrue(check.passed, "\(label) \(check)", line: line)
        }
    }

    func checkReference(_ name: String, supportStride: Int) throws {
        let file = try load("\(name).safetensors")
        let layer = try CenterPivotConv4d(tensors: file.float32.tensors, prefix: "", supportStride: supportStride, source: name)
        try check(layer, file, label: name)
    }

    func testKernel3Stride1MatchesReference() throws {
        // 8 -> 8 on [1, 8, 9, 9, 3, 2]
        try checkReference("conv4d_k3_s1", supportStride: 1)
    }

    func testKernel3Stride2MatchesReference() throws {
        // 3 -> 16 on [2, 3, 13, 13, 13, 13], as the learner's first layer-4 block
        try checkReference("conv4d_k3_s2", supportStride: 2)
    }

    func testKernel5Stride4MatchesReference() throws {
        // 4 -> 8 on [1, 4, 12, 11, 25, 25], as the learner's first layer-2 block
        try checkReference("conv4d_k5_s4", supportStride: 4)
    }

    func makeLayer(_ file: ReferenceFixture, prefix: String, stride: Int, supportPadding: Int) throws -> CenterPivotConv4d {
        let w1 = try file.tensor(prefix + "conv1.weight")
        let w2 = try file.tensor(prefix + "conv2.weight")
        return CenterPivotConv4d(
            conv1: Conv2d(weight: w1, bias: try file.tensor(prefix + "conv1.bias"),
                          stride: 1, padding: w1.shape[2] / 2),
            conv2: Conv2d(weight: w2, bias: try file.tensor(prefix + "conv2.bias"),
                          stride: stride, padding: supportPadding))
    }

    func testStride3OnNonSquareSupportMatchesTorch() throws {
        // [2, 3, 5, 6, 7, 8] -> [2, 4, 5, 6, 3, 3]
        let file = try load("conv4d_extra.safetensors")
        try check(try makeLayer(file, prefix: "s3.", stride: 3, supportPadding: 1), file, prefix: "s3.", label: "s3")
    }

    func testCollapsedSupportMatchesTorch() throws {
        // conv2 covers the whole 3x3 support plane without padding while conv1 sees 2x2 pruned
        // positions: conv1's output is summed over them, [2, 3, 5, 4, 3, 3] -> [2, 4, 5, 4].
        let file = try load("conv4d_extra.safetensors")
        let layer = try makeLayer(file, prefix: "collapsed.", stride: 2, supportPadding: 0)
        XCTAssertEqual(layer.outputShape(forInput: [2, 3, 5, 4, 3, 3]), [2, 4, 5, 4])
        try check(layer, file, prefix: "collapsed.", label: "collapsed")
    }

    // MARK: Finite differences

    static func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var state = seed
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Double(state >> 11) * 0x1p-53) * 2 - 1
        })
    }

    /// Max |central difference - analytic| / max |analytic| of L = sum(weights * f(v)) over every element of v.
    func finiteDifferenceError(at v: Tensor, weights: Tensor, analytic: Tensor, _ f: (Tensor) -> Tensor) -> Double {
        func loss(_ t: Tensor) -> Double {
            let y = f(t)
            var total = 0.0
            for i in 0..<y.count { total += Double(y.scalars[i]) * Double(weights.scalars[i]) }
            return total
        }
        var maxDiff = 0.0
        var maxRef = 0.0
        for i in 0..<v.count {
            var plus = v
            var minus = v
            plus.scalars[i] += 1e-2
            minus.scalars[i] -= 1e-2
            let numeric = (loss(plus) - loss(minus)) / (Double(plus.scalars[i]) - Double(minus.scalars[i]))
            maxDiff = max(maxDiff, abs(numeric - Double(analytic.scalars[i])))
            maxRef = max(maxRef, abs(Double(analytic.scalars[i])))
        }
        return maxDiff / maxRef
    }

    func checkFiniteDifferences(_ layer: CenterPivotConv4d, inputShape: [Int], label: String) {
        let x = Self.random(inputShape, seed: 3)
        let weights = Self.random(layer.outputShape(forInput: inputShape), seed: 4)
        let inputError = finiteDifferenceError(at: x, weights: weights,
                                               analytic: layer.backwardInput(weights, inputShape: inputShape)) {
            layer.forward($0)
        }
        let grads = layer.parameterGradients(weights, input: x)
        let w1Error = finiteDifferenceError(at: layer.conv1.weight, weights: weights, analytic: grads.conv1Weight) { w in
            var l = layer
            l.conv1.weight = w
            return l.forward(x)
        }
        let b1Error = finiteDifferenceError(at: layer.conv1.bias!, weights: weights, analytic: grads.conv1Bias!) { b in
            var l = layer
            l.conv1.bias = b
            return l.forward(x)
        }
        let w2Error = finiteDifferenceError(at: layer.conv2.weight, weights: weights, analytic: grads.conv2Weight) { w in
            var l = layer
            l.conv2.weight = w
            return l.forward(x)
        }
        let b2Error = finiteDifferenceError(at: layer.conv2.bias!, weights: weights, analytic: grads.conv2Bias!) { b in
            var l = layer
            l.conv2.bias = b
            return l.forward(x)
        }
        print("CenterPivotConv4d \(label) vs finite differences: x \(inputError), conv1 \(w1Error) / \(b1Error), conv2 \(w2Error) / \(b2Error)")
        for error in [inputError, w1Error, b1Error, w2Error, b2Error] {
            // Linear in what is stepped, so central differences carry no truncation error: only the float32
            // rounding of the outputs (u = 6e-8 of each) summed in double over the outputs a step moves and
            // divided by the step; that is some 1e-5 of the gradient's scale, and 1e-4 leaves a factor 10.
            XCTAssertLessThan(error, 1e-4, label)
        }
    }

    func testGradientsMatchFiniteDifferences() {
        // Support stride 2 and a non-square 3x1 query kernel.
        let strided = CenterPivotConv4d(
            conv1: Conv2d(weight: Self.random([3, 2, 3, 1], seed: 10), bias: Self.random([3], seed: 11),
                          strideH: 1, strideW: 1, paddingH: 1, paddingW: 0),
            conv2: Conv2d(weight: Self.random([3, 2, 3, 3], seed: 12), bias: Self.random([3], seed: 13),
                          stride: 2, padding: 1))
        checkFiniteDifferences(strided, inputShape: [1, 2, 4, 3, 5, 4], label: "stride 2")
        let collapsed = CenterPivotConv4d(
            conv1: Conv2d(weight: Self.random([2, 2, 3, 3], seed: 14), bias: Self.random([2], seed: 15), stride: 1, padding: 1),
            conv2: Conv2d(weight: Self.random([2, 2, 3, 3], seed: 16), bias: Self.random([2], seed: 17), stride: 2, padding: 0))
        checkFiniteDifferences(collapsed, inputShape: [2, 2, 3, 4, 3, 3], label: "collapsed")
        // 2 x 2 support planes with 3 x 3 kernels, as in the mixing blocks: conv2 runs as a
        // dense map of the plane (forward and input gradient), while the parameter gradients
        // read conv2's windows, so the weight check also ties the two together.
        let dense = CenterPivotConv4d(
            conv1: Conv2d(weight: Self.random([3, 2, 3, 3], seed: 18), bias: Self.random([3], seed: 19), stride: 1, padding: 1),
            conv2: Conv2d(weight: Self.random([3, 2, 3, 3], seed: 20), bias: Self.random([3], seed: 21), stride: 1, padding: 1))
        checkFiniteDifferences(dense, inputShape: [2, 2, 3, 4, 2, 2], label: "dense 2x2 support")
    }

    /// Large support planes: the columns of one query row are split into several blocks.
    /// Checked at sampled elements of the output, of the input gradient and of every weight
    /// gradient against the definitions summed exactly and as literal float32 sums
    /// (`LiteralSum`, `SampledParity`).
    func testLargeSupportPlanesSplitIntoBlocks() {
        // 40 x 40 support planes, read a window row at a time: stride 1, and stride 2 with its vector path.
        checkLargeSupportPlanes(stride: 1)
        checkLargeSupportPlanes(stride: 2)
    }

    /// Few input channels and 16 output channels, as the first squeezing layers: conv2 runs
    /// directly on the support planes (`CenterPivotDirectSupport.swift`, forward only).
    /// Sampled outputs against the definition summed exactly and as literal float32 sums, with
    /// a strided 5 x 5 kernel reaching the padding on every side, and in the collapsed case.
    func testFewInputChannelsRunConv2Directly() {
        checkDirectSupport(kernel: 5, stride: 4, padding: 2, side: 25, seed: 60)
        checkDirectSupport(kernel: 3, stride: 2, padding: 0, side: 3, seed: 70)
    }

    func checkDirectSupport(kernel k: Int, stride s: Int, padding pad: Int, side: Int, seed: UInt64) {
        let (batch, cin, cout, ha, wa) = (2, 4, 16, 3, 4)
        let layer = CenterPivotConv4d(
            conv1: Conv2d(weight: Self.random([cout, cin, k, k], seed: seed), bias: Self.random([cout], seed: seed + 1),
                          stride: 1, padding: k / 2),
            conv2: Conv2d(weight: Self.random([cout, cin, k, k], seed: seed + 2), bias: Self.random([cout], seed: seed + 3),
                          stride: s, padding: pad))
        let shape = [batch, cin, ha, wa, side, side]
        let x = Self.random(shape, seed: seed + 4)
        let y = layer.forward(x)
        let pruned = (side + s - 1) / s
        let outputs = (side + 2 * pad - k) / s + 1
        let collapsed = outputs != pruned
        XCTAssertEqual(y.shape, collapsed ? [batch, cout, ha, wa] : [batch, cout, ha, wa, pruned, pruned])
        func input(_ b: Int, _ c: Int, _ i: Int, _ j: Int, _ u: Int, _ v: Int) -> Float? {
            guard i >= 0, i < ha, j >= 0, j < wa, u >= 0, u < side, v >= 0, v < side else { return nil }
            return x.scalars[((((b * cin + c) * ha + i) * wa + j) * side + u) * side + v]
        }
        func w(_ layer: Conv2d, _ o: Int, _ c: Int, _ ky: Int, _ kx: Int) -> Float {
            layer.weight.scalars[((o * cin + c) * k + ky) * k + kx]
        }
        let positions = collapsed ? 1 : pruned * pruned
        var forward = SampledParity("forward, kernel \(k), stride \(s)")
        for index in stride(from: 0, to: y.count, by: max(1, y.count / 400)) {
            var rest = index
            let position = rest % positions; rest /= positions
            let (u, v) = position.quotientAndRemainder(dividingBy: pruned)
            let j = rest % wa; rest /= wa
            let i = rest % ha; rest /= ha
            let o = rest % cout
            let b = rest / cout
            var sum = LiteralSum()
            for c in 0..<cin {
                for ky in 0..<k {
                    for kx in 0..<k {
                        // conv1 at the pruned position(s), conv2 over the support window.
                        let sites = collapsed ? (0..<pruned * pruned).map({ ($0 / pruned, $0 % pruned) }) : [(u, v)]
                        for (pu, pv) in sites {
                            if let value = input(b, c, i + ky - k / 2, j + kx - k / 2, pu * s, pv * s) {
                                sum.add(w(layer.conv1, o, c, ky, kx), value)
                            }
                        }
                        if let value = input(b, c, i, j, u * s + ky - pad, v * s + kx - pad) {
                            sum.add(w(layer.conv2, o, c, ky, kx), value)
                        }
                    }
                }
            }
            for _ in 0..<(collapsed ? pruned * pruned : 1) { sum.add(layer.conv1.bias!.scalars[o]) }
            sum.add(layer.conv2.bias!.scalars[o])
            forward.record(ours: y.scalars[index], sum)
        }
        print("CenterPivotConv4d with conv2 direct: \(forward.check)")
        XCTAssertTrue(forward.check.passed, "\(forward.check)")
    }

    func checkLargeSupportPlanes(stride s: Int) {
        let layer = CenterPivotConv4d(
            conv1: Conv2d(weight: Self.random([3, 2, 3, 3], seed: 50), bias: Self.random([3], seed: 51), stride: 1, padding: 1),
            conv2: Conv2d(weight: Self.random([3, 2, 3, 3], seed: 52), bias: Self.random([3], seed: 53), stride: s, padding: 1))
        let (cin, cout, ha, wa, side) = (2, 3, 5, 6, 40)
        let shape = [1, cin, ha, wa, side, side]
        let x = Self.random(shape, seed: 54)
        let y = layer.forward(x)
        let pruned = (side + s - 1) / s
        XCTAssertEqual(y.shape, [1, cout, ha, wa, pruned, pruned])
        func input(_ c: Int, _ i: Int, _ j: Int, _ u: Int, _ v: Int) -> Float? {
            guard i >= 0, i < ha, j >= 0, j < wa, u >= 0, u < side, v >= 0, v < side else { return nil }
            return x.scalars[(((c * ha + i) * wa + j) * side + u) * side + v]
        }
        func w1(_ o: Int, _ c: Int, _ ky: Int, _ kx: Int) -> Float { layer.conv1.weight.scalars[((o * cin + c) * 3 + ky) * 3 + kx] }
        func w2(_ o: Int, _ c: Int, _ ky: Int, _ kx: Int) -> Float { layer.conv2.weight.scalars[((o * cin + c) * 3 + ky) * 3 + kx] }
        let r = Self.random(y.shape, seed: 55)
        func upstream(_ o: Int, _ i: Int, _ j: Int, _ u: Int, _ v: Int) -> Float? {
            guard i >= 0, i < ha, j >= 0, j < wa, u >= 0, u < pruned, v >= 0, v < pruned else { return nil }
            return r.scalars[(((o * ha + i) * wa + j) * pruned + u) * pruned + v]
        }
        var state: UInt64 = 9
        func draw(_ count: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % count
        }

        // y[o, i, j, u, v] = b1 + b2 + conv1 over the query window at the pruned support
        // position (u s, v s) + conv2 over the support window at (i, j).
        var forward = SampledParity("forward")
        for _ in 0..<300 {
            let index = draw(y.count)
            var rest = index
            let v = rest % pruned; rest /= pruned
            let u = rest % pruned; rest /= pruned
            let j = rest % wa; rest /= wa
            let i = rest % ha
            let o = rest / ha
            var sum = LiteralSum()
            for c in 0..<cin {
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        if let value = input(c, i + ky - 1, j + kx - 1, u * s, v * s) { sum.add(w1(o, c, ky, kx), value) }
                        if let value = input(c, i, j, u * s + ky - 1, v * s + kx - 1) { sum.add(w2(o, c, ky, kx), value) }
                    }
                }
            }
            sum.add(layer.conv1.bias!.scalars[o])
            sum.add(layer.conv2.bias!.scalars[o])
            forward.record(ours: y.scalars[index], sum)
        }

        // The input gradient: conv1 reaches x only at pruned support positions.
        let gradX = layer.backwardInput(r, inputShape: shape)
        var backward = SampledParity("input gradient")
        for _ in 0..<300 {
            let index = draw(x.count)
            var rest = index
            let v = rest % side; rest /= side
            let u = rest % side; rest /= side
            let j = rest % wa; rest /= wa
            let i = rest % ha
            let c = rest / ha
            var sum = LiteralSum()
            for o in 0..<cout {
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        if u % s == 0, v % s == 0, let g = upstream(o, i - ky + 1, j - kx + 1, u / s, v / s) {
                            sum.add(w1(o, c, ky, kx), g)
                        }
                        let (su, sv) = (u - ky + 1, v - kx + 1)
                        if su % s == 0, sv % s == 0, let g = upstream(o, i, j, su / s, sv / s) { sum.add(w2(o, c, ky, kx), g) }
                    }
                }
            }
            backward.record(ours: gradX.scalars[index], sum)
        }

        // Every weight and bias gradient: sums over all output positions.
        let grads = layer.parameterGradients(r, input: x)
        var weights = SampledParity("weight gradients")
        for o in 0..<cout {
            for c in 0..<cin {
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        var first = LiteralSum(), second = LiteralSum()
                        for i in 0..<ha {
                            for j in 0..<wa {
                                for u in 0..<pruned {
                                    for v in 0..<pruned {
                                        let g = upstream(o, i, j, u, v)!
                                        if let value = input(c, i + ky - 1, j + kx - 1, u * s, v * s) { first.add(g, value) }
                                        if let value = input(c, i, j, u * s + ky - 1, v * s + kx - 1) { second.add(g, value) }
                                    }
                                }
                            }
                        }
                        let flat = ((o * cin + c) * 3 + ky) * 3 + kx
                        weights.record(ours: grads.conv1Weight.scalars[flat], first)
                        weights.record(ours: grads.conv2Weight.scalars[flat], second)
                    }
                }
            }
        }
        var biases = SampledParity("bias gradients")
        let plane = r.count / cout
        for o in 0..<cout {
            var sum = LiteralSum()
            for k in 0..<plane { sum.add(r.scalars[o * plane + k]) }
            biases.record(ours: grads.conv1Bias!.scalars[o], sum)
        }
        for check in [forward.check, backward.check, weights.check, biases.check] {
            print("CenterPivotConv4d in blocks, stride \(s): \(check)")
            XCTAssertTrue(check.passed, "stride \(s): \(check)")
        }
        XCTAssertEqual(grads.conv1Bias, grads.conv2Bias)
    }

    func testBadInputsAreInputErrors() throws {
        let file = try load("conv4d_k3_s1.safetensors")
        let layer = try CenterPivotConv4d(tensors: file.float32.tensors, prefix: "", supportStride: 1, source: "k3s1")
        XCTAssertThrowsError(try layer.validate(inputShape: [1, 8, 9, 9, 3], name: "corr_l4")) { error in
            XCTAssertTrue((error as? InputError)?.message.hasPrefix("corr_l4: expected a 4-D correlation") == true, "\(error)")
        }
        XCTAssertThrowsError(try layer.validate(inputShape: [1, 7, 9, 9, 3, 2], name: "corr_l4"))
        XCTAssertNoThrow(try layer.validate(inputShape: [1, 8, 2, 2, 1, 1], name: "corr_l4"))
        var tensors = file.float32.tensors
        tensors["conv2.weight"] = nil
        XCTAssertThrowsError(try CenterPivotConv4d(tensors: tensors, prefix: "", supportStride: 1, source: "ckpt.pth")) { error in
            XCTAssertEqual((error as? InputError)?.message, "ckpt.pth: tensor \"conv2.weight\" is missing")
        }
        tensors["conv2.weight"] = Self.random([8, 7, 3, 3], seed: 1)
        XCTAssertThrowsError(try CenterPivotConv4d(tensors: tensors, prefix: "", supportStride: 1, source: "ckpt.pth"))
    }

    // MARK: A fixed fine level split over the upsampling

    /// layer(up(c) + f) = layer(f) + conv1(up(c)) + up(conv2(c)), and its gradient for c, on a
    /// mixing layer (2 x 2 support planes: conv1 by Winograd's method, conv2 a dense map).
    func testFixedFineLevelSplitsOverTheUpsampling() throws {
        let (cin, cout) = (6, 5)
        let layer = CenterPivotConv4d(
            conv1: Conv2d(weight: Self.random([cout, cin, 3, 3], seed: 11), bias: Self.random([cout], seed: 12), stride: 1, padding: 1),
            conv2: Conv2d(weight: Self.random([cout, cin, 3, 3], seed: 13), bias: Self.random([cout], seed: 14), stride: 1, padding: 1))
        let coarse = Self.random([1, cin, 5, 5, 2, 2], seed: 15)
        let fine = Self.random([1, cin, 9, 9, 2, 2], seed: 16)
        XCTAssertTrue(layer.splitsOverUpsampling(coarseShape: coarse.shape, fineShape: fine.shape))
        let split = layer.forwardUpsampled(coarse, adding: layer.forward(fine))
        let whole = layer.forward(try HPNLearner.addUpsampled(coarse, to: fine))
        // Two float32 evaluations of the same sums (2 x 9 x 6 products of values in [-1, 1],
        // plus the resize's weights, which sum to 1): each output's rounding error is at most
        // about 120 terms x 2^-24 x their magnitude (below 1 each), 7e-6 apart at worst, against
        // outputs of size 1 to 10; a wrong index or term would be off by 0.1 or more.
        let scale = whole.scalars.map(abs).max()!
        let difference = zip(split.scalars, whole.scalars).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(Double(difference), 7e-6 * Double(max(1, scale)), "split \(difference) apart, outputs up to \(scale)")

        // The backward is the adjoint of the split's linear part: <L(c), g> = <c, Lᵀ(g)>,
        // summed in double from float32 values (same argument: 1e-5 of the sums' magnitude).
        let g = Self.random(split.shape, seed: 17)
        let back = layer.backwardInputUpsampled(g, coarseShape: coarse.shape)
        XCTAssertEqual(back.shape, coarse.shape)
        // Both biases sit in the fixed term: with a zero one the split is linear in c.
        let linear = layer.forwardUpsampled(coarse, adding: Tensor(zeros: split.shape))
        let lhs = zip(linear.scalars, g.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let rhs = zip(coarse.scalars, back.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let magnitude = zip(linear.scalars, g.scalars).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
        XCTAssertEqual(lhs, rhs, accuracy: 1e-5 * magnitude, "the split's backward is not its adjoint")
    }

    /// The kernels made from the weights are kept between calls and made again when a weight
    /// changes: after an update, forward and input gradient equal a fresh layer's bit for bit.
    func testKernelsMadeFromTheWeightsFollowTheirUpdates() {
        func layer(_ seed: UInt64) -> CenterPivotConv4d {
            CenterPivotConv4d(
                conv1: Conv2d(weight: Self.random([4, 3, 3, 3], seed: seed), bias: Self.random([4], seed: seed + 1), stride: 1, padding: 1),
                conv2: Conv2d(weight: Self.random([4, 3, 3, 3], seed: seed + 2), bias: Self.random([4], seed: seed + 3), stride: 1, padding: 1))
        }
        let x = Self.random([1, 3, 6, 6, 2, 2], seed: 30)
        let g = Self.random([1, 4, 6, 6, 2, 2], seed: 31)
        var updated = layer(20)
        _ = updated.forward(x)
        _ = updated.backwardInput(g, inputShape: x.shape)
        let fresh = layer(40)
        updated.conv1.weight = fresh.conv1.weight
        updated.conv2.weight = fresh.conv2.weight
        updated.conv1.bias = fresh.conv1.bias
        updated.conv2.bias = fresh.conv2.bias
        XCTAssertEqual(updated.forward(x).scalars, fresh.forward(x).scalars)
        XCTAssertEqual(updated.backwardInput(g, inputShape: x.shape).scalars, fresh.backwardInput(g, inputShape: x.shape).scalars)
    }
}
