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
/// Small counts (under `minimumChunk` per worker) run inline on the caller's thread. Inside
/// `body` the cores are taken: matrix products stay on their thread (`insideParallelWork`).
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
            if start < end { ParallelWork.marking { body(start..<end) } }
        }
    }
}

/// Splits `count` tasks over the workers round-robin (task t goes to worker t % workers) and
/// calls `body(worker, tasks)` once per worker with its tasks, so a worker allocates its
/// scratch buffers once for all of them. Round-robin keeps the load even when tasks near
/// the borders are cheaper. Workers are numbered from 0 to min(maximumWorkers,
/// workerCount, count) - 1, so callers can keep per-worker results.
public func parallelTasks(_ count: Int, maximumWorkers: Int = workerCount,
                          _ body: (_ worker: Int, _ tasks: StrideTo<Int>) -> Void) {
    guard count > 0 else { return }
    let workers = max(1, min(maximumWorkers, workerCount, count))
    parallelFor(workers) { range in
        for worker in range {
            body(worker, stride(from: worker, to: count, by: workers))
        }
    }
}

/// Whether the calling thread runs one share of work already split over the cores. `gemm`
/// splits a large product over the cores only outside such work: inside it, the other
/// cores are busy with the other shares.
public var insideParallelWork: Bool { ParallelWork.isMarked }

enum ParallelWork {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    static var isMarked: Bool { pthread_getspecific(key) != nil }

    /// Runs `body` with the calling thread marked as running a share of parallel work.
    static func marking<R>(_ body: () throws -> R) rethrows -> R {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(key, previous) }
        return try body()
    }
}
