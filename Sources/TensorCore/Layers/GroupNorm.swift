/// Group normalisation as torch's `nn.GroupNorm(groups, channels, eps, affine=True)` on
/// float32 tensors [N, C, *]: any number of trailing dimensions (HSNet normalises its 6-D
/// correlation tensors [B, C, Ha, Wa, Hb, Wb] with it). Each sample's channels are split into
/// `groupCount` consecutive groups; each group is shifted and scaled to zero mean and unit
/// (biased) variance over its channels and positions, then every channel gets its own
/// `weight` and `bias`.
///
/// Statistics are accumulated in double precision (two passes: mean, then squared deviations),
/// so the result does not drift on the 6-million-element groups of the 4-D learner.
public struct GroupNorm {
    public var groupCount: Int
    public var weight: Tensor   // [C]
    public var bias: Tensor     // [C]
    public var eps: Float

    public init(groupCount: Int, weight: Tensor, bias: Tensor, eps: Float = 1e-5) {
        if let problem = GroupNorm.parameterProblem(groupCount: groupCount, weight: weight, bias: bias) {
            preconditionFailure("GroupNorm: \(problem)")
        }
        self.groupCount = groupCount
        self.weight = weight
        self.bias = bias
        self.eps = eps
    }

    /// Checks parameters that come from a file; `name` says where they come from.
    public static func validate(groupCount: Int, weight: Tensor, bias: Tensor, name: String) throws {
        if let problem = parameterProblem(groupCount: groupCount, weight: weight, bias: bias) {
            throw InputError("\(name): \(problem)")
        }
    }

    static func parameterProblem(groupCount: Int, weight: Tensor, bias: Tensor) -> String? {
        guard weight.rank == 1, weight.count > 0 else { return "weight must be [C], got \(weight.shapeDescription)" }
        guard bias.shape == weight.shape else {
            return "bias \(bias.shapeDescription) must match weight \(weight.shapeDescription)"
        }
        guard groupCount > 0, weight.count % groupCount == 0 else {
            return "\(weight.count) channels cannot be split into \(groupCount) groups"
        }
        return nil
    }

    public var channels: Int { weight.count }

    func checkInput(_ shape: [Int], _ what: String) {
        precondition(shape.count >= 2 && shape[1] == channels,
                     "GroupNorm.\(what): expected an input [N, \(channels), ...], got \(shape)")
    }

    /// Per-sample, per-group mean and 1/sqrt(var + eps), [N * groups] each.
    func statistics(_ x: UnsafePointer<Float>, samples: Int, planeSize: Int) -> (mean: [Double], rstd: [Double]) {
        let perGroup = channels / groupCount
        let planes = samples * channels
        let groupSize = Double(perGroup * planeSize)
        let minimumChunk = max(1, 65_536 / max(planeSize, 1))
        // Pass 1: channel sums, in parallel over (sample, channel) planes.
        var planeSums = [Double](repeating: 0, count: planes)
        planeSums.withUnsafeMutableBufferPointer { sums in
            let s = sums.baseAddress!
            parallelFor(planes, minimumChunk: minimumChunk) { range in
                for plane in range { s[plane] = sumOfPlane(x + plane * planeSize, count: planeSize) }
            }
        }
        var mean = [Double](repeating: 0, count: samples * groupCount)
        for group in 0..<samples * groupCount {
            var total = 0.0
            for c in 0..<perGroup { total += planeSums[group * perGroup + c] }
            mean[group] = total / groupSize
        }
        // Pass 2: squared deviations from the group mean.
        var planeSquares = [Double](repeating: 0, count: planes)
        planeSquares.withUnsafeMutableBufferPointer { squares in
            let s = squares.baseAddress!
            mean.withUnsafeBufferPointer { means in
                parallelFor(planes, minimumChunk: minimumChunk) { range in
                    for plane in range {
                        let m = Float(means[plane / perGroup])
                        s[plane] = sumOfSquaredDeviations(x + plane * planeSize, count: planeSize, from: m)
                    }
                }
            }
        }
        var rstd = [Double](repeating: 0, count: samples * groupCount)
        for group in 0..<samples * groupCount {
            var total = 0.0
            for c in 0..<perGroup { total += planeSquares[group * perGroup + c] }
            rstd[group] = 1 / (total / groupSize + Double(eps)).squareRoot()
        }
        return (mean, rstd)
    }

    // MARK: Forward

