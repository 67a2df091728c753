import Foundation

/// The safetensors format: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw little-endian data.
/// We write float32; we read float32, float16 and bfloat16 (converted to float32).
public struct SafetensorsFile: Equatable {
    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Reads `url`; errors name the file and what is wrong with it.
    public static func read(_ url: URL) throws -> SafetensorsFile {
        let data = try readFile(url, what: "safetensors file")
        do {
            return try decode(data)
        } catch let error as InputError {
            throw InputError("\(url.path): \(error.message)")
        }
    }

    public static func decode(_ data: Data) throws -> SafetensorsFile {
        guard data.count >= 8 else { throw InputError("not a safetensors file (shorter than 8 bytes)") }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw InputError("not a safetensors file or truncated (header length \(headerLength) exceeds file size \(data.count))")
        }
        let headerData = data.subdata(in: 8..<(8 + Int(headerLength)))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw InputError("corrupt safetensors header (not a JSON object)")
        }
        let payloadStart = 8 + Int(headerLength)
        let payloadSize = data.count - payloadStart
        var file = SafetensorsFile()
        for (name, entry) in header {
            if name == "__metadata__" {
                guard let meta = entry as? [String: Any] else { throw InputError("corrupt __metadata__ (not an object)") }
                for (key, value) in meta {
                    guard let text = value as? String else { throw InputError("metadata \"\(key)\" is not a string") }
                    file.metadata[key] = text
                }
                continue
            }
            guard let info = entry as? [String: Any],
                  let dtype = info["dtype"] as? String,
                  let shape = (info["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (info["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  offsets.count == 2, shape.allSatisfy({ $0 >= 0 })
            else { throw InputError("tensor \"\(name)\": corrupt header entry") }
            let count = shape.reduce(1, *)
            guard let format = ScalarFormat(safetensorsName: dtype) else {
                throw InputError("tensor \"\(name)\": dtype \(dtype) is not supported (float32, float64, float16, bfloat16 are)")
            }
            let (start, end) = (offsets[0], offsets[1])
            guard start >= 0, start <= end, end <= payloadSize else {
                throw InputError("tensor \"\(name)\": data range \(start)..<\(end) lies outside the file (truncated?)")
            }
            guard end - start == count * format.byteCount else {
                throw InputError("tensor \"\(name)\": \(end - start) bytes of data for shape \(shape) in \(dtype)")
            }
            let scalars = data.withUnsafeBytes { raw in
                format.decode(UnsafeRawBufferPointer(rebasing: raw[(payloadStart + start)..<(payloadStart + end)]), count: count)
            }
            file.tensors[name] = Tensor(shape: shape, scalars: scalars)
        }
        return file
    }

    /// The encoded file: float32 tensors in name order.
    public func encoded() -> Data {
        let names = tensors.keys.sorted()
        var entries: [String] = []
        var offset = 0
        for name in names {
            let tensor = tensors[name]!
            let bytes = tensor.count * 4
            entries.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.insert("\"__metadata__\":{\(pairs.joined(separator: ","))}", at: 0)
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
        var data = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        for name in names {
            tensors[name]!.scalars.withUnsafeBufferPointer { buffer in
                let littleEndian = buffer.map { $0.bitPattern.littleEndian }
                littleEndian.withUnsafeBytes { data.append(contentsOf: $0) }
            }
        }
        return data
    }

    /// Writes the file atomically (temporary name, then rename).
    public func write(to url: URL) throws {
        try AtomicFile.write(encoded(), to: url)
    }

    /// The tensor called `name`, or an error naming the file's keys.
    public func tensor(_ name: String, in source: String) throws -> Tensor {
        guard let tensor = tensors[name] else {
            throw InputError("\(source): tensor \"\(name)\" is missing (has: \(tensors.keys.sorted().joined(separator: ", ")))")
        }
        return tensor
    }
}

/// A JSON string literal for `text`.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
