import Datasets
import Foundation
import FreqMask
import TensorCore

extension FilterSweep {
    /// What one filter (or the unfiltered model) measured, kept as the records its figures are
    /// computed from: each episode's pixel counts and each distinct query picture's layer-4
    /// correlation figures. The figures are always computed from the records, in episode order,
    /// so the records of a run's shards put together give the whole run's figures exactly
    /// (`FilterSweepMerge`), as episode records do for `cdfss test`.
    public struct Measurement: Codable, Equatable, Sendable {
        public struct Episode: Codable, Equatable, Sendable {
            public var index: Int
            public var classIndex: Int
            public var counts: EpisodeCounts

            public init(index: Int, classIndex: Int, counts: EpisodeCounts) {
                self.index = index
                self.classIndex = classIndex
                self.counts = counts
            }

            enum CodingKeys: String, CodingKey { case index, classIndex = "class", intersection, union }

            public init(from decoder: Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                index = try container.decode(Int.self, forKey: .index)
                classIndex = try container.decode(Int.self, forKey: .classIndex)
                counts = EpisodeCounts(intersection: try container.decode(PixelCounts.self, forKey: .intersection),
                                       union: try container.decode(PixelCounts.self, forKey: .union))
                guard index >= 0, classIndex >= 0 else {
                    throw DecodingError.dataCorruptedError(forKey: .index, in: container, debugDescription: "negative episode or class index")
                }
                guard counts.isConsistent else {
                    throw DecodingError.dataCorruptedError(forKey: .union, in: container,
                                                           debugDescription: "intersection and union cannot come from two masks of one size")
                }
            }

            public func encode(to encoder: Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(index, forKey: .index)
                try container.encode(classIndex, forKey: .classIndex)
                try container.encode(counts.intersection, forKey: .intersection)
                try container.encode(counts.union, forKey: .union)
            }
        }

        /// A query picture's figures on one layer-4 tap; nil where the picture has none (fewer
        /// than two varying channels), as the correlation analysis leaves such pictures out.
        public struct TapFigures: Codable, Equatable, Sendable {
            public var tap: String
            public var meanAbsR: Double?
            public var participationRatio: Double?

            public init(tap: String, meanAbsR: Double?, participationRatio: Double?) {
                self.tap = tap
                self.meanAbsR = meanAbsR
                self.participationRatio = participationRatio
            }

            /// The figures of the one picture in `map` [1, C, H, W].
            public init(tap: String, map: Tensor, name: String) throws {
                guard map.rank == 4, map.shape[0] == 1, map.shape[1] >= 1 else {
                    throw InputError("\(name): expected a [1, C, H, W] feature map, got \(map.shapeDescription)")
                }
                guard map.isFinite else { throw InputError("\(name): the feature map holds NaN or infinite values") }
                let (channels, positions) = (map.shape[1], map.shape[2] * map.shape[3])
                let figures = map.withUnsafeBufferPointer { ChannelCorrelationOfImage($0, channels: channels, positions: positions).figures }
                self.init(tap: tap, meanAbsR: figures.meanAbsR.isNaN ? nil : figures.meanAbsR,
                          participationRatio: figures.participationRatio.isNaN ? nil : figures.participationRatio)
            }

            enum CodingKeys: String, CodingKey { case tap, meanAbsR = "mean_abs_r", participationRatio = "participation_ratio" }

            public func encode(to encoder: Encoder) throws {
                // Written as null, not left out: every query lists the same keys.
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(tap, forKey: .tap)
                try container.encode(meanAbsR, forKey: .meanAbsR)
                try container.encode(participationRatio, forKey: .participationRatio)
            }
        }

        /// A distinct query picture, at the first episode that has it as its query.
        public struct Query: Codable, Equatable, Sendable {
            public var image: String
            public var firstEpisode: Int
            public var taps: [TapFigures]

            public init(image: String, firstEpisode: Int, taps: [TapFigures]) {
                self.image = image
                self.firstEpisode = firstEpisode
                self.taps = taps
            }

            enum CodingKeys: String, CodingKey { case image = "query", firstEpisode = "first_episode", taps }
        }

        /// In episode order.
        public var episodes: [Episode]
        /// In the order of their first episode.
        public var queries: [Query]

        public init(episodes: [Episode], queries: [Query]) {
            self.episodes = episodes
            self.queries = queries
        }

        /// The episodes' score (sums of integers: the order does not matter).
        public var score: SegmentationScore {
            var score = SegmentationScore()
            for episode in episodes { score.add(episode.counts, classIndex: episode.classIndex) }
            return score
        }

        /// Per tap the mean of each figure over the pictures that have it (NaN where none
        /// has), then the mean over the taps. The sums run over the pictures in order of
        /// their first episode, so a merge that restores that order gives the same bits.
        public var correlation: (meanAbsR: Double, participationRatio: Double) {
            let tapCount = queries.first?.taps.count ?? 0
            func mean(_ figure: (TapFigures) -> Double?) -> Double {
                var total = 0.0
                for k in 0..<tapCount {
                    var (sum, count) = (0.0, 0)
                    for query in queries {
                        if let value = figure(query.taps[k]) {
                            sum += value
                            count += 1
                        }
                    }
                    total += count > 0 ? sum / Double(count) : .nan
                }
                return total / Double(tapCount)
            }
            return (mean(\.meanAbsR), mean(\.participationRatio))
        }
    }
}
