import Foundation
import Imaging

/// A picture on the page: encoded once by the project's PNG writer and embedded as a
/// `data:image/png;base64` URI, so the page needs no file beside it. Drawn at its own pixel
/// size (shrunk only when the window is narrower), so its text stays as readable as in the PNG.
public struct PictureFigure: ReportBlock {
    public var id: String
    public var caption: String
    public let pixelWidth: Int
    public let pixelHeight: Int
    /// The PNG bytes.
    public let png: Data

    /// Encodes `picture` now, so that a picture PNG cannot hold (an empty one) fails before
    /// anything is written.
    public init(id: String, caption: String, picture: RGBImage) throws {
        self.id = id
        self.caption = caption
        pixelWidth = picture.width
        pixelHeight = picture.height
        png = try PNGWriter.encode(picture)
    }

    public var figureIDs: [String] { [id] }

    public func render(into markup: inout Markup) {
        markup.open("figure", ["id": id, "class": "picture"])
        markup.empty("img", ["src": "data:image/png;base64," + png.base64EncodedString(), "width": String(pixelWidth),
                             "height": String(pixelHeight), "alt": caption])
        markup.element("figcaption", text: caption)
        markup.close("figure")
    }
}

/// Figures side by side while the page is wide enough, one under the other when it is not:
/// a masker before and after, the correlation without and with the plug-ins.
public struct FigureRow: ReportBlock {
    public var figures: [any ReportBlock]

    public init(_ figures: [any ReportBlock]) {
        self.figures = figures
    }

    public init(@ReportBuilder _ content: () throws -> [any ReportBlock]) rethrows {
        figures = try content()
    }

    public var figureIDs: [String] { figures.flatMap(\.figureIDs) }

    public func render(into markup: inout Markup) {
        markup.open("div", ["class": "figures"])
        for figure in figures { figure.render(into: &markup) }
        markup.close("div")
    }
}
