/// The largest inputs cdfss agrees to read, in one place.
///
/// Every size read from a file (a shape, a pixel count, a record length, an episode count) is
/// checked against these, with overflow-checked arithmetic, before anything is allocated for
/// it; a file beyond them gets a one-line `InputError` saying which limit it passed. Each limit
/// is far beyond what the published models and benchmarks need (stated beside it), and small
/// enough that a laptop holds what it admits. The README's "Limits" section repeats them.
public enum InputLimits {
    // MARK: Tensors (checkpoints, safetensors, .npy)

    /// Elements of one tensor read from a file: 2^28, 1 GiB as float32. HSNet's largest weight
    /// (ResNet-101's layer-4 convolution) has 2.4 million, a layer-4 feature batch of 64
    /// episodes 22 million.
    public static let tensorElements = 1 << 28

    /// Bytes of float32 values loaded from one file altogether: 4 GiB. An HSNet checkpoint with
    /// a ResNet-101 backbone is 0.2 GiB. Views sharing one storage count once per view, since
    /// each becomes its own tensor.
    public static let loadedBytes = 1 << 32

    /// Bytes a checkpoint's zip records may inflate to altogether: 8 GiB, twice `loadedBytes`
    /// because float16 storages double when converted.
    public static let checkpointBytes = 1 << 33

    /// Bytes of a zip archive's central directory: 64 MiB, about 600,000 records (torch.save
    /// writes one per tensor storage, a few hundred for HSNet).
    public static let zipDirectoryBytes = 1 << 26

    /// Bytes of a checkpoint's pickle (`data.pkl`): 64 MiB. A state dict's pickle is about 40
    /// bytes per tensor (40 KiB for HSNet with ResNet-101); a training checkpoint with its
    /// optimizer state stays under a megabyte.
    public static let pickleBytes = 1 << 26

    /// Nesting of containers in a pickle. Real checkpoints stay under ten; the bound keeps a
    /// hostile pickle from exhausting the stack when its values are released.
    public static let pickleDepth = 1000

    /// Values hashed as dict keys in one pickle, per byte of the pickle (plus `pickleKeyBase`).
    /// A string or int key is one value; a tuple key one per item. The bound keeps keys built
    /// from memo-shared tuples (each level holding the previous one twice, 2^depth values
    /// from a few bytes per level) from taking exponential time and memory.
    public static let pickleKeyValuesPerByte = 4
    public static let pickleKeyBase = 1 << 20

    /// Bytes of a safetensors header: 100 MB, the reference safetensors library's own limit.
    public static let safetensorsHeaderBytes = 100_000_000

    // MARK: Images (PNG, JPEG, TIFF)

    /// Pixels of one picture: 2^27 (134 megapixels, e.g. 16384 x 8192). The largest benchmark
    /// pictures (ISIC's dermoscopy photos) have 30 megapixels; DeepGlobe tiles 6.
    public static let imagePixels = 1 << 27

    /// Scans of a progressive JPEG: 100. Encoders write about ten; every scan passes over
    /// the whole picture again, so a few kilobytes of scan headers could cost minutes.
    public static let jpegScans = 100

    // MARK: Evaluation reports

    /// Episodes of one evaluation run: 10^6. The benchmarks' protocols use 600 to 1000
    /// (FSS-1000: 2400 queries); the bound keeps a report's claim from sizing work and memory.
    public static let episodes = 1_000_000
}

extension InputLimits {
    /// `n` bytes as people read sizes ("1.5 GiB", "64 MiB", "812 bytes").
    public static func describeBytes(_ n: Int) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        guard n >= 1024 else { return "\(n) bytes" }
        var value = Double(n) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let text = value < 10 && value != value.rounded() ? String(format: "%.1f", value) : String(Int(value.rounded()))
        return "\(text) \(units[unit])"
    }

    /// The product of `sizes`, or nil when it overflows an Int (a shape read from a file).
    public static func product(_ sizes: [Int]) -> Int? {
        var total = 1
        for size in sizes {
            let (next, overflow) = total.multipliedReportingOverflow(by: size)
            if overflow { return nil }
            total = next
        }
        return total
    }
}

extension InputLimits {
    /// Checks a shape read from a file and returns its element count. The product of its
    /// sizes, zeros counted as ones, must stay within `tensorElements`: then no product of
    /// any of its sizes, in any order, can overflow in the code that uses the tensor, even
    /// for an empty tensor such as `[0, 2^62, 2^62]`.
    /// Errors are one line without a file name (the caller adds it).
    public static func checkShape(_ shape: [Int]) throws -> Int {
        let text = "[" + shape.map(String.init).joined(separator: ", ") + "]"
        guard shape.allSatisfy({ $0 >= 0 }) else { throw InputError("shape \(text) has a negative size") }
        guard let span = product(shape.map { max($0, 1) }) else {
            throw InputError("shape \(text) has more elements than a 64-bit count holds; at most \(tensorElements) elements (\(describeBytes(4 * tensorElements)) as float32) are read per tensor")
        }
        guard span <= tensorElements else {
            throw InputError("shape \(text) has \(span) elements; at most \(tensorElements) (\(describeBytes(4 * tensorElements)) as float32) are read per tensor")
        }
        return product(shape)!
    }
}
