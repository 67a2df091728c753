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
    ///
    /// `fssSplit` picks FSS-1000's class list (the test classes unless told otherwise); the
    /// other benchmarks have one set of classes, so asking them for FSS-1000's val split is an
    /// error rather than silently the same thing.
    public static func load(_ kind: BenchmarkKind, datapath: URL, fssSplit: FSS1000Split = .test) throws -> TargetDataset {
        let root = datapath.standardizedFileURL
        try checkSplit(kind, fssSplit)
        let scan = try LayoutScan.scan(kind, datapath: root, fssSplit: fssSplit)
        let blocking = scan.problems.filter(\.blocking)
        if let first = blocking.first {
            let more = blocking.count > 1 ? " (and \(blocking.count - 1) more; `cdfss datasets check` lists them)" : ""
            throw InputError("\(describe(kind, fssSplit)): \(first.message)\(more)")
        }
        return TargetDataset(kind: kind, root: root,
                             classes: scan.classes.map { DatasetClass(name: $0.name, samples: $0.samples) })
    }

    /// "fss benchmark", or "fss benchmark (val classes)" away from the default split.
    static func describe(_ kind: BenchmarkKind, _ fssSplit: FSS1000Split) -> String {
        kind == .fss && fssSplit != .test ? "\(kind.rawValue) benchmark (\(fssSplit.rawValue) classes)" : "\(kind.rawValue) benchmark"
    }

    static func checkSplit(_ kind: BenchmarkKind, _ fssSplit: FSS1000Split) throws {
        guard kind == .fss || fssSplit == .test else {
            throw InputError("the \(fssSplit.rawValue) class split is FSS-1000's; the \(kind.rawValue) benchmark has a single set of classes")
        }
    }
}
