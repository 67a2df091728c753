import Datasets
import Foundation

/// A least-recently-used cache whose entries have a size in bytes and whose total stays
/// within a budget: adding an entry evicts the entries used longest ago until it fits. An
/// entry larger than the whole budget is computed and returned but not kept, so a small
/// budget costs time, never correctness. Safe to use from several threads (values are
/// computed outside the lock; two threads missing the same key both compute it).
public final class MemoryBoundedCache<Key: Hashable, Value> {
    public let budgetBytes: Int
    private var entries: [Key: (value: Value, bytes: Int, lastUse: UInt64)] = [:]
    private var clock: UInt64 = 0
    private let lock = NSLock()
    public private(set) var storedBytes = 0
    public private(set) var hits = 0
    public private(set) var misses = 0
    public private(set) var evictions = 0

    public init(budgetBytes: Int) {
        precondition(budgetBytes >= 0)
        self.budgetBytes = budgetBytes
    }

    /// The cached value for `key`, or `compute()`'s result, kept when it fits the budget.
    public func value(for key: Key, bytes: (Value) -> Int, compute: () throws -> Value) rethrows -> Value {
        if let found = lookUp(key) { return found }
        let value = try compute()
        insert(value, bytes: bytes(value), for: key)
        return value
    }

    /// The cached value for `key`, counting a hit or a miss.
    public func lookUp(_ key: Key) -> Value? {
        lock.lock()
        defer { lock.unlock() }
        clock += 1
        guard let entry = entries[key] else {
            misses += 1
            return nil
        }
        hits += 1
        entries[key]!.lastUse = clock
        return entry.value
    }

    public func contains(_ key: Key) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return entries[key] != nil
    }

    /// Keeps `value` under `key` when it fits the budget, evicting the least recently used
    /// entries to make room.
    public func insert(_ value: Value, bytes: Int, for key: Key) {
        lock.lock()
        defer { lock.unlock() }
        if let old = entries.removeValue(forKey: key) { storedBytes -= old.bytes }
        guard bytes <= budgetBytes else { return }
        while storedBytes + bytes > budgetBytes, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            storedBytes -= oldest.value.bytes
            entries.removeValue(forKey: oldest.key)
            evictions += 1
        }
        clock += 1
        entries[key] = (value, bytes, clock)
        storedBytes += bytes
    }

    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }
}
