import Dispatch

/// Wall-clock timings for benchmarks.
public enum Timing {
    /// Seconds since an arbitrary origin, monotonic.
    public static func now() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) * 1e-9
    }

    /// Runs `body` `warmup` times untimed, then `runs` times timed; returns each run's seconds.
    public static func measure(runs: Int, warmup: Int = 1, _ body: () throws -> Void) rethrows -> [Double] {
        for _ in 0..<warmup { try body() }
        var seconds: [Double] = []
        for _ in 0..<runs {
            let start = now()
            try body()
            seconds.append(now() - start)
        }
        return seconds
    }

    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
