import Foundation
import TensorCore

/// A fold of PASCAL-5i: the 20 VOC classes cut into four folds of five (fold K holds classes
/// 5K+1 ... 5K+5). Training on fold K means training on the 15 classes of the other folds and
/// validating on fold K's five, never seen in training (HSNet's `--fold K`).
///
/// `all` trains on every one of the 20 classes, as the cross-domain benchmark does: the test
/// classes live in other domains altogether, so no PASCAL class needs holding out. PATNet, whose
/// training recipe the CD-FSS papers follow, gets this with `--fold 4` (its default): its
/// loader reads the training lists of every fold other than the given one, which for 4 is all
/// four, so the set is the union of `trn/fold0..3.txt` (13,680 entries). PATNet validates on
/// FSS-1000's val classes instead, and reads no PASCAL validation list for fold 4; cdfss's
/// `all` validation set is the union of the four val lists, all 20 classes, for whoever wants
/// one.
public enum PascalFold: Hashable, Sendable, CustomStringConvertible {
    /// Fold 0, 1, 2 or 3.
    case fold(Int)
    /// The 20 classes together.
    case all

    public static let count = 4
    public static let classesPerFold = 5

    /// "0" ... "3" or "all", the way the command line names folds.
    public init(parsing text: String) throws {
        if text == "all" {
            self = .all
        } else if let index = Int(text), (0..<Self.count).contains(index) {
            self = .fold(index)
        } else {
            throw InputError("PASCAL-5i fold '\(text)': expected 0, 1, 2, 3 or all")
        }
    }

    public var description: String {
        switch self {
        case .fold(let index): return String(index)
        case .all: return "all"
        }
    }

    /// The class values (1...20) of the set.
    func classValues(_ split: PascalSplit) -> [Int] {
        switch (self, split) {
        case (.all, _): return Array(PascalClasses.values)
        case (.fold(let index), .validation): return Array(Self.foldClasses(index))
        case (.fold(let index), .training): return PascalClasses.values.filter { !Self.foldClasses(index).contains($0) }
        }
    }

    /// The fold lists the set reads, in the order HSNet concatenates them; `folder` as in `PascalFoldList`.
    func lists(_ split: PascalSplit, folder: URL? = nil) -> [PascalFoldList] {
        let folds: [Int]
        switch (self, split) {
        case (.all, _): folds = Array(0..<Self.count)
        case (.fold(let index), .validation): folds = [index]
        case (.fold(let index), .training): folds = (0..<Self.count).filter { $0 != index }
        }
        return folds.map { PascalFoldList(split: split, fold: $0, folder: folder) }
    }

    /// Checks a fold built by hand (`.fold(7)`), which `init(parsing:)` cannot give.
    func validated() throws -> PascalFold {
        if case .fold(let index) = self, !(0..<Self.count).contains(index) {
            throw InputError("PASCAL-5i fold \(index): expected 0, 1, 2, 3 or all")
        }
        return self
    }

    static func foldClasses(_ index: Int) -> ClosedRange<Int> {
        (index * classesPerFold + 1)...(index * classesPerFold + classesPerFold)
    }
}

/// Which side of a PASCAL-5i fold: the pictures HSNet trains on (`trn`, from the augmented
/// SBD training set) or those it validates on (`val`, VOC 2012 val). No picture is in both.
public enum PascalSplit: String, CaseIterable, Sendable {
    case training = "trn"
    case validation = "val"
}

/// The VOC class names by class value (the value a label map holds for the class).
enum PascalClasses {
    static let values = 1...20
    static let names = [
        "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
        "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
    ]

    static func name(_ value: Int) -> String { names[value - 1] }
}

/// One of HSNet's fold lists (`data/splits/pascal/<split>/fold<K>.txt`, shipped with cdfss as
/// they are): one `<image name>__<class value>` line per picture and class it shows, the class
/// value written with two digits (`2007_000032__01`).
struct PascalFoldList {
    struct Entry {
        let name: String
        let classValue: Int
        /// 1-based, for messages.
        let line: Int
    }

    let split: PascalSplit
    let fold: Int
    /// Where `<split>/fold<K>.txt` is read from; nil for cdfss's resources. Tests give small lists.
    var folder: URL? = nil

    /// The list's path under `pascal/` or its folder.
    var relativePath: String { "\(split.rawValue)/fold\(fold).txt" }

    /// How messages name the list.
    var displayName: String {
        folder.map { $0.appendingPathComponent(relativePath).path } ?? "cdfss's fold list pascal/\(relativePath)"
    }

    func entries() throws -> [Entry] {
        let url = folder.map { $0.appendingPathComponent(relativePath) }
            ?? Bundle.module.url(forResource: "fold\(fold)", withExtension: "txt", subdirectory: "pascal/\(split.rawValue)")
        guard let url, let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw InputError("\(displayName) is missing or unreadable")
        }
        var entries: [Entry] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            guard let separator = trimmed.range(of: "__", options: .backwards),
                  !trimmed[..<separator.lowerBound].isEmpty,
                  let value = Int(trimmed[separator.upperBound...]), PascalClasses.values.contains(value) else {
                throw InputError("\(displayName) line \(index + 1): '\(trimmed)' is not <name>__<class 1 to 20>")
            }
            entries.append(Entry(name: String(trimmed[..<separator.lowerBound]), classValue: value, line: index + 1))
        }
        return entries
    }
}
