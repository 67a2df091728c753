/// The element types a PyTorch checkpoint can store, named as torch prints them (`torch.float32` is `.float32`).
///
/// Floating-point types are converted to float32 when a state dict is loaded, the way
/// `load_state_dict` copies into float32 parameters; integer and boolean tensors (such as
/// BatchNorm's `num_batches_tracked`) are listed but not loaded; the rest can only be listed.
public enum TorchDType: String, CaseIterable, Sendable {
    case float32, float64, float16, bfloat16
    case complex32, complex64, complex128
    case int64, int32, int16, int8, uint8, uint16, uint32, uint64, bool
    case qint8, quint8, qint32, quint4x2, quint2x4
    case float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz, float8_e8m0fnu

    /// Bytes per element in a storage record.
    public var byteCount: Int {
        switch self {
        case .float64, .complex64, .int64, .uint64: return 8
        case .complex128: return 16
        case .float32, .complex32, .int32, .uint32, .qint32: return 4
        case .float16, .bfloat16, .int16, .uint16: return 2
        case .int8, .uint8, .bool, .qint8, .quint8, .quint4x2, .quint2x4,
             .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu: return 1
        }
    }

    /// Real floating-point types we convert to float32 when loading.
    /// The float format this dtype decodes with, for the dtypes loaded as float32.
    var scalarFormat: ScalarFormat? {
        switch self {
        case .float32: return .float32
        case .float64: return .float64
        case .float16: return .float16
        case .bfloat16: return .bfloat16
        default: return nil
        }
    }

    public var isLoadable: Bool {
        switch self {
        case .float32, .float64, .float16, .bfloat16: return true
        default: return false
        }
    }

    /// Integer and boolean types: counters and indices, listed but never loaded as weights.
    public var isInteger: Bool {
        switch self {
        case .int64, .int32, .int16, .int8, .uint8, .uint16, .uint32, .uint64, .bool: return true
        default: return false
        }
    }

    /// The dtype of a legacy storage class such as `torch.FloatStorage` (the name without `torch.`).
    init?(storageClassName name: String) {
        switch name {
        case "FloatStorage": self = .float32
        case "DoubleStorage": self = .float64
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "ComplexFloatStorage": self = .complex64
        case "ComplexDoubleStorage": self = .complex128
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage": self = .uint8
        case "BoolStorage": self = .bool
        case "QInt8Storage": self = .qint8
        case "QUInt8Storage": self = .quint8
        case "QInt32Storage": self = .qint32
        case "QUInt4x2Storage": self = .quint4x2
        case "QUInt2x4Storage": self = .quint2x4
        default: return nil
        }
    }
}
