import Datasets
import TensorCore

/// One 1-shot training or validation episode: a query and a support of the same class.
public struct TrainingEpisode: Hashable, Codable, Sendable {
    /// The class's index in its training set.
    public let classIndex: Int
    public let query: TrainingSample
    public let support: TrainingSample
}

/// Which episodes a run trains and validates on, decided by seeds alone so that a resumed run,
/// or a rerun, meets the same ones.
///
/// Training (HSNet's loader, drawn instead of shuffled): episode i of epoch e takes its query
/// uniformly among every (class, picture) entry of the training set, as HSNet's loader walks
/// its list of (picture, class) entries, and its support uniformly among the other pictures
/// of that class. Each episode has its own SplitMix64 stream seeded from (seed, epoch, i).
///
/// Validation: episode i is of class i mod C (every class equally often, as the benchmarks),
/// with query and support drawn from the class's pictures, from the fixed validation seed.
public struct TrainingEpisodes: Sendable {
    public let dataset: TrainingSet
    /// (class index, picture index) of every entry of a class with at least two pictures.
    let entries: [(classIndex: Int, sample: Int)]
    let usableClasses: [Int]

    public init(_ dataset: TrainingSet, role: String) throws {
        self.dataset = dataset
        usableClasses = dataset.classes.indices.filter { dataset.classes[$0].samples.count >= 2 }
        entries = usableClasses.flatMap { c in dataset.classes[c].samples.indices.map { (c, $0) } }
        guard !usableClasses.isEmpty else {
            throw InputError("the \(role) set at \(dataset.root.path) has no class with two pictures (an episode needs a query and a different support)")
        }
    }

    /// Classes left out because they have fewer than two pictures.
    public var skippedClasses: [String] {
        dataset.classes.indices.filter { !usableClasses.contains($0) }.map { dataset.classes[$0].name }
    }

    /// The stream of episode `index` of `epoch` (validation uses the epoch number UInt64.max).
    static func generator(seed: UInt64, epoch: UInt64, index: Int) -> SeededGenerator {
        var mixer = SeededGenerator(seed: seed &+ epoch &* 0xD1B5_4A32_D192_ED03 &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        return SeededGenerator(seed: mixer.next())
    }

    /// Training episode `index` of `epoch`.
    public func training(seed: UInt64, epoch: Int, index: Int) -> TrainingEpisode {
        var generator = Self.generator(seed: seed, epoch: UInt64(epoch), index: index)
        let entry = entries[generator.index(below: entries.count)]
        return episode(classIndex: entry.classIndex, query: entry.sample, generator: &generator)
    }

    /// Validation episode `index`.
    public func validation(index: Int) -> TrainingEpisode {
        var generator = Self.generator(seed: LearnerTrainingSettings.validationSeed, epoch: .max, index: index)
        let classIndex = usableClasses[index % usableClasses.count]
        let query = generator.index(below: dataset.classes[classIndex].samples.count)
        return episode(classIndex: classIndex, query: query, generator: &generator)
    }

    private func episode(classIndex: Int, query: Int, generator: inout SeededGenerator) -> TrainingEpisode {
        let samples = dataset.classes[classIndex].samples
        var support = generator.index(below: samples.count - 1)
        if support >= query { support += 1 }
        return TrainingEpisode(classIndex: classIndex, query: samples[query], support: samples[support])
    }
}
