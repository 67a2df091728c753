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

    /// Decodes a whole file's bytes. Errors are `InputError`s without the file name.
    public static func decode(_ data: Data) throws -> SafetensorsFile {
        guard data.count >= 8 else { throw InputError(notSafetensors(data, "shorter than 8 bytes")) }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw InputError(notSafetensors(data, "header length \(headerLength) exceeds file size \(data.count)", truncated: true))
        }
        guard headerLength <= UInt64(InputLimits.safetensorsHeaderBytes) else {
            throw InputError("safetensors header of \(headerLength) bytes is larger than the \(InputLimits.safetensorsHeaderBytes) bytes the safetensors format allows")
        }
        let payloadStart = 8 + Int(headerLength)
        guard headerLength > 0, data[data.startIndex + 8] == UInt8(ascii: "{") else {
            throw InputError(notSafetensors(data, "the header does not start with '{'"))
        }
        let header = try SafetensorsHeader(json: data.subdata(in: (data.startIndex + 8)..<(data.startIndex + payloadStart)),
                                           payloadSize: data.count - payloadStart)
        var file = SafetensorsFile(metadata: header.metadata)
        data.withUnsafeBytes { raw in
            for entry in header.entries {
                let bytes = UnsafeRawBufferPointer(rebasing: raw[(payloadStart + entry.start)..<(payloadStart + entry.end)])
                file.tensors[entry.name] = Tensor(shape: entry.shape, scalars: entry.format.decode(bytes, count: entry.count))
            }
        }
        return file
    }

    /// Why `data` is not a safetensors file: what it is instead when its first bytes say so
    /// (a `.pt` checkpoint given for a masker file, say), else `reason`.
    private static func notSafetensors(_ data: Data, _ reason: String, truncated: Bool = false) -> String {
        if let kind = FileSignature.describe(data), kind != "a safetensors file" {
            return "is \(kind), not a safetensors file"
        }
        return truncated ? "not a safetensors file or truncated (\(reason))" : "not a safetensors file (\(reason))"
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
