import Foundation
import TensorCore

/// PASCAL-5i as HSNet reads it (`data/pascal.py`): VOC 2012's pictures with the augmented
/// label maps of SBD (`SegmentationClassAug`), both under the datapath's `VOC2012` folder.
///
///     <datapath>/VOC2012/JPEGImages/<name>.jpg
///     <datapath>/VOC2012/SegmentationClassAug/<name>.png      class indices, 255 on boundaries
///
/// Which pictures and classes come from HSNet's fold lists (see `PascalFold`): a class's samples
/// are the list lines of that class, in the lists' order; a picture showing several classes is
/// a sample of each. Class names are VOC's (`aeroplane` ... `tvmonitor`), in class-value order.
enum PascalLayout {
    static let imageFolder = "VOC2012/JPEGImages"
    static let labelFolder = "VOC2012/SegmentationClassAug"
}

extension TrainingSet {
    /// The PASCAL-5i set of `fold` and `split` under `datapath`. Every listed picture and label
    /// file must be there (the folders are listed once, nothing is decoded); the first missing
    /// one is named with its full path, and the count of the others is given.
    public static func pascal(datapath: URL, fold: PascalFold, split: PascalSplit) throws -> TrainingSet {
        try pascal(datapath: datapath, fold: fold, split: split, listFolder: nil)
    }

    /// As `pascal(datapath:fold:split:)`, with the fold lists read from `listFolder`
    /// (`<trn|val>/fold<K>.txt`) when given, else from cdfss's resources.
    static func pascal(datapath: URL, fold: PascalFold, split: PascalSplit, listFolder: URL?) throws -> TrainingSet {
        let fold = try fold.validated()
        let root = datapath.standardizedFileURL
        let context = "pascal \(split == .training ? "training" : "validation") set (fold \(fold))"
        let images = try listedNames(root, PascalLayout.imageFolder, context: context)
        let labels = try listedNames(root, PascalLayout.labelFolder, context: context)

        let wanted = fold.classValues(split)
        var samples: [Int: [TrainingSample]] = Dictionary(uniqueKeysWithValues: wanted.map { ($0, []) })
        var missing: [String] = []
        for list in fold.lists(split, folder: listFolder) {
            for entry in try list.entries() {
                guard samples[entry.classValue] != nil else {
                    throw InputError("\(list.displayName) line \(entry.line): class \(entry.classValue) "
                                     + "does not belong to the \(context)")
                }
                let image = PascalLayout.imageFolder + "/" + entry.name + ".jpg"
                let label = PascalLayout.labelFolder + "/" + entry.name + ".png"
                for (path, file, present) in [(image, entry.name + ".jpg", images), (label, entry.name + ".png", labels)]
                where !present.contains(file) {
                    missing.append("\(root.appendingPathComponent(path).path) (listed in \(list.displayName) line \(entry.line))")
                }
                samples[entry.classValue]!.append(TrainingSample(image: image, label: label, classValue: entry.classValue))
            }
        }
        if let first = missing.first {
            let more = missing.count > 1 ? "; \(missing.count - 1) more listed files are missing" : ""
            throw InputError("\(context): \(first) does not exist\(more)")
        }
        let classes = try wanted.map { value -> TrainingClass in
            guard let found = samples[value], !found.isEmpty else {
                throw InputError("\(context): no fold list line names class \(value) (\(PascalClasses.name(value)))")
            }
            return TrainingClass(name: PascalClasses.name(value), samples: found)
        }
        return TrainingSet(layout: "pascal", root: root, classes: classes)
    }

    /// The names in a folder of the layout, or an error naming the folder's full path.
    private static func listedNames(_ root: URL, _ relative: String, context: String) throws -> Set<String> {
        // The datapath first, so that a mistyped one is named rather than a folder inside it.
        for path in [root.path, root.appendingPathComponent("VOC2012").path, root.appendingPathComponent(relative).path] {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw InputError("\(context): folder \(path) does not exist")
            }
            guard isDirectory.boolValue else { throw InputError("\(context): \(path) is a file, not a folder") }
        }
        let path = root.appendingPathComponent(relative).path
        do {
            return Set(try FileManager.default.contentsOfDirectory(atPath: path))
        } catch {
            throw InputError("\(context): folder \(path) cannot be read (\(error.localizedDescription))")
        }
    }
}
