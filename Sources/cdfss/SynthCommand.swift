import ArgumentParser
import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import TensorCore

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a synthetic target-domain benchmark (a folder tree) for tests and demos.",
        discussion: """
            Writes OUT/<class>/images/<name>.png (RGB) and OUT/<class>/masks/<name>.png \
            (gray, 0 background, 255 foreground), the layout --benchmark folder reads. Each \
            class has its own foreground look, kept across its pictures while position, size \
            and rotation vary; every mask covers 5-40% of its picture.

            Styles, by frequency content: source (everyday photos: smooth gradients, coloured \
            mid-frequency objects; the demo model's training domain), and four target domains, \
            each shifted from it in frequency content: satellite (dense high-frequency \
            land-cover textures under haze, a bluish cast and fine detector striping), xray \
            (gray, low contrast, soft large-scale shading, two lung lobes, the fine vertical \
            lines of an anti-scatter grid and a heel-effect ramp), lesion (a darker irregular \
            blob on skin with a criss-cross of fine furrows, hairs, a cool cast, light falling off \
            away from the lesion and washed-out contrast), objects (one object on a woven check cloth under a \
            halftone screen, a warm cast, a side flash and faded contrast).

            The same arguments give byte-identical files whatever the thread count. OUT must \
            not exist or be empty; the tree is built beside it and moved into place at the end.
            """)

    @Option(help: "Folder to create (must not exist, or be empty).")
    var out: String

    @Option(help: "\(SyntheticStyle.allCases.map(\.rawValue).joined(separator: ", ")).")
    var style: SyntheticStyle

    @Option(parsing: .unconditional, help: "Number of classes (at most \(SyntheticDomain.maximumPictures) pictures in all).")
    var classes = 6

    @Option(parsing: .unconditional, help: "Pictures per class (at least 2).")
    var imagesPerClass = 12

    @Option(parsing: .unconditional, help: "Side of the square pictures, in pixels (16...4096).")
    var size = 400

    @Option(parsing: .unconditional, help: "Seed of the generator.")
    var seed: UInt64 = 0

    func validate() throws {
        try SyntheticDomain.validate(classes: classes, imagesPerClass: imagesPerClass, size: size)
    }

    func run() throws {
        let domain = try SyntheticDomain(style: style, classes: classes, imagesPerClass: imagesPerClass, size: size, seed: seed)
        var check = OutputCheck()
        check.outputFolder("--out", out)
        try check.prepare()
        let folder = URL(fileURLWithPath: out)
        // A killed synth leaves its half-built tree beside the output folder.
        AtomicFile.removeStaleTemporaries(inFolder: folder.standardizedFileURL.deletingLastPathComponent())
        let started = Date()
        try domain.write(to: folder)
        print("wrote \(classes) class\(classes == 1 ? "" : "es") x \(imagesPerClass) \(style.rawValue) pictures "
            + "(\(classes * imagesPerClass) images, \(size) x \(size)) to \(folder.standardizedFileURL.path) "
            + String(format: "in %.2f s", Date().timeIntervalSince(started)))
    }
}
