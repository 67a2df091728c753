import Datasets
import Foundation
import Imaging
import TensorCore

/// One labelled target-domain picture prepared for the network: the normalised image
/// [1, 3, S, S] and its 0/1 mask [S, S] at the network size S, with the paths it came from.
public struct AdaptationImage: Sendable {
    /// The picture's and the mask's paths as the user named them (they go into the masker
    /// file's metadata, and a resumed run must name the same ones).
    public let imagePath: String
    public let maskPath: String
    public let image: Tensor
    public let mask: Tensor

    public init(imagePath: String, maskPath: String, image: Tensor, mask: Tensor) {
        self.imagePath = imagePath
        self.maskPath = maskPath
        self.image = image
        self.mask = mask
    }

    /// Reads a picture and its mask (PNG, JPEG or TIFF), checks that they have the same size,
    /// and prepares them for a `size` x `size` network input as HSNet's loaders do: the picture
    /// resized with antialiased bilinear and normalised, the mask resized with torch's nearest
    /// rule and binarised at 128.
    public static func load(image imagePath: String, mask maskPath: String, size: Int) throws -> AdaptationImage {
        let picture = try RGBImage(contentsOf: URL(fileURLWithPath: imagePath))
        let mask = try GrayImage(contentsOf: URL(fileURLWithPath: maskPath))
        guard picture.width == mask.width, picture.height == mask.height else {
            throw InputError("\(maskPath): the mask is \(mask.width) x \(mask.height) but its image \(imagePath) is \(picture.width) x \(picture.height)")
        }
        return AdaptationImage(imagePath: imagePath, maskPath: maskPath, image: imageTensor(picture, size: size),
                               mask: maskTensor(mask, size: size).reshaped([size, size]))
    }

    /// True when the mask has no foreground pixel at the network size: such an image cannot
    /// be a support (HSNet's masked support features would be all zero).
    public var hasEmptyMask: Bool { !mask.scalars.contains(1) }
}

/// A list of adaptation images: one `image<TAB>mask` per line, paths relative to the list
/// file's folder (absolute paths stay as they are). Blank lines and lines starting with `#`
/// are skipped.
public enum AdaptationList {
    public static func read(_ url: URL) throws -> [(image: String, mask: String)] {
        let data = try readFile(url, what: "adaptation list")
        guard let text = String(data: data, encoding: .utf8) else {
            throw InputError("\(url.path): not UTF-8 text (expected one image<TAB>mask per line)")
        }
        let folder = url.deletingLastPathComponent()
        var entries: [(image: String, mask: String)] = []
        // "\r\n" is one Character in Swift, so Windows line ends are normalised first.
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        for (number, line) in lines.enumerated() {
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 2, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw InputError("\(url.path):\(number + 1): expected image<TAB>mask, got \"\(line)\"")
            }
            func resolve(_ path: Substring) -> String {
                path.hasPrefix("/") ? String(path) : folder.appendingPathComponent(String(path)).path
            }
            entries.append((resolve(fields[0]), resolve(fields[1])))
        }
        guard !entries.isEmpty else { throw InputError("\(url.path): lists no image<TAB>mask line") }
        return entries
    }
}
