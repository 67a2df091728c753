/// ISIC 2018 Task 1 as the PATNet benchmark arranges it: the training images sorted into three
/// class folders (by the diagnosis in PATNet's `data/isic/class_id.csv`), the lesion masks
/// left in the challenge's single ground-truth folder.
///
///     ISIC/ISIC2018_Task1-2_Training_Input/<1..3>/<id>.jpg
///     ISIC/ISIC2018_Task1_Training_GroundTruth/<id>_segmentation.png
///
/// Like PATNet's loader, a class's samples are the `*.jpg` files of its folder in byte order of
/// their names, each with `<id>_segmentation.png`.
enum ISICLayout {
    static let classNames = ["1", "2", "3"]
    static let imageFolder = "ISIC/ISIC2018_Task1-2_Training_Input"
    static let maskFolder = "ISIC/ISIC2018_Task1_Training_GroundTruth"

    static func scan(_ scan: inout LayoutScan) {
        guard scan.folder("ISIC", className: nil) != nil else { return }
        guard scan.folder(imageFolder, className: nil) != nil else {
            for name in classNames { scan.addUnreadClass(name, folder: imageFolder + "/" + name) }
            return
        }
        for name in classNames {
            let folder = imageFolder + "/" + name
            scan.addClass(name, folder: folder, rule: PairingRule(
                poolFolder: folder, partnerFolder: maskFolder, poolPattern: "*.jpg",
                isPoolFile: { FileName.hasExtension($0, "jpg") },
                isPartnerFile: { FileName.hasExtension($0, "png") },
                partnerName: { FileName.stem($0) + "_segmentation.png" }))
        }
    }
}
