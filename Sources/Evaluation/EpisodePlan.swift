import Datasets
/// One test episode, decided before anything is computed: which class, which query and which
/// support images. Plans depend only on the dataset, the shot count, the seed and the episode
/// index, so any subset of them (a shard) can be run anywhere and still be the same episodes.
public struct EpisodePlan: Equatable, Hashable, Sendable {
    /// The position of the episode in the full run, from 0.
    public let index: Int
    /// The index of the episode's class in `TargetDataset.classes`.
    public let classIndex: Int
    public let query: LabelledImage
    /// The K support images, distinct from each other and from the query.
    public let supports: [LabelledImage]

    public init(index: Int, classIndex: Int, query: LabelledImage, supports: [LabelledImage]) {
        self.index = index
        self.classIndex = classIndex
        self.query = query
        self.supports = supports
    }
}
