import Datasets
/// The benchmark score of a set of episodes, as HSNet's and PATNet's `AverageMeter` computes
/// it: per class, the sums over its episodes of the background and foreground intersections
/// and unions; then
///
/// - the IoU of a class is `foreground intersection / max(foreground union, 1)` — the floor
///   makes a class whose union is empty (no foreground predicted or present in any of its
///   episodes) score 0 instead of NaN;
/// - mIoU is the mean of the class IoUs;
/// - FB-IoU is the mean over background and foreground of
///   `(intersection summed over the classes) / (union summed over the classes)`;
///
/// all three in percent. Sums are exact integers and the ratios are taken in double precision
/// (the reference sums float32, which is exact below 2^24 pixels per class, and divides in
/// float32: results agree to about 1e-6 percent).
///
/// Classes that never occurred: the reference averages over every class of the benchmark's
/// split, so a class without an episode would count as IoU 0. Here the means run over the
/// classes that have at least one episode. The two agree whenever every class occurs — every
/// standard run (600 episodes over at most 6 classes; every FSS-1000 image as a query) — and
/// this way a shard, or a short run over the first few FSS-1000 classes, is scored on what it
/// saw instead of being diluted by zeros for classes it never drew.
///
/// FB-IoU's sums have no floor in the reference; they can only be 0 when no pixel of that
/// kind exists in any episode, where the reference gives NaN and this gives 0.
public struct SegmentationScore: Equatable, Sendable {
    /// The sums of one class over its episodes.
    public struct ClassTotals: Equatable, Sendable {
        public var intersection: PixelCounts
        public var union: PixelCounts
        public var episodes: Int

        public init(intersection: PixelCounts = .zero, union: PixelCounts = .zero, episodes: Int = 0) {
            self.intersection = intersection
            self.union = union
            self.episodes = episodes
        }
    }

    /// Sums per class index, for the classes that have at least one episode.
    public private(set) var totals: [Int: ClassTotals] = [:]

    public init() {}

    /// Adds one episode of class `classIndex` (the index into the benchmark's class list).
    public mutating func add(_ counts: EpisodeCounts, classIndex: Int) {
        precondition(classIndex >= 0, "negative class index \(classIndex)")
        totals[classIndex, default: ClassTotals()].intersection += counts.intersection
        totals[classIndex, default: ClassTotals()].union += counts.union
        totals[classIndex, default: ClassTotals()].episodes += 1
    }

    /// The classes that occurred, in increasing order.
    public var classIndices: [Int] { totals.keys.sorted() }

    /// The number of episodes added.
    public var episodeCount: Int { totals.values.reduce(0) { $0 + $1.episodes } }

    /// The foreground IoU of a class in percent, nil when it has no episode.
    public func iou(ofClass classIndex: Int) -> Double? {
        totals[classIndex].map { 100 * Self.foregroundIoU($0) }
    }

    /// mIoU in percent: the mean of the foreground IoUs of the classes that occurred (0 when
    /// nothing was added). As the reference, the mean is taken on the fractions and then
    /// scaled.
    public var miou: Double {
        let classes = classIndices
        guard !classes.isEmpty else { return 0 }
        return 100 * classes.reduce(0) { $0 + Self.foregroundIoU(totals[$1]!) } / Double(classes.count)
    }

    /// FB-IoU in percent: the mean of the background and the foreground IoU of the pixel
    /// counts summed over the classes that occurred.
    public var fbiou: Double {
        var intersection = PixelCounts.zero, union = PixelCounts.zero
        for classIndex in classIndices {
            intersection += totals[classIndex]!.intersection
            union += totals[classIndex]!.union
        }
        let background = Double(intersection.background) / Double(max(union.background, 1))
        let foreground = Double(intersection.foreground) / Double(max(union.foreground, 1))
        return 100 * (background + foreground) / 2
    }

    private static func foregroundIoU(_ totals: ClassTotals) -> Double {
        Double(totals.intersection.foreground) / Double(max(totals.union.foreground, 1))
    }
}
