import Foundation

/// How one class's samples are found: the files of a pool folder (the images; for lung the
/// masks), each paired by name with a file of a partner folder (the mask; for lung the image).
struct PairingRule {
    /// Folder, relative to the datapath, whose files make the class's pool.
    var poolFolder: String
    /// Folder holding the other half of each sample (may be the pool folder itself).
    var partnerFolder: String
    /// Whether the pool files are the images (false for lung, whose pool is the masks).
    var poolIsImages = true
    /// How the pool files look, for messages: `*.jpg`.
    var poolPattern: String
    /// Which files of the pool folder belong to the pool.
    var isPoolFile: (String) -> Bool
    /// Which files of the partner folder are partners (used to tell unpaired masks from stray files).
    var isPartnerFile: (String) -> Bool
    /// The partner's file name for a pool file's name.
    var partnerName: (String) -> String
}

/// Walks a benchmark's folders and pairs images with masks, recording every problem instead of
/// stopping at the first: `TargetDataset.load` throws the first blocking one and
/// `DatasetCheck` reports them all, so the two can never disagree on what a layout holds.
/// Nothing is decoded here.
struct LayoutScan {
    /// One class as found on disk.
    struct ListedClass {
        let name: String
        /// Absolute path of the class's folder.
        let folder: String
        /// Pool files found (images; lung: masks), paired or not.
        var listed = 0
        /// The paired samples, in the pool's order.
        var samples: [LabelledImage] = []
    }

    /// A folder's visible entries (names not starting with "."), in byte order of their names.
    struct FolderListing {
        var files: [String]
        var folders: [String]
        var fileSet: Set<String>
    }

    let kind: BenchmarkKind
    let root: URL
    private(set) var classes: [ListedClass] = []
    private(set) var problems: [DatasetProblem] = []

    /// Every folder looked at, nil when it is missing; a missing folder is reported once.
    private var listings: [String: FolderListing?] = [:]
    /// Pool and partner folders in the order first read, for the leftovers of `finish`.
    private var samplingFolders: [String] = []
    /// The class a pool or partner folder belongs to, nil when several classes share it.
    private var folderClass: [String: String?] = [:]
    /// Partner folders and what a partner looks like there.
    private var partnerRules: [String: PairingRule] = [:]
    /// Relative paths of the files some sample uses.
    private var used: Set<String> = []

    init(kind: BenchmarkKind, root: URL) {
        self.kind = kind
        self.root = root
    }

    /// Walks the layout of `kind` under `datapath` (for FSS-1000, the classes of `fssSplit`).
    static func scan(_ kind: BenchmarkKind, datapath: URL, fssSplit: FSS1000Split = .test) throws -> LayoutScan {
        var scan = LayoutScan(kind: kind, root: datapath)
        guard scan.folder("", className: nil) != nil else { return scan }
        switch kind {
        case .deepglobe: DeepglobeLayout.scan(&scan)
        case .isic: ISICLayout.scan(&scan)
        case .lung: ChestXrayLayout.scan(&scan)
        case .fss: FSS1000Layout.scan(&scan, classes: try FSS1000Layout.classes(of: fssSplit))
        case .folder: FolderLayout.scan(&scan)
        }
        scan.finish()
        return scan
    }

    /// The absolute path of a path relative to the datapath.
    func path(_ relative: String) -> String {
        relative.isEmpty ? root.path : root.appendingPathComponent(relative).path
    }

