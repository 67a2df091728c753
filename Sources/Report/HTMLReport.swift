import Foundation
import TensorCore

/// A report page: a title, a lead paragraph, and sections, each a heading and blocks
/// (paragraphs, tables, SVG charts, pictures). It renders to one self-contained XHTML file
/// that any browser reads offline: the style sheet is inline, charts are inline SVG, pictures
/// are PNG `data:` URIs, and there is no script and no font or file from elsewhere.
///
/// The page lists the ids of the figures it promises in `<meta name="cdfss-figures">`, so a
/// reader (`ReportStructure`) can check that each one is there.
///
/// A command assembles its page from the blocks in a few lines and publishes it with its
/// other outputs: `OutputFormat.html.check(path, option: "--html")` in `validate`,
/// `OutputCheck.output("--html", path)` before any work, `stage` with the outputs. A page of
/// several target styles, for instance:
///
/// ```swift
/// var page = HTMLReport(title: "cdfss demo: three target styles",
///                       lead: "mIoU per style before and after fine-tuning the maskers.", generator: "cdfss 0.1.0 demo")
/// page.add("Configuration") { KeyValueTable(rows: [("checkpoint", checkpoint), ("shots", "1")]) }
/// page.add("Scores per style") {
///     HTMLTable(columns: [.text("style"), .number("before, mIoU %"), .number("after, mIoU %"), .number("change")],
///               rows: styles.indices.map { [HTMLTable.Cell(styles[$0]), .number(before[$0]), .number(after[$0]),
///                                           .change(after[$0] - before[$0])] })
///     SVGBarChart(id: "styles", caption: "mIoU per style, before and after fine-tuning.", categories: styles,
///                 categoryLabel: "style", series: [.init(name: "before", values: before), .init(name: "after", values: after)],
///                 valueLabel: "mIoU (%)", valueRange: 0...100)
/// }
/// page.add("Channel correlation") { CorrelationSections.figures(correlation) }  // without and with the maskers
/// try page.add("Example episodes") {
///     for (style, picture) in examples {                                        // pictures from EpisodePicture.draw
///         try PictureFigure(id: figureID("episode", style), caption: "An episode of \(style).", picture: picture)
///     }
/// }
/// try page.stage(to: URL(fileURLWithPath: html), in: outputs)                   // appears at outputs.commit()
/// ```
///
/// Every figure needs an id unique on the page (`figureID` makes one from any text); a block
/// of your own conforms to `ReportBlock`.
public struct HTMLReport {
    public var title: String
    /// One paragraph under the title: what the page shows and of what.
    public var lead: String?
    /// Who wrote the page (`cdfss 0.1.0 test`), in its footer and `<meta name="generator">`.
    public var generator: String
    public var sections: [ReportSection] = []

    public init(title: String, lead: String? = nil, generator: String) {
        self.title = title
        self.lead = lead
        self.generator = generator
    }

    public mutating func add(_ section: ReportSection) {
        sections.append(section)
    }

    public mutating func add(_ heading: String, id: String? = nil, @ReportBuilder _ content: () throws -> [any ReportBlock]) rethrows {
        sections.append(ReportSection(heading, id: id, blocks: try content()))
    }

    /// The ids of every figure on the page, in page order.
    public var figureIDs: [String] {
        sections.flatMap { $0.blocks.flatMap(\.figureIDs) }
    }

    /// The page as XHTML text. Throws when two figures or sections share an id, or an id is
    /// not of the form `figureID` makes: the figure list would not say which is which.
    public func rendered() throws -> String {
        try checkIDs()
        var page = Markup()
        page.open("html", ["xmlns": "http://www.w3.org/1999/xhtml", "lang": "en"])
        page.open("head")
        page.empty("meta", ["charset": "utf-8"])
        page.empty("meta", ["name": "viewport", "content": "width=device-width, initial-scale=1"])
        page.empty("meta", ["name": "generator", "content": generator])
        page.empty("meta", ["name": "cdfss-figures", "content": figureIDs.joined(separator: " ")])
        page.element("title", text: title)
        page.styleSheet(ReportStyle.css)
        page.close("head")
        page.open("body")
        page.open("header")
        page.element("h1", text: title)
        if let lead { page.element("p", ["class": "lead"], text: lead) }
        let shown = sections.filter { !$0.blocks.isEmpty }
        if shown.count > 1 {
            page.open("nav")
            page.open("ol")
            for section in shown {
                page.open("li")
                page.element("a", ["href": "#" + section.id], text: section.heading)
                page.close("li")
            }
            page.close("ol")
            page.close("nav")
        }
        page.close("header")
        page.open("main")
        for section in shown {
            page.open("section", ["id": section.id])
            page.element("h2", text: section.heading)
            for block in section.blocks { block.render(into: &page) }
            page.close("section")
        }
        page.close("main")
        page.open("footer")
        page.element("p", text: "Written by \(generator). Self-contained: the charts are inline SVG and the pictures PNG data, so the page reads offline and can be mailed or archived as one file.")
        page.close("footer")
        page.close("body")
        page.close("html")
        precondition(page.isBalanced)
        return "<!DOCTYPE html>\n" + page.text + "\n"
    }

    /// The page's UTF-8 bytes.
    public func encoded() throws -> Data {
        Data(try rendered().utf8)
    }

    /// Stages the page towards `url` with the command's other outputs: it appears when they
    /// are committed, or not at all.
    public func stage(to url: URL, in outputs: StagedOutputs) throws {
        try outputs.stage(try encoded(), to: url)
    }

    /// Writes the page on its own, atomically (a reader never sees half of it).
    public func write(to url: URL) throws {
        try AtomicFile.write(try encoded(), to: url)
    }

    private func checkIDs() throws {
        var seen: Set<String> = []
        for id in sections.map(\.id) + figureIDs {
            guard id == figureID(id) else { throw InputError("report id \"\(id)\" is not of letters, digits and hyphens") }
            guard seen.insert(id).inserted else { throw InputError("report id \"\(id)\" is used twice") }
        }
    }
}

/// A section of a report: a heading (also the entry in the page's contents) and its blocks.
public struct ReportSection {
    public var heading: String
    /// The anchor of the section (from the heading unless given).
    public var id: String
    public var blocks: [any ReportBlock]

    public init(_ heading: String, id: String? = nil, blocks: [any ReportBlock]) {
        self.heading = heading
        self.id = id ?? figureID("section", heading)
        self.blocks = blocks
    }

    public init(_ heading: String, id: String? = nil, @ReportBuilder _ content: () throws -> [any ReportBlock]) rethrows {
        self.init(heading, id: id, blocks: try content())
    }
}
