import Foundation
import Imaging
import XCTest

/// Writes the example figures to the folder named by CDFSS_EXAMPLE_FIGURES, for a person to
/// look at (fonts, layout, colours); without it there is nothing to do.
final class ExampleFigures: XCTestCase {
    func testWriteExampleFigures() throws {
        guard let folder = ProcessInfo.processInfo.environment["CDFSS_EXAMPLE_FIGURES"] else {
            throw XCTSkip("set CDFSS_EXAMPLE_FIGURES to a folder to write the example figures")
        }
        let url = URL(fileURLWithPath: folder)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)

        // Every character, at the label size and three times larger, to judge the glyphs.
        let characters = Array((32...126).map { Character(UnicodeScalar(UInt8($0))) })
        var sheet = Canvas(width: 600, height: 170)
        for (row, start) in stride(from: 0, to: characters.count, by: 32).enumerated() {
            let line = String(characters[start..<min(start + 32, characters.count)])
            sheet.text(line, x: 8, y: 8 + row * 14)
            sheet.text(line, x: 8, y: 56 + row * 36, scale: 3)
        }
        try sheet.image.writePNG(to: url.appendingPathComponent("font.png"))

        // A 64 x 64 correlation-like matrix: blocks of related channels, a unit diagonal,
        // deterministic noise.
        var state: UInt64 = 12345
        func noise() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
        let n = 64
        var correlation = [Float](repeating: 0, count: n * n)
        for r in 0..<n {
            for c in r..<n {
                let value: Float = r == c ? 1 : (r / 16 == c / 16 ? 0.6 : (r / 16 + c / 16 == 3 ? -0.5 : 0)) + 0.4 * noise()
                correlation[r * n + c] = max(-1, min(1, value))
                correlation[c * n + r] = correlation[r * n + c]
            }
        }
        try heatmapFigure(values: correlation, width: n, height: n, title: "Channel correlation, layer 4 (query)",
                          range: -1...1, colorBarLabel: "Pearson r", axisLabel: "channel", diverging: true)
            .writePNG(to: url.appendingPathComponent("correlation.png"))

        let mask = (0..<169).map { i -> Float in
            let (r, c) = (Float(i / 13) - 6, Float(i % 13) - 6)
            return 0.729 + 0.004 * (1 - (r * r + c * c).squareRoot() / 8.5)
        }
        try heatmapFigure(values: mask, width: 13, height: 13, title: "APM-S amplitude mask", range: 0.729...0.733,
                          colorBarLabel: "sigmoid(Ma)", axisLabel: "frequency")
            .writePNG(to: url.appendingPathComponent("mask.png"))

        // The extremes of size: a 7 x 9 field with missing values, a 512 x 512 one.
        let small = (0..<63).map { i -> Float in
            let (row, column) = (Float(i / 7), Float(i % 7))
            return i % 10 == 3 ? .nan : column * 0.25 - row * 0.1
        }
        try heatmapFigure(values: small, width: 7, height: 9, title: "7 x 9 with NaN").writePNG(to: url.appendingPathComponent("small.png"))
        let large = (0..<(512 * 512)).map { i -> Float in
            let (r, c) = (Float(i / 512) - 256, Float(i % 512) - 256)
            return sin((r * r + c * c).squareRoot() / 20)
        }
        try heatmapFigure(values: large, width: 512, height: 512, title: "512 x 512 rings", colorBarLabel: "sin(r / 20)",
                          axisLabel: "pixel", diverging: true)
            .writePNG(to: url.appendingPathComponent("large.png"))

        let radii: [Double] = [1, 2, 3, 4, 6, 8, 10, 13]
        func sweep(_ dataset: String, baseline: Double, shift: Double) -> LineChart {
            LineChart(
                title: "\(dataset): mIoU vs filter radius", xLabel: "radius (frequency bins)", yLabel: "mIoU (%)",
                series: [
                    .init(name: "low-pass", points: radii.map { ($0, baseline - 12 + shift + 11 * (1 - exp(-$0 / 3))) },
                          color: .series(0)),
                    .init(name: "high-pass", points: radii.map { ($0, baseline - 2 - 1.4 * $0 + shift) }, color: .series(1)),
                    .init(name: "band-stop", points: radii.map { ($0, baseline + 1.5 - abs($0 - 5) * 0.6) },
                          color: .series(2), dashed: true),
                ],
                horizontalReferences: [(name: "no filter", y: baseline, color: .gray)])
        }
        let first = sweep("Deepglobe", baseline: 41.3, shift: 0).render(width: 640, height: 400)
        try first.writePNG(to: url.appendingPathComponent("sweep.png"))
        try stacked([first, sweep("ISIC", baseline: 35.8, shift: 3).render(width: 640, height: 400)], gap: 12)
            .writePNG(to: url.appendingPathComponent("sweep-stacked.png"))

        // A small chart, captioned panels side by side.
        try sweep("FSS-1000", baseline: 78.2, shift: 1).render(width: 360, height: 240)
            .writePNG(to: url.appendingPathComponent("sweep-small.png"))
        let panels = ["before", "after 50 steps"].enumerated().map { k, name in
            titled(heatmap(values: mask.map { $0 + Float(k) * 0.001 }, width: 13, height: 13, range: 0.729...0.734, scale: 12), name)
        }
        try sideBySide(panels, gap: 8).writePNG(to: url.appendingPathComponent("panels.png"))

        // Data in every corner: the legend moves below the plot.
        let wave = (0...48).map { i -> (x: Double, y: Double) in (Double(i) / 4, sin(Double(i) / 2.5) * 10 + 50) }
        let crowded = LineChart(title: "Oscillation with a legend that has no free corner", xLabel: "step", yLabel: "value",
                                series: [.init(name: "sin", points: wave, color: .series(0)),
                                         .init(name: "cos", points: wave.map { ($0.x, 100 - $0.y) }, color: .series(1), dashed: true)],
                                horizontalReferences: [(name: "mean", y: 50, color: .gray)])
        try crowded.render(width: 480, height: 320).writePNG(to: url.appendingPathComponent("crowded.png"))
    }
}