    /// Lists a folder, recording it as missing (blocking) the first time it is not there.
    mutating func folder(_ relative: String, className: String?) -> FolderListing? {
        if let known = listings[relative] { return known }
        let listing: FolderListing?
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path(relative), isDirectory: &isDirectory) {
            listing = nil
            problems.append(DatasetProblem(.missingFolder, className: className, path: path(relative), blocking: true))
        } else if !isDirectory.boolValue {
            listing = nil
            problems.append(DatasetProblem(.missingFolder, className: className, path: path(relative),
                                           detail: "a file is there, not a folder", blocking: true))
        } else {
            do {
                listing = try Self.list(path(relative))
            } catch {
                listing = nil
                problems.append(DatasetProblem(.missingFolder, className: className, path: path(relative),
                                               detail: "cannot be listed (\(error.localizedDescription))", blocking: true))
            }
        }
        listings[relative] = .some(listing)
        return listing
    }

    /// Python's `sorted` on the names (the PATNet loaders sort `glob` results): byte order,
    /// which is code-point order, independent of locale.
    static func byteOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    private static func list(_ path: String) throws -> FolderListing {
        // Hidden entries are skipped as Python's glob('*') skips them (.DS_Store, ._x.jpg).
        let names = try FileManager.default.contentsOfDirectory(atPath: path)
            .filter { !$0.hasPrefix(".") }.sorted(by: byteOrder)
        var files: [String] = [], folders: [String] = []
        for name in names {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(name), isDirectory: &isDirectory)
            if isDirectory.boolValue { folders.append(name) } else { files.append(name) }
        }
        return FolderListing(files: files, folders: folders, fileSet: Set(files))
    }

    /// Records that a `folder` datapath holds no class folder.
    mutating func reportNoClasses() {
        problems.append(DatasetProblem(.noClasses, className: nil, path: root.path,
                                       detail: "expected <class>/images and <class>/masks folders", blocking: true))
    }

    /// Adds a class whose folder is missing or was not read, so that reports still show it.
    mutating func addUnreadClass(_ name: String, folder: String) {
        classes.append(ListedClass(name: name, folder: path(folder)))
    }

    /// Adds a class: lists its pool and pairs each pool file with its partner, in the pool's
    /// byte order. A pool file without its partner is a blocking problem: a benchmark must not
    /// silently lose samples.
    mutating func addClass(_ name: String, folder classFolder: String, rule: PairingRule) {
        var listed = ListedClass(name: name, folder: path(classFolder))
        defer { classes.append(listed) }
        guard folder(classFolder, className: name) != nil, let pool = folder(rule.poolFolder, className: name) else { return }
        let partners = folder(rule.partnerFolder, className: name)
        noteSamplingFolder(rule.poolFolder, className: name)
        noteSamplingFolder(rule.partnerFolder, className: name)
        partnerRules[rule.partnerFolder] = rule

        var claimedBy: [String: String] = [:]
        for file in pool.files where rule.isPoolFile(file) {
            listed.listed += 1
            let poolPath = rule.poolFolder + "/" + file
            used.insert(poolPath)
            guard let partners else { continue }  // the missing partner folder is reported already
            let partnerFile = rule.partnerName(file)
            let partnerPath = rule.partnerFolder + "/" + partnerFile
            if let first = claimedBy[partnerPath] {
                problems.append(DatasetProblem(.ambiguousPair, className: name, path: path(first), otherPath: path(poolPath),
                                               detail: "\(path(partnerPath)); rename one", blocking: true))
                continue
            }
            claimedBy[partnerPath] = poolPath
            guard partners.fileSet.contains(partnerFile) else {
                problems.append(DatasetProblem(rule.poolIsImages ? .imageWithoutMask : .maskWithoutImage, className: name,
                                               path: path(poolPath), otherPath: path(partnerPath), blocking: true))
                continue
            }
            used.insert(partnerPath)
            listed.samples.append(rule.poolIsImages ? LabelledImage(image: poolPath, mask: partnerPath)
                                                    : LabelledImage(image: partnerPath, mask: poolPath))
        }
        if listed.listed == 0 {
            problems.append(DatasetProblem(.emptyClass, className: name, path: path(rule.poolFolder),
                                           detail: "no \(rule.poolPattern) files", blocking: true))
        }
    }

    private mutating func noteSamplingFolder(_ relative: String, className: String) {
        if let owner = folderClass[relative] {
            if owner != className { folderClass[relative] = .some(nil) }
        } else {
            folderClass[relative] = className
            samplingFolders.append(relative)
        }
    }

    /// Reports what the pool and partner folders hold besides the samples: masks no image
    /// claims (lung: images without a mask, which are simply not in the pool) and files or
    /// subfolders the layout does not read. None of these blocks.
    private mutating func finish() {
        for relative in samplingFolders {
            guard let listing = listings[relative] ?? nil else { continue }
            let owner = folderClass[relative] ?? nil
            for file in listing.files where !used.contains(relative + "/" + file) {
                let filePath = path(relative + "/" + file)
                if let rule = partnerRules[relative], rule.isPartnerFile(file) {
                    if rule.poolIsImages {
                        problems.append(DatasetProblem(.maskWithoutImage, className: owner, path: filePath,
                                                       detail: "no image pairs with it", blocking: false))
                    } else {
                        problems.append(DatasetProblem(.ignoredFile, className: owner, path: filePath,
                                                       detail: "no mask, so not in the pool", blocking: false))
                    }
                } else {
                    problems.append(DatasetProblem(.ignoredFile, className: owner, path: filePath, blocking: false))
                }
            }
            for subfolder in listing.folders {
                problems.append(DatasetProblem(.ignoredFile, className: owner, path: path(relative + "/" + subfolder),
                                               detail: "subfolder", blocking: false))
            }
        }
    }
}

/// File-name helpers shared by the layouts. The PATNet loaders keep a file when the text after
/// its dot is the extension (`name.split('.')[1] == 'jpg'`); here the last extension decides,
/// which is the same for every name with a single dot.
enum FileName {
    /// Whether `name` ends in `.ext` (exactly, as on a case-sensitive file system) after a non-empty stem.
    static func hasExtension(_ name: String, _ ext: String) -> Bool {
        name.count > ext.count + 1 && name.hasSuffix("." + ext)
    }

    /// The name without its last extension.
    static func stem(_ name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }

    /// The last extension, without the dot ("" when there is none).
    static func pathExtension(_ name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return String(name[name.index(after: dot)...])
    }
}
