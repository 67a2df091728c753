import Foundation
import TensorCore

extension TargetDataset {
    /// Reads the layout of a benchmark under `datapath` (the folder holding `Deepglobe/`,
    /// `ISIC/`, `LungSegmentation/`, `FSS-1000/`, or for `folder` the class folders
    /// themselves). Nothing is decoded. Throws an InputError naming the full path of the first
    /// thing missing: the datapath or a folder of the layout, a class without samples, or a
    /// sample without its other half (image without mask; for lung, mask without image), since
    /// a benchmark that silently lost samples would not be the benchmark. `DatasetCheck` lists
    /// every problem at once.
    public static func load(_ kind: BenchmarkKind, datapath: URL) throws -> TargetDataset {
        let root = datapath.standardizedFileURL
        let scan = try LayoutScan.scan(kind, datapath: root)
        let blocking = scan.problems.filter(\.blocking)
        if let first = blocking.first {
            let more = blocking.count > 1 ? " (and \(blocking.count - 1) more; `cdfss datasets check` lists them)" : ""
            throw InputError("\(kind.rawValue) benchmark: \(first.message)\(more)")
        }
        return TargetDataset(kind: kind, root: root,
                             classes: scan.classes.map { DatasetClass(name: $0.name, samples: $0.samples) })
    }
}
