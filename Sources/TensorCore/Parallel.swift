import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The number of cores work is split over (all of them unless `CDFSS_THREADS` says otherwise).
public let workerCount: Int = {
    if let text = getenvString("CDFSS_THREADS"), let n = Int(text), n > 0 { return n }
    return max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
}()

func getenvString(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}

/// Runs `body(range)` over `0..<count` split into contiguous chunks, one chunk per worker.
/// Small counts (under `minimumChunk` per worker) run inline on the caller's thread.
public func parallelFor(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let chunks = min(workerCount, max(1, count / max(1, minimumChunk)))
    if chunks == 1 {
        body(0..<count)
        return
    }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks
            let end = count * (chunk + 1) / chunks
            if start < end { body(start..<end) }
        }
    }
}
