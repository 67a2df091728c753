import Foundation
import Imaging
import XCTest

/// Whether `text` drawn in black at `scale` appears somewhere in `picture` exactly, on a
/// white background: proof that a label was written and not overdrawn.
func containsText(_ picture: RGBImage, _ text: String, scale: Int) -> Bool {
    let size = BitmapFont.textSize(text, scale: scale)
    var stamp = Canvas(width: size.width, height: size.height)
    stamp.text(text, x: 0, y: 0, scale: scale)
    let target = Canvas(image: picture)
    guard size.width <= picture.width, size.height <= picture.height else { return false }
    for top in 0...(picture.height - size.height) {
        for left in 0...(picture.width - size.width) {
            var same = true
            for y in 0..<size.height where same {
                for x in 0..<size.width where target.color(x: left + x, y: top + y) != stamp.color(x: x, y: y) {
                    same = false
                    break
                }
            }
            if same { return true }
        }
    }
    return false
}

func colours(_ picture: RGBImage, in rect: PixelRect? = nil) -> [RGBColor: Int] {
    let canvas = Canvas(image: picture)
    let area = rect ?? PixelRect(x: 0, y: 0, width: picture.width, height: picture.height)
    var counts: [RGBColor: Int] = [:]
    for y in area.y..<area.maxY {
        for x in area.x..<area.maxX { counts[canvas.color(x: x, y: y)!, default: 0] += 1 }
    }
    return counts
}
