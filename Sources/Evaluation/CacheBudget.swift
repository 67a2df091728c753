import Datasets
import TensorCore

/// The memory a command may keep cached features in, given in MiB on the command line
/// (`--cache-mb`). The budget only bounds what is kept (less recomputes more), so any value up
/// to the limit is accepted; the conversion to bytes is checked rather than shifted, which
/// would wrap for values past 2^43.
public enum CacheBudget {
    /// 1 TiB: more memory than any machine cdfss runs on, far below where bytes overflow.
    public static let maximumMebibytes = 1 << 20

    /// `mebibytes` in bytes, after checking it is within 0...`maximumMebibytes`.
    public static func bytes(mebibytes: Int, option: String = "--cache-mb") throws -> Int {
        guard mebibytes >= 0 else { throw InputError("\(option) \(mebibytes): expected 0 or more") }
        guard mebibytes <= maximumMebibytes else {
            throw InputError("\(option) \(mebibytes): at most \(maximumMebibytes) (1 TiB)")
        }
        return mebibytes * (1 << 20)
    }
}
