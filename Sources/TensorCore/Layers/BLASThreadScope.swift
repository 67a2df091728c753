/// Runs `body` with OpenBLAS set to `count` threads, then restores the previous setting.
///
/// Kernels that split their work over the cores themselves (each worker calling `gemm` on
/// its own slice) run inside `withBLASThreads(1)`, so that the two kinds of threading never
/// compete for the same cores.
@discardableResult
public func withBLASThreads<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
    let previous = BLASThreads.current
    if previous == count { return try body() }
    BLASThreads.set(count)
    defer { BLASThreads.set(previous) }
    return try body()
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
