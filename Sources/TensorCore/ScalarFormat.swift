/// The floating-point storage formats we read; all are converted to float32.
public enum ScalarFormat: Sendable {
    case float32, float64, float16, bfloat16

    public init?(safetensorsName: String) {
        switch safetensorsName {
        case "F32": self = .float32
        case "F64": self = .float64
        case "F16": self = .float16
        case "BF16": self = .bfloat16
        default: return nil
        }
    }

    public var byteCount: Int {
        switch self {
        case .float64: return 8
        case .float32: return 4
        case .float16, .bfloat16: return 2
        }
    }

    /// Decodes `count` little-endian scalars from `bytes` into float32.
    public func decode(_ bytes: UnsafeRawBufferPointer, count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, initialized in
            decode(bytes, count: count, into: out.baseAddress!)
            initialized = count
        }
    }

    /// Decodes `count` little-endian scalars from `bytes` into `out`.
    public func decode(_ bytes: UnsafeRawBufferPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        switch self {
        case .float32:
            #if _endian(little)
            UnsafeMutableRawPointer(out).copyMemory(from: bytes.baseAddress!, byteCount: 4 * count)
            #else
            for i in 0..<count {
                out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            #endif
        case .float64:
            // Rounded to nearest, as PyTorch's copy into a float32 parameter does.
            for i in 0..<count {
                out[i] = Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            }
        case .float16:
            for i in 0..<count {
                out[i] = floatFromHalf(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        case .bfloat16:
            for i in 0..<count {
                let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                out[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        }
    }
}

/// IEEE half precision to float32, exact (including subnormals, infinities and NaN).
@inlinable
public func floatFromHalf(_ bits: UInt16) -> Float {
    let sign = UInt32(bits >> 15) << 31
    let exponent = Int((bits >> 10) & 0x1f)
    let mantissa = UInt32(bits & 0x3ff)
    if exponent == 0x1f {
        return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
    }
    if exponent == 0 {
        // Zero or subnormal: mantissa * 2^-24.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign != 0 ? -magnitude : magnitude
    }
    return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
}
