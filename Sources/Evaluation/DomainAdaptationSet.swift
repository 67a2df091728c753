import Datasets
import TensorCore

/// The labelled images a domain adaptation trains on: drawn class by class in turn (image k
/// from class k mod C, uniformly among that class's images not yet drawn; a class with none
/// left passes its turn), so every class is represented as evenly as `count` allows. Pairs
/// are formed within a class only: a support shows what its class looks like, and a query of
/// another class would be scored against the wrong object.
public struct DomainAdaptationSet: Equatable {
    /// How many pictures a domain adaptation takes when the user does not say: the paper's
    /// few-shot budget of up to five labelled target pictures.
    public static let defaultCount = 5

    public let samples: [LabelledImage]
    public let classIndices: [Int]

    public static func draw(from dataset: TargetDataset, count: Int, seed: UInt64) throws -> DomainAdaptationSet {
        guard count >= 1 else { throw InputError("--adapt-count \(count): expected at least 1 image") }
        let total = dataset.classes.reduce(0) { $0 + $1.samples.count }
        guard count < total else {
            throw InputError("--adapt-count \(count): the \(dataset.kind.rawValue) set at \(dataset.root.path) has \(total) images, and episodes need some left")
        }
        // A stream of its own, apart from the episodes' (which derive from the seed by index).
        var generator = SeededGenerator(seed: seed ^ 0xD0_4A1D_A97A_7E5E)
        var remaining = dataset.classes.map(\.samples)
        var samples: [LabelledImage] = []
        var classes: [Int] = []
        var turn = 0
        while samples.count < count {
            let classIndex = turn % remaining.count
            turn += 1
            guard !remaining[classIndex].isEmpty else { continue }
            let pick = generator.index(below: remaining[classIndex].count)
            samples.append(remaining[classIndex].remove(at: pick))
            classes.append(classIndex)
        }
        return DomainAdaptationSet(samples: samples, classIndices: classes)
    }
}
