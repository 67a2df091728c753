import Foundation

/// One piece of a report section: a paragraph, a table, a chart, a picture. A block writes
/// itself as XHTML and names the figures it holds, so that the page can list what it promises
/// (`HTMLReport.figureIDs`) and a reader can check that each is there (`ReportStructure`).
public protocol ReportBlock {
    func render(into markup: inout Markup)
    /// The ids of the figures this block draws (charts and pictures); none for text and tables.
    var figureIDs: [String] { get }
}

extension ReportBlock {
    public var figureIDs: [String] { [] }
}

/// A paragraph of plain text (escaped; no markup in it).
public struct Paragraph: ReportBlock {
    public var text: String
    /// A note is set smaller and gray: how to read a figure, why something is missing.
    public var isNote: Bool

    public init(_ text: String, note: Bool = false) {
        self.text = text
        isNote = note
    }

    public func render(into markup: inout Markup) {
        markup.element("p", isNote ? ["class": "note"] : [:], text: text)
    }
}

/// A figure id made from free text (a tap name, a class, a style): lower-case letters, digits
/// and hyphens, starting with a letter, so that it is a valid id and anchor whatever the text.
public func figureID(_ parts: String...) -> String {
    var slug = ""
    for character in parts.joined(separator: "-").lowercased() {
        if character.isASCII && (character.isLetter || character.isNumber) {
            slug.append(character)
        } else if !slug.hasSuffix("-") && !slug.isEmpty {
            slug.append("-")
        }
    }
    while slug.hasSuffix("-") { slug.removeLast() }
    if slug.isEmpty { return "f" }
    if !slug.first!.isLetter { slug = "f-" + slug }
    return slug
}

/// Builds a section's blocks from statements, `if` and `for` included:
///
/// ```swift
/// ReportSection("Scores") {
///     HTMLTable(...)
///     if let curve { LossCurveFigure(...) }
///     for part in parts { SVGLineChart(...) }
/// }
/// ```
@resultBuilder
public enum ReportBuilder {
    public static func buildExpression(_ block: any ReportBlock) -> [any ReportBlock] { [block] }
    public static func buildExpression(_ blocks: [any ReportBlock]) -> [any ReportBlock] { blocks }
    public static func buildBlock(_ parts: [any ReportBlock]...) -> [any ReportBlock] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [any ReportBlock]?) -> [any ReportBlock] { part ?? [] }
    public static func buildEither(first: [any ReportBlock]) -> [any ReportBlock] { first }
    public static func buildEither(second: [any ReportBlock]) -> [any ReportBlock] { second }
    public static func buildArray(_ parts: [[any ReportBlock]]) -> [any ReportBlock] { parts.flatMap { $0 } }
}
