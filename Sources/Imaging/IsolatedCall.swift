import Dispatch
import Foundation

/// Runs C library code whose error callback must never return.
///
/// libjpeg's `error_exit` and libpng's `error_fn` are specified not to return: C callers
/// `longjmp` out of them, which Swift cannot do. Returning would let the library carry on
/// with a broken state, and `exit()` would take the whole process down on one bad file.
/// So the library runs on a thread of its own. On success the thread finishes normally;
/// on an error the callback records the message, wakes the caller and parks its thread for
/// good. The caller then reports an `InputError` and frees every buffer it handed to the
/// library (the parked thread never touches them again). The price of a failure is one
/// idle thread with a small stack, so the decoders first check the file's structure in
/// Swift and refuse the usual damage (truncation, bad checksums, bad headers) before the
/// library sees it: this path is the last line of defence, not the normal one.
final class IsolatedCall: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    private var failureMessage: String?

    /// How many threads have been parked by library errors since the process started.
    private static let parkedLock = NSLock()
    nonisolated(unsafe) private static var parked = 0
    static var parkedThreadCount: Int {
        parkedLock.lock(); defer { parkedLock.unlock() }
        return parked
    }

    private init() {}

    /// Runs `body` on a fresh thread and waits for it. Returns nil when `body` returned,
    /// or the message passed to `abandon` when the library gave up.
    static func run(_ body: @escaping (IsolatedCall) -> Void) -> String? {
        let call = IsolatedCall()
        let thread = Thread {
            body(call)
            call.finished.signal()
        }
        // The libraries need little stack; 4 MB leaves room for deep Swift frames too.
        thread.stackSize = 4 << 20
        thread.start()
        call.finished.wait()
        return call.failureMessage
    }

    /// Called on the library's thread from a callback that must not return: hands
    /// `message` to the waiting caller and blocks this thread forever.
    func abandon(_ message: String) -> Never {
        failureMessage = message
        IsolatedCall.parkedLock.lock()
        IsolatedCall.parked += 1
        IsolatedCall.parkedLock.unlock()
        finished.signal()
        let never = DispatchSemaphore(value: 0)
        while true { never.wait() }
    }
}