    public func forward(_ x: Tensor) -> Tensor {
        checkInput(x.shape, "forward")
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { xb in
                normalize(xb.baseAddress!, into: out.baseAddress!, shape: x.shape)
            }
        }
    }

    /// The forward pass in place, for inference: no second buffer for the learner's large
    /// 4-D activations. (Training keeps the input for `backwardInput` and uses `forward`.)
    public func apply(to x: inout Tensor) {
        checkInput(x.shape, "apply")
        let shape = x.shape
        x.withUnsafeMutableBufferPointer { xb in
            normalize(UnsafePointer(xb.baseAddress!), into: xb.baseAddress!, shape: shape)
        }
    }

    /// y = (x - mean) * rstd * w + b per group, as the per-channel affine map x * scale + shift;
    /// `destination` may be `source` (each element is read before it is written).
    private func normalize(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>, shape: [Int]) {
        let samples = shape[0]
        let planeSize = shape.dropFirst(2).reduce(1, *)
        let perGroup = channels / groupCount
        let channels = self.channels
        let (mean, rstd) = statistics(source, samples: samples, planeSize: planeSize)
        weight.withUnsafeBufferPointer { wb in
            bias.withUnsafeBufferPointer { bb in
                parallelFor(samples * channels, minimumChunk: max(1, 65_536 / max(planeSize, 1))) { range in
                    for plane in range {
                        let c = plane % channels
                        let group = plane / perGroup
                        let scale = Float(rstd[group] * Double(wb[c]))
                        let shift = Float(Double(bb[c]) - mean[group] * rstd[group] * Double(wb[c]))
                        let src = source + plane * planeSize
                        let dst = destination + plane * planeSize
                        for i in 0..<planeSize { dst[i] = src[i] * scale + shift }
                    }
                }
            }
        }
    }

    // MARK: Backward

    /// Per (sample, channel): the sums of dy and of dy * (x - mean), centred so that the
    /// weight gradient does not come from the difference of two large sums.
    func gradientSums(_ gy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, mean: [Double], samples: Int,
                      planeSize: Int) -> (dy: [Double], dyx: [Double]) {
        let planes = samples * channels
        let perGroup = channels / groupCount
        var sumDy = [Double](repeating: 0, count: planes)
        var sumDyX = [Double](repeating: 0, count: planes)
        sumDy.withUnsafeMutableBufferPointer { sd in
            sumDyX.withUnsafeMutableBufferPointer { sdx in
                let a = sd.baseAddress!
                let b = sdx.baseAddress!
                parallelFor(planes, minimumChunk: max(1, 65_536 / max(planeSize, 1))) { range in
                    for plane in range {
                        let sums = sumsOfProducts(gy + plane * planeSize, x + plane * planeSize, count: planeSize,
                                                  center: Float(mean[plane / perGroup]))
                        a[plane] = sums.first
                        b[plane] = sums.products
                    }
                }
            }
        }
        return (sumDy, sumDyX)
    }

    /// The gradient with respect to the input; statistics are recomputed from `input`.
    ///
    /// With xhat = (x - mean) * rstd and g = dy * weight, per group of n elements:
    /// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), written per channel as
    /// dx = rstd * w_c * dy + k1 * (x - mean) + k0 with group constants k1 and k0.
    public func backwardInput(_ gradOutput: Tensor, input: Tensor) -> Tensor {
        checkInput(input.shape, "backwardInput")
        precondition(gradOutput.shape == input.shape,
                     "GroupNorm.backwardInput: gradOutput \(gradOutput.shapeDescription) and input \(input.shapeDescription) differ")
        let samples = input.shape[0]
        let planeSize = input.shape.dropFirst(2).reduce(1, *)
        let perGroup = channels / groupCount
        let groups = samples * groupCount
        let n = Double(perGroup * planeSize)
        return Tensor(shape: input.shape) { out in
            let gx = out.baseAddress!
            input.withUnsafeBufferPointer { xb in
                gradOutput.withUnsafeBufferPointer { gb in
                    let xp = xb.baseAddress!
                    let gy = gb.baseAddress!
                    let (mean, rstd) = statistics(xp, samples: samples, planeSize: planeSize)
                    let (sumDy, sumDyX) = gradientSums(gy, xp, mean: mean, samples: samples, planeSize: planeSize)
                    var xCoefficient = [Double](repeating: 0, count: groups)
                    var constant = [Double](repeating: 0, count: groups)
                    for group in 0..<groups {
                        var a = 0.0   // sum over the group of w * dy * (x - mean)
                        var b = 0.0   // sum over the group of w * dy
                        for k in 0..<perGroup {
                            let plane = group * perGroup + k
                            let w = Double(weight.scalars[plane % channels])
                            a += w * sumDyX[plane]
                            b += w * sumDy[plane]
                        }
                        let r = rstd[group]
                        let k1 = -a * r * r * r / n
                        xCoefficient[group] = k1
                        constant[group] = -b * r / n
                    }
                    weight.withUnsafeBufferPointer { wb in
                        parallelFor(samples * channels, minimumChunk: max(1, 65_536 / max(planeSize, 1))) { range in
                            for plane in range {
                                let group = plane / perGroup
                                let dyScale = Float(rstd[group] * Double(wb[plane % channels]))
                                let xScale = Float(xCoefficient[group])
                                let shift = Float(constant[group])
                                let m = Float(mean[group])
                                let g = gy + plane * planeSize
                                let xs = xp + plane * planeSize
                                let dst = gx + plane * planeSize
                                for i in 0..<planeSize { dst[i] = dyScale * g[i] + xScale * (xs[i] - m) + shift }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The gradients of `weight` (sum of dy * xhat) and `bias` (sum of dy) over samples and positions.
    public func parameterGradients(_ gradOutput: Tensor, input: Tensor) -> (weight: Tensor, bias: Tensor) {
        checkInput(input.shape, "parameterGradients")
        precondition(gradOutput.shape == input.shape,
                     "GroupNorm.parameterGradients: gradOutput \(gradOutput.shapeDescription) and input \(input.shapeDescription) differ")
        let samples = input.shape[0]
        let planeSize = input.shape.dropFirst(2).reduce(1, *)
        let perGroup = channels / groupCount
        var gradWeight = [Double](repeating: 0, count: channels)
        var gradBias = [Double](repeating: 0, count: channels)
        input.withUnsafeBufferPointer { xb in
            gradOutput.withUnsafeBufferPointer { gb in
                let (mean, rstd) = statistics(xb.baseAddress!, samples: samples, planeSize: planeSize)
                let (sumDy, sumDyX) = gradientSums(gb.baseAddress!, xb.baseAddress!, mean: mean, samples: samples,
                                                   planeSize: planeSize)
                for plane in 0..<samples * channels {
                    let c = plane % channels
                    let group = plane / perGroup
                    gradWeight[c] += rstd[group] * sumDyX[plane]
                    gradBias[c] += sumDy[plane]
                }
            }
        }
        return (Tensor(shape: [channels], scalars: gradWeight.map { Float($0) }),
                Tensor(shape: [channels], scalars: gradBias.map { Float($0) }))
    }
}

/// Sum of (x - m)^2 over `count` floats: float lanes over short blocks, double across blocks.
@inlinable
public func sumOfSquaredDeviations(_ p: UnsafePointer<Float>, count: Int, from m: Float) -> Double {
    var total = 0.0
    var i = 0
    let center = SIMD8<Float>(repeating: m)
    while i + 8 <= count {
        var lanes = SIMD8<Float>(repeating: 0)
        let blockEnd = min(count - (count - i) % 8, i + 512)
        while i < blockEnd {
            let d = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) - center
            lanes += d * d
            i += 8
        }
        total += Double(lanes.sum())
    }
    while i < count {
        let d = Double(p[i]) - Double(m)
        total += d * d
        i += 1
    }
    return total
}

/// The sums of a and of a * (b - center) over `count` floats, accumulated as `sumOfPlane` does.
@inlinable
public func sumsOfProducts(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, center: Float = 0)
    -> (first: Double, products: Double) {
    let shift = SIMD8<Float>(repeating: center)
    var totalA = 0.0
    var totalAB = 0.0
    var i = 0
    while i + 8 <= count {
        var lanesA = SIMD8<Float>(repeating: 0)
        var lanesAB = SIMD8<Float>(repeating: 0)
        let blockEnd = min(count - (count - i) % 8, i + 512)
        while i < blockEnd {
            let va = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            let vb = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self) - shift
            lanesA += va
            lanesAB += va * vb
            i += 8
        }
        totalA += Double(lanesA.sum())
        totalAB += Double(lanesAB.sum())
    }
    while i < count {
        totalA += Double(a[i])
        totalAB += Double(a[i]) * (Double(b[i]) - Double(center))
        i += 1
    }
    return (totalA, totalAB)
}
