import Foundation
import TensorCore

extension TrainingSet {
    /// A `folder` tree (`<class>/images/*`, `<class>/masks/<name>.png`, masks binarised at
    /// 128) as a training or validation set, read by the benchmark loader
    /// (`TargetDataset.load(.folder, ...)`), so the whole tree must load: a class broken on
    /// disk is an error even when it is not selected.
    ///
    /// `classes` selects classes by folder name, nil taking them all. The selection keeps the
    /// tree's order (byte order of the names), not the order given, so `b,a` and `a,b` draw the
    /// same episodes. A name that is not a class, a name given twice or an empty selection is
    /// an error; the first lists the classes there are.
    public static func folder(datapath: URL, classes selection: [String]?) throws -> TrainingSet {
        let all = TrainingSet(try TargetDataset.load(.folder, datapath: datapath))
        guard let selection else { return all }
        let context = "folder set \(all.root.path)"
        guard !selection.isEmpty else { throw InputError("\(context): no class selected") }
        let available = all.classes.map(\.name)
        var seen: Set<String> = []
        for name in selection {
            guard available.contains(name) else {
                throw InputError("\(context): no class named '\(name)' (classes: \(available.joined(separator: ", ")))")
            }
            guard seen.insert(name).inserted else { throw InputError("\(context): class '\(name)' is selected twice") }
        }
        return TrainingSet(layout: all.layout, root: all.root, classes: all.classes.filter { seen.contains($0.name) })
    }
}
