import Foundation

/// Attributes of an element, in the order written (a dictionary literal keeps its order here,
/// so the same report is always the same bytes).
public struct MarkupAttributes: ExpressibleByDictionaryLiteral, Sendable {
    public var pairs: [(name: String, value: String)]

    public init(dictionaryLiteral elements: (String, String)...) {
        pairs = elements.map { (name: $0.0, value: $0.1) }
    }

    public init(_ pairs: [(name: String, value: String)]) {
        self.pairs = pairs
    }

    public mutating func append(_ name: String, _ value: String) {
        pairs.append((name, value))
    }
}

/// Report text written element by element as XHTML: every element closed (`<x></x>`, or
/// `<x/>` for HTML's void elements and SVG shapes), every text and attribute value escaped.
/// So the page is both HTML a browser reads and XML a parser checks (`ReportStructure`), and
/// nothing a user named — a class, a path, a picture — can open a tag or a script.
public struct Markup: Sendable {
    public private(set) var text = ""
    /// The elements open at this point, innermost last: closing another is a programming error.
    private var open: [String] = []

    public init() {}

    /// Whether every element opened has been closed.
    public var isBalanced: Bool { open.isEmpty }

    public mutating func open(_ name: String, _ attributes: MarkupAttributes = [:]) {
        text += "<" + name + Self.attributeText(attributes) + ">"
        open.append(name)
    }

    public mutating func close(_ name: String) {
        precondition(open.last == name, "closing <\(name)> while <\(open.last ?? "nothing")> is open")
        open.removeLast()
        text += "</" + name + ">"
    }

    /// `<name ...>content</name>`, the content escaped.
    public mutating func element(_ name: String, _ attributes: MarkupAttributes = [:], text content: String) {
        text += "<" + name + Self.attributeText(attributes) + ">" + Self.escaped(content) + "</" + name + ">"
    }

    /// `<name .../>`: for HTML's void elements (meta, img, br) and SVG shapes only, since an
    /// HTML parser reads `<div/>` as an opening tag.
    public mutating func empty(_ name: String, _ attributes: MarkupAttributes = [:]) {
        text += "<" + name + Self.attributeText(attributes) + "/>"
    }

    /// Text content, escaped.
    public mutating func text(_ content: String) {
        text += Self.escaped(content)
    }

    /// Markup made elsewhere with this type (a chart's SVG), taken as it is.
    public mutating func append(_ other: Markup) {
        precondition(other.isBalanced, "appending markup with unclosed elements")
        text += other.text
    }

    /// Style sheet text inside `<style>`: CSS needs no escaping as long as it holds no `<`
    /// or `&`, which ours never does.
    mutating func styleSheet(_ css: String) {
        precondition(!css.contains("<") && !css.contains("&"), "CSS with < or & would need escaping")
        text += "<style>" + css + "</style>"
    }

    /// `value` with the five XML specials replaced (`'` by a numeric reference, which HTML
    /// and XML both know) and the characters XML forbids (controls other than tab, line feed
    /// and carriage return, lone surrogates cannot occur in a Swift String) by U+FFFD, so that
    /// a file name holding a control character still gives a page that parses.
    public static func escaped(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                let v = scalar.value
                let allowed = v >= 0x20 && !(0x7F...0x9F).contains(v) && v != 0xFFFE && v != 0xFFFF
                out.unicodeScalars.append(allowed ? scalar : "\u{FFFD}")
            }
        }
        return out
    }

    private static func attributeText(_ attributes: MarkupAttributes) -> String {
        attributes.pairs.map { " \($0.name)=\"\(escaped($0.value))\"" }.joined()
    }
}

/// Numbers in SVG coordinates: at most two decimals, no trailing zeros, never "-0", so that
/// the page stays small and the same on every machine.
func svgNumber(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    if rounded == 0 || !rounded.isFinite { return "0" }
    if rounded == rounded.rounded() { return String(Int(rounded)) }
    var text = String(format: "%.2f", rounded)
    while text.hasSuffix("0") { text.removeLast() }
    return text
}
