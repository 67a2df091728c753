/// Deepglobe land cover as the PATNet benchmark distributes it: 408 x 408 tiles sorted into one
/// folder per land-cover class, each tile with a binary mask of that class.
///
///     Deepglobe/<1..6>/test/origin/<id>.jpg
///     Deepglobe/<1..6>/test/groundtruth/<id>.png
///
/// Like PATNet's loader, a class's samples are the `*.jpg` files of its `origin` folder in byte
/// order of their names, each with the `.png` of the same name in `groundtruth`.
enum DeepglobeLayout {
    static let classNames = (1...6).map(String.init)

    static func scan(_ scan: inout LayoutScan) {
        guard scan.folder("Deepglobe", className: nil) != nil else { return }
        for name in classNames {
            let folder = "Deepglobe/\(name)"
            scan.addClass(name, folder: folder, rule: PairingRule(
                poolFolder: folder + "/test/origin", partnerFolder: folder + "/test/groundtruth", poolPattern: "*.jpg",
                isPoolFile: { FileName.hasExtension($0, "jpg") },
                isPartnerFile: { FileName.hasExtension($0, "png") },
                partnerName: { FileName.stem($0) + ".png" }))
        }
    }
}
