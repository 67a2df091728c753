import Foundation
import HSNetCore
import TensorCore
import XCTest

final class CenterPivotConv4dTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    func load(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile.read(Self.fixtures.appendingPathComponent(name))
    }

    /// Forward, input gradient and the four parameter gradients against one torch case whose
    /// tensors are stored under `prefix`.
    func check(_ layer: CenterPivotConv4d, _ file: SafetensorsFile, prefix: String = "", label: String,
               line: UInt = #line) throws {
        func t(_ name: String) throws -> Tensor { try file.tensor(prefix + name, in: label) }
        let x = try t("x")
        let gradY = try t("grad_y")
        let y = layer.forward(x)
        XCTAssertEqual(y.shape, try t("y").shape, line: line)
        let grads = layer.parameterGradients(gradY, input: x)
        let results: [(String, Tensor)] = [
            ("y", y), ("grad_x", layer.backwardInput(gradY, inputShape: x.shape)),
            ("grad_conv1.weight", grads.conv1Weight), ("grad_conv1.bias", grads.conv1Bias!),
            ("grad_conv2.weight", grads.conv2Weight), ("grad_conv2.bias", grads.conv2Bias!),
        ]
        for (name, actual) in results {
            let error = relativeMaxError(actual, try t(name))
            print("CenterPivotConv4d \(label) \(name): relative max error \(error)")
            XCTAssertLessThan(error, 1e-5, "\(label) \(name)", line: line)
        }
    }

    func checkReference(_ name: String, supportStride: Int) throws {
        let file = try load("\(name).safetensors")
        let layer = try CenterPivotConv4d(tensors: file.tensors, prefix: "", supportStride: supportStride, source: name)
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

    func makeLayer(_ file: SafetensorsFile, prefix: String, stride: Int, supportPadding: Int) throws -> CenterPivotConv4d {
        let w1 = try file.tensor(prefix + "conv1.weight", in: "conv4d_extra")
        let w2 = try file.tensor(prefix + "conv2.weight", in: "conv4d_extra")
        return CenterPivotConv4d(
            conv1: Conv2d(weight: w1, bias: try file.tensor(prefix + "conv1.bias", in: "conv4d_extra"),
                          stride: 1, padding: w1.shape[2] / 2),
            conv2: Conv2d(weight: w2, bias: try file.tensor(prefix + "conv2.bias", in: "conv4d_extra"),
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
    /// Checked against direct sums at sampled outputs and, for the gradients, against the
    /// identities <f(x), r> = <x, f^T r> and <f(W + dW) - f(W), r> = <grad W, dW>.
    func testLargeSupportPlanesSplitIntoBlocks() {
        // 40 x 40 support planes, read a window row at a time: stride 1, and stride 2 with its vector path.
        checkLargeSupportPlanes(stride: 1)
        checkLargeSupportPlanes(stride: 2)
    }

    func checkLargeSupportPlanes(stride s: Int) {
        let layer = CenterPivotConv4d(
            conv1: Conv2d(weight: Self.random([3, 2, 3, 3], seed: 50), bias: Self.random([3], seed: 51), stride: 1, padding: 1),
            conv2: Conv2d(weight: Self.random([3, 2, 3, 3], seed: 52), bias: Self.random([3], seed: 53), stride: s, padding: 1))
        let shape = [1, 2, 5, 6, 40, 40]
        let x = Self.random(shape, seed: 54)
        let y = layer.forward(x)
        let pruned = (40 + s - 1) / s
        XCTAssertEqual(y.shape, [1, 3, 5, 6, pruned, pruned])
        func input(_ c: Int, _ i: Int, _ j: Int, _ u: Int, _ v: Int) -> Double {
            guard i >= 0, i < 5, j >= 0, j < 6, u >= 0, u < 40, v >= 0, v < 40 else { return 0 }
            return Double(x.scalars[(((c * 5 + i) * 6 + j) * 40 + u) * 40 + v])
        }
        var maxDiff = 0.0
        var maxValue = 0.0
        var state: UInt64 = 9
        for _ in 0..<300 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let index = Int(state >> 33) % y.count
            var rest = index
            let v = rest % pruned; rest /= pruned
            let u = rest % pruned; rest /= pruned
            let j = rest % 6; rest /= 6
            let i = rest % 5
            let o = rest / 5
            var total = Double(layer.conv1.bias!.scalars[o]) + Double(layer.conv2.bias!.scalars[o])
            for c in 0..<2 {
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        let w = ((o * 2 + c) * 3 + ky) * 3 + kx
                        total += Double(layer.conv1.weight.scalars[w]) * input(c, i + ky - 1, j + kx - 1, u * s, v * s)
                        total += Double(layer.conv2.weight.scalars[w]) * input(c, i, j, u * s + ky - 1, v * s + kx - 1)
                    }
                }
            }
            maxDiff = max(maxDiff, abs(total - Double(y.scalars[index])))
            maxValue = max(maxValue, abs(total))
        }
        print("CenterPivotConv4d in blocks, stride \(s), vs direct sums: relative max error \(maxDiff / maxValue)")
        XCTAssertLessThan(maxDiff / maxValue, 1e-5)

        func dot(_ a: Tensor, _ b: Tensor) -> Double {
            var total = 0.0
            for k in 0..<a.count { total += Double(a.scalars[k]) * Double(b.scalars[k]) }
            return total
        }
        func relativeDifference(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(a), abs(b)) }
        let r = Self.random(y.shape, seed: 55)
        var unbiased = layer
        unbiased.conv1.bias = nil
        unbiased.conv2.bias = nil
        let adjoint = relativeDifference(dot(unbiased.forward(x), r), dot(x, layer.backwardInput(r, inputShape: shape)))
        let grads = layer.parameterGradients(r, input: x)
        let dW1 = Self.random(layer.conv1.weight.shape, seed: 56)
        let dW2 = Self.random(layer.conv2.weight.shape, seed: 57)
        var moved = unbiased
        moved.conv1.weight = dW1
        moved.conv2.weight = dW2
        // With both biases removed and the weights replaced by dW, f is the directional change.
        let weightError = relativeDifference(dot(moved.forward(x), r),
                                             dot(grads.conv1Weight, dW1) + dot(grads.conv2Weight, dW2))
        var rowSum = [Double](repeating: 0, count: 3)
        for k in 0..<r.count { rowSum[k / (r.count / 3)] += Double(r.scalars[k]) }
        let biasError = (0..<3).map { relativeDifference(rowSum[$0], Double(grads.conv1Bias!.scalars[$0])) }.max()!
        print("CenterPivotConv4d in blocks, stride \(s): adjoint \(adjoint), weight gradients \(weightError), bias \(biasError)")
        XCTAssertLessThan(adjoint, 1e-5)
        XCTAssertLessThan(weightError, 1e-5)
        XCTAssertLessThan(biasError, 1e-5)
        XCTAssertEqual(grads.conv1Bias, grads.conv2Bias)
    }

    func testBadInputsAreInputErrors() throws {
        let file = try load("conv4d_k3_s1.safetensors")
        let layer = try CenterPivotConv4d(tensors: file.tensors, prefix: "", supportStride: 1, source: "k3s1")
        XCTAssertThrowsError(try layer.validate(inputShape: [1, 8, 9, 9, 3], name: "corr_l4")) { error in
            XCTAssertTrue((error as? InputError)?.message.hasPrefix("corr_l4: expected a 4-D correlation") == true, "\(error)")
        }
        XCTAssertThrowsError(try layer.validate(inputShape: [1, 7, 9, 9, 3, 2], name: "corr_l4"))
        XCTAssertNoThrow(try layer.validate(inputShape: [1, 8, 2, 2, 1, 1], name: "corr_l4"))
        var tensors = file.tensors
        tensors["conv2.weight"] = nil
        XCTAssertThrowsError(try CenterPivotConv4d(tensors: tensors, prefix: "", supportStride: 1, source: "ckpt.pth")) { error in
            XCTAssertEqual((error as? InputError)?.message, "ckpt.pth: tensor \"conv2.weight\" is missing")
        }
        tensors["conv2.weight"] = Self.random([8, 7, 3, 3], seed: 1)
        XCTAssertThrowsError(try CenterPivotConv4d(tensors: tensors, prefix: "", supportStride: 1, source: "ckpt.pth"))
    }
}
