/// A user's own data: one folder per class right under the datapath, each with its pictures and
/// their masks.
///
///     <datapath>/<class>/images/<name>.<png|jpg|jpeg|tif|tiff>
///     <datapath>/<class>/masks/<name>.png
///
/// Classes are the visible subfolders of the datapath in byte order of their names; samples the
/// pictures of `images` (extension in any case: `.JPG` is common from cameras) in byte order of
/// their names, each with the mask `<name>.png` (lower-case `.png`). Two pictures of the same
/// name (`a.jpg`, `a.png`) would share a mask and are an error.
enum FolderLayout {
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "tif", "tiff"]

    static func scan(_ scan: inout LayoutScan) {
        guard let root = scan.folder("", className: nil) else { return }
        guard !root.folders.isEmpty else {
            scan.reportNoClasses()
            return
        }
        for name in root.folders {
            scan.addClass(name, folder: name, rule: PairingRule(
                poolFolder: name + "/images", partnerFolder: name + "/masks", poolPattern: "*.png, *.jpg, *.jpeg, *.tif or *.tiff",
                isPoolFile: { imageExtensions.contains(FileName.pathExtension($0).lowercased()) },
                isPartnerFile: { FileName.hasExtension($0, "png") },
                partnerName: { FileName.stem($0) + ".png" }))
        }
    }
}
