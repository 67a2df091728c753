import CZlib
import Foundation

/// One record of a zip archive, as the central directory describes it.
struct ZipRecord {
    let path: String
    /// 0: stored, 8: deflate.
    let method: UInt16
    let flags: UInt16
    let checksum: UInt32
    /// Bytes the record takes in the file, and bytes it holds once inflated.
    let storedSize: UInt64
    let size: UInt64
    /// Where its local header starts.
    let headerOffset: UInt64

    var isCompressed: Bool { method != 0 }
}

/// The zip archives torch.save writes (stored records, ZIP64 for large files), and deflated
/// ones, read with every offset and size checked against the file before it is used.
///
/// A checkpoint comes from anywhere, so the directory is read as a claim: each record must lie
/// inside the file, after the one before it (records sharing bytes could make a small file
/// inflate the same stream hundreds of times), and a record may not give more bytes than the
/// directory says. Errors are `InputError`s naming the file.
final class ZipArchive {
    let path: String
    let fileSize: UInt64
    /// In directory order.
    let records: [ZipRecord]
    private let descriptor: Int32

    /// Bytes handed over per read: large enough to keep the reads efficient, small enough
    /// to stay in cache while they are checked and decoded.
    static let chunkSize = 1 << 20

    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw InputError("\(path): cannot read checkpoint (\(String(cString: strerror(errno))))") }
        do {
            var status = stat()
            guard fstat(descriptor, &status) == 0 else { throw InputError("\(path): cannot read checkpoint") }
            fileSize = UInt64(status.st_size)
            records = try ZipArchive.readDirectory(descriptor, fileSize: fileSize, path: path)
        } catch {
            close(descriptor)
            throw error
        }
    }

    deinit {
        close(descriptor)
    }

    // MARK: Reading bytes

    /// `count` bytes at `offset`, which the caller checked lie inside the file.
    private static func read(_ descriptor: Int32, _ count: Int, at offset: UInt64, path: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            guard got > 0 else { throw InputError("\(path): cannot read checkpoint (\(got < 0 ? String(cString: strerror(errno)) : "file shorter than it was"))") }
            done += got
        }
        return bytes
    }

    private static func u16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }
    private static func u32(_ b: [UInt8], _ at: Int) -> UInt32 { UInt32(u16(b, at)) | UInt32(u16(b, at + 2)) << 16 }
    private static func u64(_ b: [UInt8], _ at: Int) -> UInt64 { UInt64(u32(b, at)) | UInt64(u32(b, at + 4)) << 32 }

    // MARK: The directory

    private static func readDirectory(_ descriptor: Int32, fileSize: UInt64, path: String) throws -> [ZipRecord] {
        func corrupt(_ what: String) -> InputError { InputError("\(path): corrupt zip archive (\(what))") }
        // The end-of-central-directory record lies in the last 64 KiB + 22 bytes; the last
        // one whose comment reaches the end of the file is taken.
        let tailLength = Int(min(fileSize, 65_535 + 22))
        let tail = try read(descriptor, tailLength, at: fileSize - UInt64(tailLength), path: path)
        guard tailLength >= 22, let end = stride(from: tailLength - 22, through: 0, by: -1).first(where: { at in
            u32(tail, at) == 0x0605_4B50 && at + 22 + Int(u16(tail, at + 20)) <= tailLength
        }) else {
            throw InputError("\(path): truncated or corrupt zip archive (no end-of-central-directory record; \(fileSize) bytes)")
        }
        var count = UInt64(u16(tail, end + 10))
        var directorySize = UInt64(u32(tail, end + 12))
        var directoryOffset = UInt64(u32(tail, end + 16))
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: a locator just before the record points at the 64-bit record.
            guard end >= 20, u32(tail, end - 20) == 0x0706_4B50 else { throw corrupt("ZIP64 sizes without a ZIP64 locator") }
            let recordOffset = u64(tail, end - 20 + 8)
            guard recordOffset <= fileSize, fileSize - recordOffset >= 56 else { throw corrupt("ZIP64 record outside the file") }
            let record = try read(descriptor, 56, at: recordOffset, path: path)
            guard u32(record, 0) == 0x0606_4B50 else { throw corrupt("no ZIP64 end-of-central-directory record") }
            count = u64(record, 32)
            directorySize = u64(record, 40)
            directoryOffset = u64(record, 48)
        }
        guard directoryOffset <= fileSize, directorySize <= fileSize - directoryOffset else {
            throw corrupt("central directory of \(directorySize) bytes at \(directoryOffset) lies outside the file's \(fileSize)")
        }
        guard directorySize <= UInt64(InputLimits.zipDirectoryBytes) else {
            throw InputError("\(path): zip directory of \(InputLimits.describeBytes(Int(directorySize))); at most \(InputLimits.describeBytes(InputLimits.zipDirectoryBytes)) are read")
        }
        // Each entry takes at least 46 bytes.
        guard count <= directorySize / 46 else { throw corrupt("\(count) records claimed in a directory of \(directorySize) bytes") }
        let directory = try read(descriptor, Int(directorySize), at: directoryOffset, path: path)

        var records: [ZipRecord] = []
        records.reserveCapacity(Int(count))
        var at = 0
        for index in 0..<Int(count) {
            guard at + 46 <= directory.count, u32(directory, at) == 0x0201_4B50 else {
                throw corrupt("directory entry \(index) is damaged")
            }
            let nameLength = Int(u16(directory, at + 28)), extraLength = Int(u16(directory, at + 30))
            let commentLength = Int(u16(directory, at + 32))
            guard at + 46 + nameLength + extraLength + commentLength <= directory.count else {
                throw corrupt("directory entry \(index) runs past the directory")
            }
            let name = String(decoding: directory[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            var size = UInt64(u32(directory, at + 24))
            var storedSize = UInt64(u32(directory, at + 20))
            var headerOffset = UInt64(u32(directory, at + 42))
            // ZIP64 extended information replaces the fields that hold 0xFFFFFFFF, in order.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = u16(directory, extra), length = Int(u16(directory, extra + 2))
                guard extra + 4 + length <= extraEnd else { throw corrupt("record \(name) has a damaged extra field") }
                if id == 0x0001 {
                    var field = extra + 4
                    let fieldEnd = extra + 4 + length
                    func next() throws -> UInt64 {
                        guard field + 8 <= fieldEnd else { throw corrupt("record \(name) has a short ZIP64 field") }
                        defer { field += 8 }
                        return u64(directory, field)
                    }
                    if size == 0xFFFF_FFFF { size = try next() }
                    if storedSize == 0xFFFF_FFFF { storedSize = try next() }
                    if headerOffset == 0xFFFF_FFFF { headerOffset = try next() }
                }
                extra += 4 + length
            }
            records.append(ZipRecord(path: name, method: u16(directory, at + 10), flags: u16(directory, at + 8),
                                     checksum: u32(directory, at + 16), storedSize: storedSize, size: size,
                                     headerOffset: headerOffset))
            at += 46 + nameLength + extraLength + commentLength
        }

        // Records lie one after another, each a 30-byte local header and its stored bytes at
        // least: in order of their offsets, none may start before the one before it ends,
        // and none may reach past the directory.
        var previous: ZipRecord?
        var previousEnd: UInt64 = 0
        for record in records.sorted(by: { $0.headerOffset < $1.headerOffset }) {
            guard record.headerOffset <= directoryOffset, record.storedSize <= directoryOffset - record.headerOffset,
                  directoryOffset - record.headerOffset - record.storedSize >= 30 else {
                throw corrupt("record \(record.path) claims \(record.storedSize) bytes at \(record.headerOffset), past the records' end at \(directoryOffset)")
            }
            if let previous, record.headerOffset < previousEnd {
                throw corrupt("records \(previous.path) and \(record.path) share bytes: records overlap")
            }
            previous = record
            previousEnd = record.headerOffset + 30 + record.storedSize
        }
        return records
    }

    // MARK: Records

    /// Hands the record's bytes, inflated if need be, to `body` in chunks. Stops as soon as
    /// it would give more than the directory's size for it; checks that it gave exactly
    /// that many and that their CRC matches.
    func stream(_ record: ZipRecord, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        func corrupt(_ what: String) -> InputError { InputError("\(path): record \(record.path) is corrupt (\(what))") }
        guard record.flags & 1 == 0 else { throw InputError("\(path): record \(record.path) is encrypted") }
        guard record.method == 0 || record.method == 8 else {
            throw InputError("\(path): record \(record.path) uses compression method \(record.method) (stored and deflate are read)")
        }
        let header = try ZipArchive.read(descriptor, 30, at: record.headerOffset, path: path)
        guard ZipArchive.u32(header, 0) == 0x0403_4B50 else { throw corrupt("no local header at \(record.headerOffset)") }
        let dataStart = record.headerOffset + 30 + UInt64(ZipArchive.u16(header, 26)) + UInt64(ZipArchive.u16(header, 28))
        guard dataStart <= fileSize, record.storedSize <= fileSize - dataStart else {
            throw InputError("\(path): record \(record.path) is truncated (its \(record.storedSize) bytes run past the end of the file)")
        }

        var checksum = ZipChecksum()
        var total: UInt64 = 0
        func deliver(_ chunk: UnsafeRawBufferPointer) throws {
            guard UInt64(chunk.count) <= record.size - total else {
                throw corrupt("inflates beyond the \(record.size) bytes its directory entry gives")
            }
            checksum.update(chunk)
            total += UInt64(chunk.count)
            try body(chunk)
        }
        if record.method == 0 {
            var offset: UInt64 = 0
            while offset < record.storedSize {
                let count = Int(min(UInt64(ZipArchive.chunkSize), record.storedSize - offset))
                let chunk = try ZipArchive.read(descriptor, count, at: dataStart + offset, path: path)
                try chunk.withUnsafeBytes { try deliver($0) }
                offset += UInt64(count)
            }
        } else {
            try inflate(record, from: dataStart, deliver)
        }
        guard total == record.size else {
            throw InputError("\(path): record \(record.path) is truncated (\(total) of \(record.size) bytes)")
        }
        guard checksum.value == record.checksum else {
            throw InputError("\(path): record \(record.path) is corrupt (CRC-32 mismatch)")
        }
    }

    /// Raw deflate data, inflated chunk by chunk with zlib.
    private func inflate(_ record: ZipRecord, from dataStart: UInt64, _ deliver: (UnsafeRawBufferPointer) throws -> Void) throws {
        func corrupt(_ what: String) -> InputError { InputError("\(path): record \(record.path) is corrupt (\(what))") }
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw InputError("\(path): zlib could not start (out of memory)")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: ZipArchive.chunkSize)
        var consumed: UInt64 = 0
        var finished = false
        while !finished {
            guard consumed < record.storedSize else { throw corrupt("its deflate data end early") }
            let count = Int(min(UInt64(ZipArchive.chunkSize), record.storedSize - consumed))
            var input = try ZipArchive.read(descriptor, count, at: dataStart + consumed, path: path)
            consumed += UInt64(count)
            try input.withUnsafeMutableBufferPointer { source in
                stream.next_in = source.baseAddress
                stream.avail_in = UInt32(source.count)
                repeat {
                    let status = output.withUnsafeMutableBufferPointer { out -> Int32 in
                        stream.next_out = out.baseAddress
                        stream.avail_out = UInt32(out.count)
                        return CZlib.inflate(&stream, Z_NO_FLUSH)
                    }
                    guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                        throw corrupt(stream.msg.map { String(cString: $0) } ?? "deflate error \(status)")
                    }
                    let produced = output.count - Int(stream.avail_out)
                    try output.withUnsafeBytes { try deliver(UnsafeRawBufferPointer(rebasing: $0[..<produced])) }
                    if status == Z_STREAM_END { finished = true; break }
                    if status == Z_BUF_ERROR && produced == 0 { break }  // needs more input
                } while stream.avail_in > 0 || stream.avail_out == 0
            }
        }
    }
}
