import Foundation

/// Writes zip archives record by record, including the lies a hostile archive tells (sizes
/// its data do not have, records sharing bytes), so that tests make their broken checkpoints
/// themselves instead of keeping binaries.
struct CraftedZip {
    struct Record {
        var name: String
        /// What the archive stores for the record (deflate data when `method` is 8).
        var stored: [UInt8]
        /// 0: stored, 8: deflate.
        var method: UInt16 = 0
        /// The sizes and checksum the directory claims; the true ones when nil.
        var claimedSize: UInt32?
        var claimedStoredSize: UInt32?
        var claimedCRC: UInt32?
        /// Points the directory entry at an earlier record's local header instead of its own.
        var sharesDataOf: Int?
    }

    var records: [Record] = []

    mutating func add(_ name: String, _ bytes: [UInt8]) {
        records.append(Record(name: name, stored: bytes))
    }

    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        var directory: [UInt8] = []
        var offsets: [Int] = []
        for record in records {
            let name = Array(record.name.utf8)
            let size = record.claimedSize ?? UInt32(record.stored.count)
            let storedSize = record.claimedStoredSize ?? UInt32(record.stored.count)
            let crc = record.claimedCRC ?? Self.crc32(record.method == 0 ? record.stored : [])
            let fields = Self.le16(20) + Self.le16(0) + Self.le16(record.method) + Self.le16(0) + Self.le16(0x21)
                + Self.le32(crc) + Self.le32(storedSize) + Self.le32(size) + Self.le16(UInt16(name.count)) + Self.le16(0)
            let offset: Int
            if let shared = record.sharesDataOf {
                offset = offsets[shared]
            } else {
                offset = out.count
                out += Self.le32(0x0403_4B50) + fields + name + record.stored
            }
            offsets.append(offset)
            directory += Self.le32(0x0201_4B50) + Self.le16(20) + fields + Self.le16(0) + Self.le16(0) + Self.le16(0)
                + Self.le32(0) + Self.le32(UInt32(offset)) + name
        }
        let directoryOffset = out.count
        out += directory
        out += Self.le32(0x0605_4B50) + Self.le16(0) + Self.le16(0) + Self.le16(UInt16(records.count))
            + Self.le16(UInt16(records.count)) + Self.le32(UInt32(directory.count)) + Self.le32(UInt32(directoryOffset)) + Self.le16(0)
        return out
    }

    /// `bytes` as deflate "stored" blocks: valid deflate data that inflates to `bytes` exactly.
    static func deflateStored(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        repeat {
            let end = min(start + 65535, bytes.count)
            let length = UInt16(end - start)
            out += [end == bytes.count ? 1 : 0] + le16(length) + le16(~length) + bytes[start..<end]
            start = end
        } while start < bytes.count
        return out
    }

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}

/// Pickle opcodes for the state dicts torch writes, so that tests can state a hostile
/// checkpoint's tensors in a line.
enum CraftedPickle {
    static let proto: [UInt8] = [0x80, 0x02]
    static let stop: [UInt8] = [0x2E]
    static let emptyDict: [UInt8] = [0x7D]
    static let setItem: [UInt8] = [0x73]

    static func string(_ text: String) -> [UInt8] {
        let utf8 = Array(text.utf8)
        return [0x58] + CraftedZip.le32(UInt32(utf8.count)) + utf8
    }

    /// Any integer, as LONG1 (8 bytes, two's complement).
    static func int(_ value: Int) -> [UInt8] {
        [0x8A, 8] + (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    static func global(_ module: String, _ name: String) -> [UInt8] {
        [0x63] + Array("\(module)\n\(name)\n".utf8)
    }

    static func tuple(_ items: [[UInt8]]) -> [UInt8] {
        [0x28] + items.joined() + [0x74]
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())` on the float32
    /// storage record `key` of `elements` elements.
    static func tensor(storage key: String, elements: Int, offset: Int = 0, shape: [Int], strides: [Int]) -> [UInt8] {
        let persistentID = tuple([string("storage"), global("torch", "FloatStorage"), string(key), string("cpu"), int(elements)]) + [0x51]
        let arguments = tuple([persistentID, int(offset), tuple(shape.map(int)), tuple(strides.map(int)), [0x89],
                               global("collections", "OrderedDict") + [0x29, 0x52]])
        return global("torch._utils", "_rebuild_tensor_v2") + arguments + [0x52]
    }

    /// `{name: tensor, ...}` as a whole pickle.
    static func stateDict(_ entries: [(String, [UInt8])]) -> [UInt8] {
        proto + emptyDict + entries.flatMap { string($0.0) + $0.1 + setItem } + stop
    }

    /// A checkpoint archive holding `pickle` and float32 storage records of the given sizes.
    static func checkpoint(_ pickle: [UInt8], storages: [String: Int]) -> [UInt8] {
        var zip = CraftedZip()
        zip.add("archive/data.pkl", pickle)
        zip.add("archive/byteorder", Array("little".utf8))
        for (key, elements) in storages.sorted(by: { $0.key < $1.key }) {
            zip.add("archive/data/\(key)", (0..<(4 * elements)).map { UInt8(truncatingIfNeeded: $0) })
        }
        return zip.bytes()
    }
}
