import ArgumentParser
import Datasets
import Evaluation
import Finetune
import Report
import Foundation
import TensorCore

struct DatasetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datasets",
        abstract: "Look after the target-domain benchmark folders.",
        subcommands: [DatasetsCheck.self])
}

struct DatasetsCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a benchmark folder: samples per class, unpaired files, files that do not decode, bad masks.",
        discussion: """
            --datapath is the folder holding Deepglobe/, ISIC/, LungSegmentation/ or FSS-1000/ \
            as the PATNet benchmark distributes them, or for --benchmark folder the class \
            folders themselves (<class>/images/<name>.png|jpg|jpeg|tif|tiff with \
            <class>/masks/<name>.png). Every image and mask is decoded. The exit status is \
            non-zero when the benchmark cannot be used: a folder or a mask is missing, a file \
            does not decode, an image and its mask differ in size (test and finetune refuse \
            such a pair), or a class has fewer than two usable samples. Empty or non-binary \
            masks, masks without an image and files the layout does not read are reported \
            without failing. See datasets.md.
            """)

    @Option(help: "deepglobe, isic, lung, fss or folder.")
    var benchmark: BenchmarkKind

    @Option(help: "Folder holding the benchmark.")
    var datapath: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let report = try DatasetCheck.run(benchmark, datapath: URL(fileURLWithPath: datapath))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text(), terminator: "")
        }
        guard report.usable else {
            throw InputError("\(benchmark.rawValue) benchmark at \(report.datapath) cannot be used: \(report.reasons.joined(separator: "; "))")
        }
    }
}
