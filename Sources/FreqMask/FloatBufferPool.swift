import Foundation

/// Keeps released work buffers for reuse, so that a training loop does not allocate (and
/// page-fault in) tens of megabytes of tape at every step.
final class FloatBufferPool: @unchecked Sendable {
    static let shared = FloatBufferPool()

    /// At most this many idle buffers are kept; the oldest go first.
    private let capacity = 32
    private let lock = NSLock()
    private var idle: [FloatBuffer] = []

    /// A buffer of exactly `count` floats with unspecified contents.
    func take(count: Int) -> FloatBuffer {
        lock.lock()
        defer { lock.unlock() }
        if let index = idle.lastIndex(where: { $0.count == count }) {
            return idle.remove(at: index)
        }
        return FloatBuffer(uninitializedCount: count)
    }

    func recycle(_ buffer: FloatBuffer) {
        lock.lock()
        defer { lock.unlock() }
        idle.append(buffer)
        if idle.count > capacity { idle.removeFirst() }
    }
}
