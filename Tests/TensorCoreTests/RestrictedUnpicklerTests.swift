import Foundation
import TensorCore
import XCTest

/// Hand-written pickles for what torch never writes but a hostile or damaged file might.
final class RestrictedUnpicklerTests: XCTestCase {
    func load(_ bytes: [UInt8]) throws -> PickleValue {
        try RestrictedUnpickler(bytes).load()
    }

    func assertRefused(_ bytes: [UInt8], mentioning part: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(bytes), file: file, line: line) { error in
            let message = (error as? InputError)?.message ?? "\(error)"
            XCTAssertTrue(message.contains(part), "'\(message)' does not mention '\(part)'", file: file, line: line)
        }
    }

    func testMemoSharesAListFilledAfterItWasStored() throws {
        // [] BINPUT 0, MARK 1 2 APPENDS, POP, BINGET 0, STOP: the list fetched from the memo has the items.
        let value = try load([0x80, 0x02, 0x5D, 0x71, 0x00, 0x28, 0x4B, 0x01, 0x4B, 0x02, 0x65, 0x30, 0x68, 0x00, 0x2E])
        guard case .list(let list) = value else { return XCTFail("not a list: \(value.summary)") }
        XCTAssertEqual(list.items.compactMap(\.intValue), [1, 2])
    }

    func testIntegersAndFloatsDecode() throws {
        // (BININT -2, BININT2 65535, LONG1 of 2 bytes -32768, LONG1 of 9 bytes 2^63 (too big), BINFLOAT -1.5) as a tuple.
        var bytes: [UInt8] = [0x80, 0x02, 0x28]
        bytes += [0x4A, 0xFE, 0xFF, 0xFF, 0xFF]
        bytes += [0x4D, 0xFF, 0xFF]
        bytes += [0x8A, 0x02, 0x00, 0x80]
        bytes += [0x8A, 0x09, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x00]
        bytes += [0x47, 0xBF, 0xF8, 0, 0, 0, 0, 0, 0]
        bytes += [0x74, 0x2E]
        guard case .tuple(let items) = try load(bytes) else { return XCTFail("not a tuple") }
        XCTAssertEqual(items[0].intValue, -2)
        XCTAssertEqual(items[1].intValue, 65535)
        XCTAssertEqual(items[2].intValue, -32768)
        guard case .bigInt(let big) = items[3] else { return XCTFail("2^63 should not fit an Int") }
        XCTAssertEqual(big.count, 9)
        guard case .float(let x) = items[4] else { return XCTFail("not a float") }
        XCTAssertEqual(x, -1.5)
    }

    func testDeepNestingIsRefused() {
        // EMPTY_TUPLE wrapped 2000 times in TUPLE1.
        let bytes: [UInt8] = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: 2000) + [0x2E]
        assertRefused(bytes, mentioning: "nest deeper than")
    }

    func testListInsideItselfIsRefused() {
        // [] BINPUT 0, BINGET 0, APPEND
        assertRefused([0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E], mentioning: "recursive structure")
    }

    func testContainerChangedAfterNestingIsRefused() {
        // [] BINPUT 0, TUPLE1 (nests it), BINGET 0, NONE, APPEND: a cycle could be built this way.
        assertRefused([0x80, 0x02, 0x5D, 0x71, 0x00, 0x85, 0x68, 0x00, 0x4E, 0x61, 0x2E], mentioning: "recursive structure")
    }

    func testObjectBuildingOpcodesAreRefused() {
        // INST 'os\nsystem\n' would import and call.
        assertRefused([0x80, 0x02, 0x28] + Array("ios\nsystem\n".utf8) + [0x2E], mentioning: "builds arbitrary objects")
    }

    func testCallingSomethingThatIsNotAnAllowedGlobalIsRefused() {
        // 'x' () REDUCE: a string is not callable.
        assertRefused([0x80, 0x02, 0x58, 1, 0, 0, 0, 0x78, 0x29, 0x52, 0x2E], mentioning: "not callable")
    }

    func testMemoGetBeforePutIsRefused() {
        assertRefused([0x80, 0x02, 0x68, 0x05, 0x2E], mentioning: "memo entry 5")
    }

    func trainingPickle() throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/checkpoints/training_data.pkl")
        let pickle = try [UInt8](Data(contentsOf: url))
        XCTAssertGreaterThan(pickle.count, 2000)
        XCTAssertNoThrow(try load(pickle))
        return pickle
    }

    /// Every strict prefix of a real training-checkpoint pickle is refused with an InputError
    /// (none may trap): each opcode meets the end of its input somewhere.
    func testEveryTruncationOfARealPickleIsRefused() throws {
        let pickle = try trainingPickle()
        var refused = 0
        for length in 0..<pickle.count {
            do { _ = try load(Array(pickle[..<length])) } catch is InputError { refused += 1 }
        }
        XCTAssertEqual(refused, pickle.count)
    }

    /// One-byte corruptions of the same pickle load or throw an InputError; none may trap.
    func testCorruptedBytesNeverTrap() throws {
        let pickle = try trainingPickle()
        var generator = SeededGenerator(seed: 7)
        var refused = 0
        for _ in 0..<1000 {
            var damaged = pickle
            let position = Int(generator.next() % UInt64(pickle.count))
            damaged[position] = UInt8(truncatingIfNeeded: generator.next())
            do { _ = try load(damaged) } catch is InputError { refused += 1 }
        }
        XCTAssertGreaterThan(refused, 0)
    }
}
