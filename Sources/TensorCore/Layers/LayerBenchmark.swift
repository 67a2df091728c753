/// Timings of the convolution kernels on the shapes HSNet gives them at a 400 x 400 image,
/// for `cdfss bench` (release builds only mean anything). Inputs and weights are fixed
/// pseudo-random values, so runs are comparable.
public enum LayerBenchmark {
    public struct Result: Sendable {
        public let name: String
        public let shape: String
        /// Floating-point operations of one run (multiply and add counted apart).
        public let flops: Double
        /// Seconds of each timed run.
        public let seconds: [Double]

        public init(name: String, shape: String, flops: Double, seconds: [Double]) {
            self.name = name
            self.shape = shape
            self.flops = flops
            self.seconds = seconds
        }

        /// Billions of operations per second at the fastest run.
        public var gigaflopsPerSecond: Double { flops / (seconds.min() ?? .nan) / 1e9 }
    }

    /// Values in [-scale, scale) from a fixed linear congruential sequence.
    public static func filler(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return Tensor(shape: shape) { out in
            for i in 0..<out.count {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                out[i] = (Float(state >> 40) * 0x1p-24 * 2 - 1) * scale
            }
        }
    }

    /// ResNet-50 shapes: a 1x1 reduction and a 3x3 convolution of layer 1 (100 x 100), and the
    /// 7x7 stride-2 stem (400 x 400); the 3x3 also backward.
    public static func convolutions(runs: Int) -> [Result] {
        func conv(_ name: String, out: Int, input: [Int], kernel: Int, stride: Int, padding: Int, seed: UInt64) -> Result {
            let layer = Conv2d(weight: filler([out, input[1], kernel, kernel], seed: seed, scale: 0.05),
                               bias: filler([out], seed: seed + 1, scale: 0.1), stride: stride, padding: padding)
            let x = filler(input, seed: seed + 2)
            let outShape = layer.outputShape(forInput: input)
            let flops = 2 * Double(layer.weight.count) * Double(outShape[2] * outShape[3])
            let seconds = Timing.measure(runs: runs, warmup: 1) { _ = layer.forward(x) }
            return Result(name: name, shape: describe(input) + " -> " + describe(outShape), flops: flops, seconds: seconds)
        }
        var results = [
            conv("conv2d.1x1", out: 64, input: [1, 256, 100, 100], kernel: 1, stride: 1, padding: 0, seed: 1),
            conv("conv2d.3x3", out: 64, input: [1, 64, 100, 100], kernel: 3, stride: 1, padding: 1, seed: 2),
            conv("conv2d.7x7s2", out: 64, input: [1, 3, 400, 400], kernel: 7, stride: 2, padding: 3, seed: 3),
        ]
        let layer = Conv2d(weight: filler([64, 64, 3, 3], seed: 4, scale: 0.05), bias: filler([64], seed: 5), stride: 1, padding: 1)
        let x = filler([1, 64, 100, 100], seed: 6)
        let gradOutput = filler([1, 64, 100, 100], seed: 7)
        let flops = 2 * Double(layer.weight.count) * 10_000
        results.append(Result(name: "conv2d.3x3.backward_input", shape: "[1, 64, 100, 100]", flops: flops,
                              seconds: Timing.measure(runs: runs, warmup: 1) {
                                  _ = layer.backwardInput(gradOutput, inputShape: x.shape)
                              }))
        return results
    }

    /// A shape as PyTorch prints it: `[1, 64, 100, 100]`.
    public static func describe(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }
}
