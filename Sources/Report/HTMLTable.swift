import Foundation

/// A table of text and numbers: a header row, then rows of cells. Number columns are
/// right-aligned with figures of one width, so a column of scores reads down; a change is
/// signed, and tinted green or orange as it is an improvement or not.
public struct HTMLTable: ReportBlock {
    public struct Column: Sendable {
        public var title: String
        public var isNumeric: Bool

        public static func text(_ title: String) -> Column { Column(title: title, isNumeric: false) }
        public static func number(_ title: String) -> Column { Column(title: title, isNumeric: true) }
    }

    public struct Cell: ExpressibleByStringLiteral, Sendable {
        public var text: String
        /// "better" or "worse" for a change, nil otherwise.
        var tone: String?

        public init(_ text: String) {
            self.text = text
        }

        public init(stringLiteral value: String) {
            text = value
        }

        /// `value` with `decimals` decimals; "-" when it is nil or not finite.
        public static func number(_ value: Double?, decimals: Int = 2) -> Cell {
            guard let value, value.isFinite else { return Cell("-") }
            return Cell(String(format: "%.\(decimals)f", value))
        }

        /// A change, always signed ("+1.20", "-0.35", "0.00"), tinted green where it is an
        /// improvement and orange where it is not: `higherIsBetter` says which way is which
        /// (true for IoU, false for a loss), nil leaves it untinted.
        public static func change(_ value: Double?, decimals: Int = 2, higherIsBetter: Bool? = true) -> Cell {
            guard let value, value.isFinite else { return Cell("-") }
            let text = String(format: "%+.\(decimals)f", value)
            let zero = Double(text) == 0
            var cell = Cell(zero ? String(format: "%.\(decimals)f", 0.0) : text)
            if !zero, let higherIsBetter { cell.tone = (value > 0) == higherIsBetter ? "better" : "worse" }
            return cell
        }
    }

    public var caption: String?
    public var columns: [Column]
    public var rows: [[Cell]]

    /// Every row has one cell per column.
    public init(caption: String? = nil, columns: [Column], rows: [[Cell]]) {
        precondition(rows.allSatisfy { $0.count == columns.count }, "a table row needs \(columns.count) cells")
        self.caption = caption
        self.columns = columns
        self.rows = rows
    }

    public func render(into markup: inout Markup) {
        markup.open("table")
        if let caption { markup.element("caption", text: caption) }
        markup.open("thead")
        markup.open("tr")
        for column in columns { markup.element("th", column.isNumeric ? ["class": "num"] : [:], text: column.title) }
        markup.close("tr")
        markup.close("thead")
        markup.open("tbody")
        for row in rows {
            markup.open("tr")
            for (column, cell) in zip(columns, row) {
                let classes = [column.isNumeric ? "num" : nil, cell.tone].compactMap { $0 }
                markup.element("td", classes.isEmpty ? [:] : ["class": classes.joined(separator: " ")], text: cell.text)
            }
            markup.close("tr")
        }
        markup.close("tbody")
        markup.close("table")
    }
}

/// A two-column table of settings: what a run was given and where its inputs came from.
public struct KeyValueTable: ReportBlock {
    public var caption: String?
    public var rows: [(key: String, value: String)]

    public init(caption: String? = nil, rows: [(key: String, value: String)]) {
        self.caption = caption
        self.rows = rows
    }

    public func render(into markup: inout Markup) {
        markup.open("table", ["class": "settings"])
        if let caption { markup.element("caption", text: caption) }
        markup.open("tbody")
        for row in rows {
            markup.open("tr")
            markup.element("td", ["class": "key"], text: row.key)
            markup.element("td", ["class": "value"], text: row.value)
            markup.close("tr")
        }
        markup.close("tbody")
        markup.close("table")
    }
}
