/// The "det-fill" weights of the whole-model fixtures: every value is a function of the
/// parameter's name and its element index, so the Swift and PyTorch sides build the same model
/// without storing it. Each element is computed in double precision and rounded to float32 once.
///
/// For element i of NAME: h = FNV-1a-64("shared:" + NAME); x = h + i * 0x9E3779B97F4A7C15,
/// mixed by the splitmix64 finaliser; u = (x >> 11) * 2^-53 in [0, 1); s = 2u - 1. The value
/// depends on the name, first matching rule wins:
///
/// | name                                   | value                                   |
/// |----------------------------------------|-----------------------------------------|
/// | ends with `num_batches_tracked`        | 0                                       |
/// | ends with `running_var`                | 1 + 0.5 u                               |
/// | ends with `running_mean`               | 0.1 s                                   |
/// | ends with `.bias`                      | 0.1 s                                   |
/// | ends with `mask_amplitude`/`mask_phase`| 1 + s                                   |
/// | `.weight` with 2 or more dimensions    | s * sqrt(6 / fan_in), fan_in = count / shape[0] |
/// | `layer<d>.<d>.bn3.weight`              | 0.2 + 0.05 s                            |
/// | any other `.weight`                    | 1 + 0.1 s                               |
///
/// A name no rule covers gets s.
public func detFill(name: String, shape: [Int]) -> Tensor {
    let count = shape.reduce(1, *)
    let rule = DetFillRule(name: name, shape: shape)
    let seed = fnv1a64("shared:" + name)
    return Tensor(shape: shape) { out in
        let base = out.baseAddress
        parallelFor(count, minimumChunk: 1 << 16) { range in
            guard let base else { return }
            for i in range {
                var x = seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15
                x ^= x >> 33
                x = x &* 0xFF51_AFD7_ED55_8CCD
                x ^= x >> 33
                x = x &* 0xC4CE_B9FE_1A85_EC53
                x ^= x >> 33
                let u = Double(x >> 11) * 0x1p-53
                base[i] = Float(rule.value(u))
            }
        }
    }
}

/// Which det-fill formula a parameter name selects.
private enum DetFillRule {
    case zero, runningVariance, smallSigned, mask, heUniform(scale: Double), lastBatchNormWeight, normWeight, signed

    init(name: String, shape: [Int]) {
        if name.hasSuffix("num_batches_tracked") {
            self = .zero
        } else if name.hasSuffix("running_var") {
            self = .runningVariance
        } else if name.hasSuffix("running_mean") || name.hasSuffix(".bias") {
            self = .smallSigned
        } else if name.hasSuffix("mask_amplitude") || name.hasSuffix("mask_phase") {
            self = .mask
        } else if name.hasSuffix(".weight") && shape.count >= 2 {
            let fanIn = shape.dropFirst().reduce(1, *)
            self = .heUniform(scale: (6.0 / Double(fanIn)).squareRoot())
        } else if name.hasSuffix(".weight") && DetFillRule.isLastBatchNormOfBlock(name) {
            self = .lastBatchNormWeight
        } else if name.hasSuffix(".weight") {
            self = .normWeight
        } else {
            self = .signed
        }
    }

    /// `...layer<d>.<d>.bn3.weight`: the BatchNorm closing a bottleneck block.
    static func isLastBatchNormOfBlock(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[parts.count - 1] == "weight", parts[parts.count - 2] == "bn3" else { return false }
        let block = parts[parts.count - 3]
        let layer = parts[parts.count - 4]
        return !block.isEmpty && block.allSatisfy(\.isASCIIDigit)
            && layer.hasPrefix("layer") && layer.count > 5 && layer.dropFirst(5).allSatisfy(\.isASCIIDigit)
    }

    @inline(__always)
    func value(_ u: Double) -> Double {
        let s = 2 * u - 1
        switch self {
        case .zero: return 0
        case .runningVariance: return 1 + 0.5 * u
        case .smallSigned: return 0.1 * s
        case .mask: return 1 + s
        case .heUniform(let scale): return s * scale
        case .lastBatchNormWeight: return 0.2 + 0.05 * s
        case .normWeight: return 1 + 0.1 * s
        case .signed: return s
        }
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// FNV-1a, 64 bits, of a text's UTF-8 bytes: a stable hash of a parameter name, for values
/// and seeds that must not depend on the machine or the run.
public func fnv1a64(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return hash
}
