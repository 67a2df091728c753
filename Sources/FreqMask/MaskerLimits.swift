import TensorCore

/// The largest maskers cdfss creates. HSNet's layer-4 maskers are 2048 x 13 x 13 (346,112
/// values per mask); the limits leave room for wider backbones and larger feature maps while
/// keeping a fresh masker (two masks, the ACPA weights, and Adam's two moments per value when
/// it is fine-tuned) within a few GiB. Sizes are compared one by one and multiplied with
/// overflow checks, so no size a user types can trap or ask for an impossible allocation.
public enum MaskerLimits {
    /// Feature channels C (APM-M masks and ACPA).
    public static let maximumChannels = 65_536
    /// Feature height H and width W.
    public static let maximumSide = 4_096
    /// Values in one mask: C x H x W for APM-M, H x W for APM-S (2^26, 256 MiB of float32).
    public static let maximumMaskValues = 1 << 26

    /// Checks the dimensions of a fresh masker; `perChannel` is APM-M (one mask plane per
    /// channel), `amplitudePhase` false means ACPA only (whose size depends on C alone).
    /// Errors name the command-line options.
    public static func check(channels: Int, height: Int, width: Int, perChannel: Bool, amplitudePhase: Bool = true) throws {
        for (option, value, limit) in [("--channels", channels, maximumChannels), ("--height", height, maximumSide),
                                       ("--width", width, maximumSide)] {
            guard value >= 1 else { throw InputError("\(option) \(value): expected at least 1") }
            guard value <= limit else { throw InputError("\(option) \(value): at most \(limit) (see the README's limits)") }
        }
        guard amplitudePhase else { return }
        let planes = perChannel ? channels : 1
        let (plane, planeOverflow) = height.multipliedReportingOverflow(by: width)
        let (values, overflow) = plane.multipliedReportingOverflow(by: planes)
        guard !planeOverflow, !overflow, values <= maximumMaskValues else {
            throw InputError("a mask of \(planes) x \(height) x \(width) values is larger than the \(maximumMaskValues) cdfss allows (256 MiB of float32)")
        }
    }
}
