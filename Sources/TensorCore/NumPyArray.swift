import Foundation

/// NumPy `.npy` files (format versions 1 to 3): float32, little-endian, C order.
/// Other dtypes and Fortran order are refused with an error that says what the file holds.
public enum NumPyArray {
    public static func read(_ url: URL) throws -> Tensor {
        let data = try readFile(url, what: ".npy file")
        do {
            return try decode(data)
        } catch let error as InputError {
            throw InputError("\(url.path): \(error.message)")
        }
    }

    public static func decode(_ data: Data) throws -> Tensor {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard data.count >= 10, Array(data.prefix(6)) == magic else {
            if let kind = FileSignature.describe(data) { throw InputError("is \(kind), not a .npy file") }
            throw InputError("not a .npy file (bad magic)")
        }
        let major = data[data.startIndex + 6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(data[data.startIndex + 8]) | Int(data[data.startIndex + 9]) << 8
            headerStart = 10
        case 2, 3:
            guard data.count >= 12 else { throw InputError("truncated .npy header") }
            headerLength = data.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self))) }
            headerStart = 12
        default:
            throw InputError(".npy format version \(major) is not supported")
        }
        guard headerStart + headerLength <= data.count,
              let header = String(data: data.subdata(in: headerStart..<(headerStart + headerLength)), encoding: .utf8)
        else { throw InputError("truncated .npy header") }

        guard let descr = field("descr", in: header) else { throw InputError(".npy header has no descr") }
        let dtype = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\" "))
        guard dtype == "<f4" || dtype == "|f4" else {
            throw InputError(".npy dtype \(dtype) is not supported (float32 '<f4' is; convert with arr.astype(np.float32))")
        }
        guard let order = field("fortran_order", in: header) else { throw InputError(".npy header has no fortran_order") }
        guard order.trimmingCharacters(in: .whitespaces) == "False" else {
            throw InputError(".npy array is in Fortran order; save it with np.ascontiguousarray")
        }
        guard let shapeText = field("shape", in: header) else { throw InputError(".npy header has no shape") }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var shape: [Int] = []
        for dim in dims {
            guard let n = Int(dim), n >= 0 else {
                let reason = dim.allSatisfy(\.isNumber) ? "\(dim) is beyond 64-bit sizes" : "'\(dim)' is not a size"
                throw InputError(".npy shape (\(shapeText)) is not valid (\(reason))")
            }
            shape.append(n)
        }
        let count: Int
        do {
            count = try InputLimits.checkShape(shape)
        } catch let error as InputError {
            throw InputError(".npy \(error.message)")
        }
        let payloadStart = headerStart + headerLength
        guard data.count - payloadStart >= count * 4 else {
            throw InputError(".npy data truncated: shape \(shape) needs \(count * 4) bytes, file has \(data.count - payloadStart)")
        }
        let scalars = data.withUnsafeBytes { raw in
            ScalarFormat.float32.decode(UnsafeRawBufferPointer(rebasing: raw[payloadStart..<(payloadStart + count * 4)]), count: count)
        }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// The text after `'key':` in a header dict, up to the next top-level comma.
    private static func field(_ key: String, in header: String) -> String? {
        guard let keyRange = header.range(of: "'\(key)':") ?? header.range(of: "\"\(key)\":") else { return nil }
        var depth = 0
        var value = ""
        for character in header[keyRange.upperBound...] {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1; if depth < 0 { break } }
            if (character == "," || character == "}") && depth == 0 { break }
            value.append(character)
        }
        return value.trimmingCharacters(in: .whitespaces)
    }

    public static func encode(_ tensor: Tensor) -> Data {
        let shapeText = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        // Pad so that the data starts on a 64-byte boundary, header ending in a newline.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let length = UInt16(header.utf8.count)
        data.append(UInt8(length & 0xff))
        data.append(UInt8(length >> 8))
        data.append(contentsOf: Array(header.utf8))
        tensor.scalars.withUnsafeBufferPointer { buffer in
            let littleEndian = buffer.map { $0.bitPattern.littleEndian }
            littleEndian.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        return data
    }

    public static func write(_ tensor: Tensor, to url: URL) throws {
        try AtomicFile.write(encode(tensor), to: url)
    }
}
