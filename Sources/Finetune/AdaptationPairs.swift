import Datasets
import Evaluation
import TensorCore

/// One training episode made from the adaptation images: image `support` (with its mask)
/// segments image `query`. From K labelled images every ordered pair is one, i = j included,
/// so a single labelled image still trains (it is its own support).
public struct AdaptationPair: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let support: Int
    public let query: Int

    public init(support: Int, query: Int) {
        self.support = support
        self.query = query
    }

    public static func < (a: AdaptationPair, b: AdaptationPair) -> Bool {
        (a.support, a.query) < (b.support, b.query)
    }

    /// `support>query` with 0-based image indices.
    public var description: String { "\(support)>\(query)" }

    /// Every ordered pair of `count` images, support-major, leaving out pairs whose support
    /// is in `unusableSupports` (images with empty masks); those come back as `skipped`.
    public static func all(imageCount count: Int, unusableSupports: Set<Int> = [])
        -> (usable: [AdaptationPair], skipped: [AdaptationPair]) {
        var usable: [AdaptationPair] = []
        var skipped: [AdaptationPair] = []
        for support in 0..<count {
            for query in 0..<count {
                let pair = AdaptationPair(support: support, query: query)
                if unusableSupports.contains(support) { skipped.append(pair) } else { usable.append(pair) }
            }
        }
        return (usable, skipped)
    }
}

/// Which pairs each fine-tuning step trains on: the pairs are dealt in epochs, each epoch a
/// seeded shuffle of all of them, `batch` consecutive pairs per step (an epoch boundary may
/// fall inside a step). Every pair is seen equally often, and the pairs of step k depend only
/// on (seed, k), so a resumed run draws exactly what an uninterrupted one does.
public struct PairSchedule: Sendable {
    public let pairs: [AdaptationPair]
    public let batch: Int
    public let seed: UInt64

    public init(pairs: [AdaptationPair], batch: Int, seed: UInt64) throws {
        guard !pairs.isEmpty else { throw InputError("no adaptation pair to train on") }
        guard batch >= 1 else { throw InputError("--batch \(batch): expected at least 1 pair per step") }
        self.pairs = pairs
        self.batch = batch
        self.seed = seed
    }

    /// The pairs of step `step` (counted from 0).
    public func pairs(forStep step: Int) -> [AdaptationPair] {
        precondition(step >= 0)
        var result: [AdaptationPair] = []
        var cachedEpoch = -1
        var order: [Int] = []
        for position in (step * batch)..<((step + 1) * batch) {
            let (epoch, offset) = position.quotientAndRemainder(dividingBy: pairs.count)
            if epoch != cachedEpoch {
                order = Self.shuffledIndices(count: pairs.count, seed: seed, epoch: epoch)
                cachedEpoch = epoch
            }
            result.append(pairs[order[offset]])
        }
        return result
    }

    /// A Fisher-Yates shuffle of 0..<count with a generator seeded from (seed, epoch).
    static func shuffledIndices(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var generator = SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(epoch))
        var order = Array(0..<count)
        var i = count - 1
        while i > 0 {
            let j = generator.index(below: i + 1)
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }
}
