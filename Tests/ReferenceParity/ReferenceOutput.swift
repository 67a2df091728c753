import Foundation
import TensorCore

/// Parity bounds that follow from the numerics, not from what one machine printed.
///
/// Each parity fixture holds an output twice: as the published code computed it in float32
/// (`NAME.safetensors`) and in float64 from the same float32 inputs and weights
/// (`NAME.float64.safetensors`, made by `scripts/fixtures/float64_references.py`). The float64
/// result stands for the exact answer; the distance of the float32 result from it is the
/// reference's own rounding error on that output. Our float32 result is compared with the
/// float64 one, and may land at most `multiple(longestSum:)` times as far from it as the
/// reference's float32 result does.
public enum ParityBound {
    /// float32's unit roundoff, 2^-24. A reference whose float32 result happens to be exact
    /// (a max-pool, a copy) still gets a bound of a few roundings, never zero.
    public static let unitRoundoff = 0x1p-24

    /// The smallest multiple: our kernels evaluate the same operations in another order
    /// (blocked GEMMs, a direct DFT instead of pocketfft, other thread splits), so even short
    /// sums round differently; a few times the reference's error covers the constants (FMA
    /// or not, block sizes), and 10 leaves room on every machine and thread count while
    /// staying orders of magnitude below the error of a wrong index, sign or term.
    public static let referenceMultiple = 10.0

    /// The multiple for an output whose longest float32 reduction (one dot product inside a
    /// GEMM, one pooled mean, one weight gradient's sum over positions) has `n` terms. The
    /// rounding error of a sum grows with the square root of its longest chain of dependent
    /// additions: a tree or many accumulators keep the chain short (about log n), a
    /// register-blocked GEMM kernel (OpenBLAS's Haswell kernels, for one) adds all n terms in
    /// one chain. Two correct float32 evaluations of the same sum can therefore differ in
    /// error by up to sqrt(n), whichever of them the reference happened to use.
    public static func multiple(longestSum n: Int) -> Double {
        max(referenceMultiple, Double(max(n, 1)).squareRoot())
    }
}

/// How two tensors are compared.
public enum ErrorMetric: String {
    /// max |a - e| / max |e|: for outputs, where every element matters at the tensor's scale.
    case maxRelative = "max |a-e| / max |e|"
    /// ||a - e|| / ||e||: for gradients summed over many terms, compared as vectors.
    case normRelative = "||a-e|| / ||e||"

    func error(_ actual: UnsafeBufferPointer<Float>, _ expected: [Double]) -> Double {
        precondition(actual.count == expected.count, "\(actual.count) against \(expected.count) elements")
        var difference = 0.0
        var scale = 0.0
        for i in 0..<expected.count {
            let d = abs(Double(actual[i]) - expected[i])
            switch self {
            case .maxRelative:
                difference = max(difference, d)
                scale = max(scale, abs(expected[i]))
            case .normRelative:
                difference += d * d
                scale += expected[i] * expected[i]
            }
        }
        if self == .normRelative { (difference, scale) = (difference.squareRoot(), scale.squareRoot()) }
        return scale == 0 ? difference : difference / scale
    }
}

/// The outcome of one parity check, with the numbers that explain it.
public struct ParityCheck: CustomStringConvertible {
    public let name: String
    public let metric: ErrorMetric
    /// Ours against the float64 reference.
    public let error: Double
    /// The float32 reference against the float64 one.
    public let referenceError: Double
    public let multiple: Double

    public var bound: Double { multiple * max(referenceError, ParityBound.unitRoundoff) }
    public var passed: Bool { error <= bound }

    public var description: String {
        String(format: "%@: %.2e against float64 (%@); the reference's own float32 error %.2e, bound %g x max(that, 2^-24) = %.2e",
               name, error, metric.rawValue, referenceError, multiple, bound)
    }
}

/// One output of a parity fixture, in float32 and in float64.
public struct ReferenceOutput {
    public let name: String
    public let float32: Tensor
    public let float64: [Double]

    public init(name: String, float32: Tensor, float64: [Double]) {
        precondition(float32.count == float64.count, "\(name): float32 and float64 references differ in size")
        self.name = name
        self.float32 = float32
        self.float64 = float64
    }

    public var shape: [Int] { float32.shape }

    /// The reference's own error under `metric`.
    public func referenceError(_ metric: ErrorMetric) -> Double {
        float32.withUnsafeBufferPointer { metric.error($0, float64) }
    }

    /// `ours` against the float64 reference, with the bound the reference's own error sets
    /// for an output whose longest reduction has `longestSum` terms.
    public func check(_ ours: Tensor, metric: ErrorMetric = .maxRelative, longestSum: Int = 1) -> ParityCheck {
        let multiple = ParityBound.multiple(longestSum: longestSum)
        precondition(ours.shape == shape, "\(name): shape \(ours.shape) against the reference's \(shape)")
        return ParityCheck(name: name, metric: metric, error: ours.withUnsafeBufferPointer { metric.error($0, float64) },
                           referenceError: referenceError(metric), multiple: multiple)
    }
}

/// A parity fixture `NAME.safetensors` with its float64 companion `NAME.float64.safetensors`.
public struct ReferenceFixture {
    public let name: String
    public let float32: SafetensorsFile
    let float64: [String: (shape: [Int], values: [Double])]

    public init(_ url: URL) throws {
        name = url.lastPathComponent
        float32 = try SafetensorsFile.read(url)
        let companion = url.deletingPathExtension().appendingPathExtension("float64.safetensors")
        float64 = try Self.readFloat64(companion)
    }

    /// An input of the fixture (float32 only).
    public func tensor(_ key: String) throws -> Tensor { try float32.tensor(key, in: name) }

    /// An output of the fixture, in both precisions.
    public func output(_ key: String) throws -> ReferenceOutput {
        let reference = try tensor(key)
        guard let exact = float64[key] else { throw InputError("\(name): no float64 reference for \"\(key)\"") }
        guard exact.shape == reference.shape else {
            throw InputError("\(name): float64 \"\(key)\" is \(exact.shape), float32 is \(reference.shape)")
        }
        return ReferenceOutput(name: key, float32: reference, float64: exact.values)
    }

    /// The F64 tensors of a safetensors file as doubles (SafetensorsFile rounds to float32).
    static func readFloat64(_ url: URL) throws -> [String: (shape: [Int], values: [Double])] {
        let data = try Data(contentsOf: url)
        guard data.count >= 8 else { throw InputError("\(url.lastPathComponent): too short") }
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard headerLength <= data.count - 8,
              let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as? [String: Any]
        else { throw InputError("\(url.lastPathComponent): unreadable header") }
        var tensors: [String: (shape: [Int], values: [Double])] = [:]
        for (key, value) in header where key != "__metadata__" {
            guard let entry = value as? [String: Any], entry["dtype"] as? String == "F64",
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw InputError("\(url.lastPathComponent): \"\(key)\" is not a float64 tensor") }
            let start = 8 + headerLength + offsets[0], end = 8 + headerLength + offsets[1]
            let count = shape.reduce(1, *)
            guard start <= end, end <= data.count, end - start == 8 * count else {
                throw InputError("\(url.lastPathComponent): \"\(key)\" has a bad byte range")
            }
            let values = data.subdata(in: start..<end).withUnsafeBytes { raw in
                (0..<count).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
            }
            tensors[key] = (shape, values)
        }
        return tensors
    }
}
