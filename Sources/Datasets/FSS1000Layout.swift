import Foundation
import TensorCore

/// Which of the FSS-1000 class lists of the HSNet/PATNet split a run reads: the 240 `test`
/// classes (the CD-FSS benchmark, and the default everywhere) or the 240 `val` classes that
/// PATNet validates on while it trains on PASCAL (its `train.py` builds the `fss` loader with
/// split `val`). The two lists are disjoint; the 520 training classes are never read.
public enum FSS1000Split: String, CaseIterable, Codable, Sendable {
    case test
    case val

    /// The bundled list: `data/splits/fss/<split>.txt` of HSNet and PATNet (the same files).
    var resourceName: String { "fss1000-\(rawValue)-classes" }
}

/// FSS-1000 as the PATNet benchmark reads it: one folder per class, ten pictures each with a
/// mask of the same number, of which the 240 classes of one split of the standard class
/// lists are used (the test split unless told otherwise).
///
///     FSS-1000/<class>/<1..10>.jpg
///     FSS-1000/<class>/<1..10>.png
///
/// Classes come in byte order of their names: PATNet sorts the split's class list before
/// numbering the classes (760 + index for test, 520 + index for val), so this is the order its
/// class ids follow. Samples are the `*.jpg` files of the class folder in byte order of their
/// names (1, 10, 2, ..., 9, as PATNet's sorted glob), each with the `.png` of the same name.
enum FSS1000Layout {
    static let folder = "FSS-1000"

    /// The split's 240 class names, from the list bundled with cdfss, sorted.
    static func classes(of split: FSS1000Split) throws -> [String] {
        let file = split.resourceName + ".txt"
        guard let url = Bundle.module.url(forResource: split.resourceName, withExtension: "txt"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw InputError("the FSS-1000 \(split.rawValue) class list (\(file)) is missing from cdfss's resources")
        }
        // Lines may end in CRLF (PATNet's copy of the test list does); "\r\n" is one Character, a newline.
        let names = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return names.sorted(by: LayoutScan.byteOrder)
    }

    static func scan(_ scan: inout LayoutScan, classes: [String]) {
        guard scan.folder(folder, className: nil) != nil else { return }
        for name in classes {
            let classFolder = folder + "/" + name
            scan.addClass(name, folder: classFolder, rule: PairingRule(
                poolFolder: classFolder, partnerFolder: classFolder, poolPattern: "*.jpg",
                isPoolFile: { FileName.hasExtension($0, "jpg") },
                isPartnerFile: { FileName.hasExtension($0, "png") },
                partnerName: { FileName.stem($0) + ".png" }))
        }
    }
}
