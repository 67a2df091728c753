// libFuzzer target: PyTorch checkpoints, the restricted unpickler and the zip reader.
//
// An input that starts as a zip archive is the checkpoint file itself (seeds: real torch.save
// files). Any other input is taken as the pickle: it is stored as `archive/data.pkl` in a zip
// written here, beside storage records `archive/data/0` to `archive/data/15` of 4 KiB each,
// so that the fuzzer reaches the unpickler and the tensor loading behind it without having
// to keep the zip's checksums right.
import Foundation
import TensorCore

private let path = NSTemporaryDirectory() + "cdfss-fuzz-\(getpid()).pt"

/// The records beside the pickle, with their checksums, made once.
private let storages: [StoredZip.Record] = (0..<16).map { key in
    StoredZip.Record(name: "archive/data/\(key)", bytes: (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ key) })
} + [StoredZip.Record(name: "archive/byteorder", bytes: Array("little".utf8))]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = [UInt8](UnsafeBufferPointer(start: data, count: size))
    let file = input.starts(with: [0x50, 0x4B]) ? input
        : StoredZip.archive([StoredZip.Record(name: "archive/data.pkl", bytes: input)] + storages)
    let url = URL(fileURLWithPath: path)
    guard (try? Data(file).write(to: url)) != nil else { fatalError("cannot write \(path)") }
    do {
        let checkpoint = try TorchCheckpoint(contentsOf: url)
        _ = checkpoint.root.summary
        // What `inspect` shows, then what `predict` loads.
        let summary = try CheckpointSummary(checkpoint)
        _ = summary.textReport()
        _ = try checkpoint.loadStateDict()
    } catch is InputError {
    } catch {
        fatalError("not an InputError: \(error)")
    }
    return 0
}

/// A zip archive of stored (uncompressed) records, as torch.save writes them.
enum StoredZip {
    struct Record {
        let name: String
        let bytes: [UInt8]
        let crc: UInt32

        init(name: String, bytes: [UInt8]) {
            self.name = name
            self.bytes = bytes
            crc = StoredZip.crc32(bytes)
        }
    }

    static func archive(_ records: [Record]) -> [UInt8] {
        var out: [UInt8] = []
        var directory: [UInt8] = []
        for record in records {
            let offset = out.count
            let name = Array(record.name.utf8)
            let fields = header(crc: record.crc, size: record.bytes.count, nameLength: name.count)
            out += le32(0x0403_4B50) + fields + name + record.bytes
            directory += le32(0x0201_4B50) + le16(20) + fields + le16(0) + le16(0) + le16(0) + le32(0) + le32(UInt32(offset)) + name
        }
        let directoryOffset = out.count
        out += directory
        out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(UInt16(records.count)) + le16(UInt16(records.count))
            + le32(UInt32(directory.count)) + le32(UInt32(directoryOffset)) + le16(0)
        return out
    }

    /// Version, flags, method (stored), time, date, CRC, sizes, name length, extra length.
    private static func header(crc: UInt32, size: Int, nameLength: Int) -> [UInt8] {
        le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21) + le32(crc) + le32(UInt32(size)) + le32(UInt32(size))
            + le16(UInt16(nameLength)) + le16(0)
    }

    private static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    private static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
