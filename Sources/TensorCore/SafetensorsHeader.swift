import Foundation

/// The JSON header of a safetensors file, checked as the reference safetensors library checks
/// it: every tensor entry has a string dtype, a shape of non-negative integers and two
/// integer data offsets; the tensors' byte ranges, in order of their start, tile the data
/// area exactly — no overlap, no gap, no byte left over after the last one. Anything else is
/// refused (the reference refuses it too, so a file we accepted would not load in PyTorch).
struct SafetensorsHeader {
    struct Entry {
        let name: String
        let format: ScalarFormat
        let dtype: String
        let shape: [Int]
        let count: Int
        let start: Int
        let end: Int
    }

    /// In order of their data.
    let entries: [Entry]
    let metadata: [String: String]

    /// Parses and checks `json` against a data area of `payloadSize` bytes.
    /// Errors are `InputError`s without the file name.
    init(json: Data, payloadSize: Int) throws {
        let raw: RawHeader
        do {
            raw = try JSONDecoder().decode(RawHeader.self, from: json)
        } catch let error as InputError {
            throw error
        } catch DecodingError.typeMismatch(_, let context) where context.codingPath.isEmpty {
            throw InputError("corrupt safetensors header (not a JSON object)")
        } catch {
            throw InputError("corrupt safetensors header (\(Self.jsonProblem(json)))")
        }
        metadata = raw.metadata

        var entries: [Entry] = []
        var loaded = 0
        for tensor in raw.tensors {
            let what = "tensor \"\(tensor.name)\""
            guard let format = ScalarFormat(safetensorsName: tensor.dtype) else {
                throw InputError("\(what): dtype \(tensor.dtype) is not supported (float32, float64, float16, bfloat16 are)")
            }
            let count: Int
            do {
                count = try InputLimits.checkShape(tensor.shape)
            } catch let error as InputError {
                throw InputError("\(what): \(error.message)")
            }
            let (start, end) = (tensor.offsets[0], tensor.offsets[1])
            guard start <= end else { throw InputError("\(what): data range \(start)..<\(end) ends before it starts") }
            guard end <= payloadSize else {
                throw InputError("\(what): data range \(start)..<\(end) lies outside the file's \(payloadSize) bytes of data (truncated?)")
            }
            guard end - start == count * format.byteCount else {
                throw InputError("\(what): \(end - start) bytes of data for shape \(tensor.shape) in \(tensor.dtype) (\(count * format.byteCount) expected)")
            }
            loaded += 4 * count
            guard loaded <= InputLimits.loadedBytes else {
                throw InputError("its tensors hold more than \(InputLimits.describeBytes(InputLimits.loadedBytes)) as float32, the most one file may load")
            }
            entries.append(Entry(name: tensor.name, format: format, dtype: tensor.dtype, shape: tensor.shape,
                                 count: count, start: start, end: end))
        }

        // The ranges must tile 0..<payloadSize. Sorted by start (then end, so that empty
        // tensors sit before a tensor starting at the same byte), each must start where the
        // one before ended.
        entries.sort { ($0.start, $0.end, $0.name) < ($1.start, $1.end, $1.name) }
        var covered = 0
        var previous: Entry?
        for entry in entries {
            let what = "tensor \"\(entry.name)\""
            if entry.start < covered, let previous {
                throw InputError("\(what): data range \(entry.start)..<\(entry.end) overlaps tensor \"\(previous.name)\" (\(previous.start)..<\(previous.end))")
            }
            if entry.start > covered {
                let after = previous.map { "after tensor \"\($0.name)\" (\($0.start)..<\($0.end))" } ?? "at the start of the data"
                throw InputError("\(what): data starts at byte \(entry.start), leaving bytes \(covered)..<\(entry.start) \(after) to no tensor")
            }
            covered = entry.end
            previous = entry
        }
        guard covered == payloadSize else {
            throw InputError("bytes \(covered)..<\(payloadSize) of the data belong to no tensor (extra data after the last tensor)")
        }
        self.entries = entries
    }
}

extension SafetensorsHeader {
    /// What is wrong with JSON text JSONDecoder refused: JSONSerialization says where the
    /// syntax breaks, and tells a number too large for any Swift type from broken syntax.
    static func jsonProblem(_ json: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: json)
            return "valid JSON holding a value the header cannot"
        } catch {
            let detail = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String)
                .map { " " + $0.split(whereSeparator: \.isNewline).joined(separator: " ") } ?? ""
            if detail.contains("not representable") { return "a number beyond the range of a double:\(detail)" }
            return "not valid JSON:\(detail)"
        }
    }
}

/// The header as JSON, before its ranges are checked. Sizes are decoded one by one so that
/// a size that is not an integer is named for what it is (a string, a bool, a fraction, a
/// number beyond 64 bits) instead of being read as something else.
private struct RawHeader: Decodable {
    struct Tensor {
        let name: String
        let dtype: String
        let shape: [Int]
        let offsets: [Int]
    }

    var tensors: [Tensor] = []
    var metadata: [String: String] = [:]

    private struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        // The reference keeps the file's order only through the offsets; sorting by name
        // makes the first error reported the same on every run.
        for key in container.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            let name = key.stringValue
            if name == "__metadata__" {
                guard let values = try? container.decode([String: String].self, forKey: key) else {
                    throw InputError("corrupt __metadata__ (not an object of strings)")
                }
                metadata = values
                continue
            }
            let what = "tensor \"\(name)\""
            guard let fields = try? container.nestedContainer(keyedBy: Key.self, forKey: key) else {
                throw InputError("\(what): corrupt header entry (not an object)")
            }
            guard let dtype = try? fields.decode(String.self, forKey: Key(stringValue: "dtype")) else {
                throw InputError("\(what): corrupt header entry (no string \"dtype\")")
            }
            let shape = try Self.integers(in: fields, "shape", of: what)
            let offsets = try Self.integers(in: fields, "data_offsets", of: what)
            guard offsets.count == 2 else {
                throw InputError("\(what): data_offsets has \(offsets.count) numbers, expected [start, end]")
            }
            tensors.append(Tensor(name: name, dtype: dtype, shape: shape, offsets: offsets))
        }
    }

    /// The array `field` of non-negative integers, or an error naming the first item that is not one.
    private static func integers(in fields: KeyedDecodingContainer<Key>, _ field: String, of what: String) throws -> [Int] {
        guard var items = try? fields.nestedUnkeyedContainer(forKey: Key(stringValue: field)) else {
            throw InputError("\(what): corrupt header entry (no array \"\(field)\")")
        }
        var values: [Int] = []
        while !items.isAtEnd {
            if let value = try? items.decode(Int.self) {
                guard value >= 0 else { throw InputError("\(what): \(field) holds \(value), a negative number") }
                values.append(value)
                continue
            }
            // Not an Int: say what it is. A failed decode leaves the item in place.
            let kind: String
            if let flag = try? items.decode(Bool.self) {
                kind = "\(flag), a bool"
            } else if let text = try? items.decode(String.self) {
                kind = "\"\(text)\", a string"
            } else if let number = try? items.decode(Decimal.self) {
                kind = number.isWhole ? "\(number), beyond 64-bit integers" : "\(number), not an integer"
            } else {
                kind = "a number beyond the range of a double, or a value that is not a number"
            }
            throw InputError("\(what): \(field) holds \(kind); sizes and offsets are integers from 0 to \(Int.max)")
        }
        return values
    }
}

private extension Decimal {
    var isWhole: Bool {
        var value = self
        var rounded = Decimal()
        NSDecimalRound(&rounded, &value, 0, .plain)
        return rounded == self
    }
}
