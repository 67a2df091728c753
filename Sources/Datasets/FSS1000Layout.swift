import Foundation
import TensorCore

/// FSS-1000 as the PATNet benchmark reads it: one folder per class, ten pictures each with a
/// mask of the same number, of which the 240 classes of the standard test split are used.
///
///     FSS-1000/<class>/<1..10>.jpg
///     FSS-1000/<class>/<1..10>.png
///
/// Classes come in byte order of their names: PATNet sorts the split's class list before
/// numbering the classes (760 + index), so this is the order its class ids follow. Samples are
/// the `*.jpg` files of the class folder in byte order of their names (1, 10, 2, ..., 9, as
/// PATNet's sorted glob), each with the `.png` of the same name.
enum FSS1000Layout {
    static let folder = "FSS-1000"

    /// The 240 test class names, from the list bundled with cdfss (PATNet's
    /// `data/splits/fss/test.txt`), sorted.
    static func testClasses() throws -> [String] {
        guard let url = Bundle.module.url(forResource: "fss1000-test-classes", withExtension: "txt"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw InputError("the FSS-1000 test class list (fss1000-test-classes.txt) is missing from cdfss's resources")
        }
        // Lines may end in CRLF (PATNet's copy does); "\r\n" is one Character, a newline.
        let names = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return names.sorted(by: LayoutScan.byteOrder)
    }

    static func scan(_ scan: inout LayoutScan, testClasses: [String]) {
        guard scan.folder(folder, className: nil) != nil else { return }
        for name in testClasses {
            let classFolder = folder + "/" + name
            scan.addClass(name, folder: classFolder, rule: PairingRule(
                poolFolder: classFolder, partnerFolder: classFolder, poolPattern: "*.jpg",
                isPoolFile: { FileName.hasExtension($0, "jpg") },
                isPartnerFile: { FileName.hasExtension($0, "png") },
                partnerName: { FileName.stem($0) + ".png" }))
        }
    }
}
