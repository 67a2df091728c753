import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import TensorCore

/// A written report page read back as XML: whether it is well formed (every tag closed,
/// everything escaped), which figures it promises (`<meta name="cdfss-figures">`) and which
/// it holds, and for each chart its axis labels and legend. `problems` lists what a reader
/// would miss: a promised figure that is absent, a chart without both axis labels or without
/// a legend, a picture that is not embedded PNG data, anything fetched from elsewhere (a
/// script, a link to a file or a site), an id used twice.
public struct ReportStructure {
    public struct Figure: Equatable {
        public var id: String
        /// "svg" for a chart, "img" for a picture.
        public var kind: String
        /// The texts of the chart's axis labels (x first as drawn).
        public var axisLabels: [String] = []
        /// The texts of the chart's legend entries.
        public var legendEntries: [String] = []
        public var caption: String = ""
        /// For a picture: whether its source is a PNG data URI that decodes to PNG bytes.
        public var embedsPNG = false
    }

    public private(set) var title = ""
    public private(set) var declaredFigures: [String] = []
    /// Figures found, in page order.
    public private(set) var figures: [Figure] = []
    /// `src` and `href` values that do not stay inside the page (neither `data:` nor `#...`).
    public private(set) var externalReferences: [String] = []
    public private(set) var scripts = 0
    public private(set) var duplicateIDs: [String] = []

    /// Parses `data`; a page that is not well-formed XML is an `InputError` naming the line.
    public init(parsing data: Data, source: String = "report") throws {
        let reader = Reader()
        let parser = XMLParser(data: data)
        parser.delegate = reader
        parser.shouldResolveExternalEntities = false
        // On Linux, parse() can return true after errors it recovered from (a mismatched end
        // tag, content after the root): the errors the delegate saw count too.
        let finished = parser.parse()
        if let failure = reader.firstError ?? (finished ? nil : (code: (parser.parserError as NSError?)?.code ?? -1,
                                                                  line: parser.lineNumber, column: parser.columnNumber)) {
            throw InputError("\(source): not well-formed at line \(failure.line), column \(failure.column) (\(Self.describe(failure.code)))")
        }
        title = reader.title
        declaredFigures = reader.declaredFigures
        figures = reader.figures
        externalReferences = reader.externalReferences
        scripts = reader.scripts
        duplicateIDs = reader.duplicateIDs
    }

    /// libxml2's error codes a page of ours could meet, in words.
    static func describe(_ code: Int) -> String {
        switch code {
        case 4: return "no document"
        case 5: return "the document ends early or goes on after its root element"
        case 26: return "an entity XML does not define, such as &nbsp;"
        case 68, 73: return "a tag is cut off"
        case 76: return "an element is closed by another's end tag"
        default: return "XML parser error \(code)"
        }
    }

    public func figure(_ id: String) -> Figure? {
        figures.first { $0.id == id }
    }

    /// What is missing or wrong, one line each; empty for a sound page.
    public var problems: [String] {
        var found: [String] = []
        for id in declaredFigures where figure(id) == nil { found.append("figure \(id) is promised but absent") }
        for figure in figures {
            if !declaredFigures.contains(figure.id) { found.append("figure \(figure.id) is not in the page's figure list") }
            switch figure.kind {
            case "svg":
                if figure.axisLabels.count < 2 || figure.axisLabels.contains(where: \.isEmpty) {
                    found.append("chart \(figure.id) lacks axis labels (has \(figure.axisLabels))")
                }
                if figure.legendEntries.isEmpty || figure.legendEntries.contains(where: \.isEmpty) {
                    found.append("chart \(figure.id) has no legend")
                }
            case "img":
                if !figure.embedsPNG { found.append("picture \(figure.id) is not embedded PNG data") }
            default:
                found.append("figure \(figure.id) holds neither a chart nor a picture")
            }
            if figure.caption.isEmpty { found.append("figure \(figure.id) has no caption") }
        }
        for reference in externalReferences { found.append("refers outside the page: \(reference.prefix(80))") }
        if scripts > 0 { found.append("holds \(scripts) script element(s)") }
        for id in duplicateIDs { found.append("id \(id) is used twice") }
        return found
    }

    private final class Reader: NSObject, XMLParserDelegate {
        var title = ""
        var declaredFigures: [String] = []
        var figures: [Figure] = []
        var externalReferences: [String] = []
        var scripts = 0
        var duplicateIDs: [String] = []
        private var ids: Set<String> = []
        /// Open elements, innermost last, with their class attribute.
        private var stack: [(name: String, classes: [String])] = []
        /// The figure being read, and where its element sits on the stack.
        private var current: (figure: Figure, depth: Int)?
        private var collecting: (kind: Kind, depth: Int, text: String)?
        /// The first error the parser reported, and where.
        var firstError: (code: Int, line: Int, column: Int)?

        func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
            if firstError == nil { firstError = ((parseError as NSError).code, parser.lineNumber, parser.columnNumber) }
        }

        enum Kind {
            case title, axisLabel, legend, caption
        }

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            let classes = (attributes["class"] ?? "").split(separator: " ").map(String.init)
            stack.append((name, classes))
            if let id = attributes["id"], !ids.insert(id).inserted { duplicateIDs.append(id) }
            if name == "script" { scripts += 1 }
            for key in ["src", "href", "xlink:href"] {
                if let value = attributes[key], !value.hasPrefix("data:"), !value.hasPrefix("#") { externalReferences.append(value) }
            }
            if name == "link" { externalReferences.append(attributes["href"] ?? "link element") }
            if name == "meta", attributes["name"] == "cdfss-figures" {
                declaredFigures = (attributes["content"] ?? "").split(separator: " ").map(String.init)
            }
            if name == "title", current == nil, stack.count <= 3 { collecting = (.title, stack.count, "") }
            if name == "figure", let id = attributes["id"] {
                current = (Figure(id: id, kind: ""), stack.count)
                return
            }
            guard var figure = current?.figure else { return }
            if name == "svg", figure.kind.isEmpty { figure.kind = "svg" }
            if name == "img", figure.kind.isEmpty {
                figure.kind = "img"
                let prefix = "data:image/png;base64,"
                if let source = attributes["src"], source.hasPrefix(prefix),
                   let bytes = Data(base64Encoded: String(source.dropFirst(prefix.count))) {
                    figure.embedsPNG = bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
                }
            }
            current!.figure = figure
            if collecting == nil {
                if name == "text", classes.contains("axis-label") { collecting = (.axisLabel, stack.count, "") }
                if name == "g", classes.contains("legend-entry") { collecting = (.legend, stack.count, "") }
                if name == "figcaption" { collecting = (.caption, stack.count, "") }
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard collecting != nil else { return }
            // A legend entry's <title> or a chart's tooltip is not its visible text.
            if stack.last?.name == "title" && collecting!.kind != .title { return }
            collecting!.text += string
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if let collected = collecting, collected.depth == stack.count {
                let text = collected.text.trimmingCharacters(in: .whitespacesAndNewlines)
                switch collected.kind {
                case .title: title = text
                case .axisLabel: current?.figure.axisLabels.append(text)
                case .legend: current?.figure.legendEntries.append(text)
                case .caption: current?.figure.caption = text
                }
                collecting = nil
            }
            if let open = current, open.depth == stack.count {
                figures.append(open.figure)
                current = nil
            }
            stack.removeLast()
        }
    }
}
