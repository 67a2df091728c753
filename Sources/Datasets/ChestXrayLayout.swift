/// The chest X-ray lung masks (Shenzhen and Montgomery sets) as packaged in Kaggle's "Chest
/// X-ray Masks and Labels", the folder the PATNet benchmark reads:
///
///     LungSegmentation/CXR_png/<id>.png
///     LungSegmentation/masks/<id>_mask.png
///
/// One class ("1", PATNet's name for it). The pool is the list of masks, as in PATNet's loader:
/// radiographs without a mask are not samples. Samples come in byte order of the mask names.
/// The image of `<id>_mask.png` is `<id>.png`; a mask without the `_mask` suffix (the
/// Montgomery masks in the Kaggle package are named like their radiographs) pairs with the
/// radiograph of the same name, where PATNet's loader would cut the last nine characters.
enum ChestXrayLayout {
    static let className = "1"
    static let folder = "LungSegmentation"

    static func scan(_ scan: inout LayoutScan) {
        guard scan.folder(folder, className: nil) != nil else { return }
        scan.addClass(className, folder: folder, rule: PairingRule(
            poolFolder: folder + "/masks", partnerFolder: folder + "/CXR_png", poolIsImages: false, poolPattern: "*.png",
            isPoolFile: { FileName.hasExtension($0, "png") },
            isPartnerFile: { FileName.hasExtension($0, "png") },
            partnerName: imageName(ofMask:)))
    }

    /// `<id>_mask.png` -> `<id>.png`; any other mask name is also its radiograph's name.
    static func imageName(ofMask mask: String) -> String {
        let stem = FileName.stem(mask)
        guard stem.hasSuffix("_mask"), stem.count > 5 else { return mask }
        return String(stem.dropLast(5)) + ".png"
    }
}
