import ReferenceParity
import Foundation
import TensorCore
import XCTest

/// Fixtures under Tests/Fixtures/checkpoints were written by torch 2.15 (`torch.save`); the
/// expected float32 values beside them (`*_expected.safetensors`) were taken from the same
/// tensors in PyTorch (`.float()`, `.contiguous()`, `.resolve_neg()`).
final class CheckpointTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    func fixture(_ name: String) -> URL {
        Self.fixtures.appendingPathComponent("checkpoints").appendingPathComponent(name)
    }

    func expected(_ name: String) throws -> [String: Tensor] {
        try SafetensorsFile.read(fixture(name)).tensors
    }

    func assertBitwiseEqual(_ actual: Tensor, _ expected: Tensor, _ name: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, "shape of \(name)", file: file, line: line)
        XCTAssertEqual(actual.scalars.map(\.bitPattern), expected.scalars.map(\.bitPattern), "values of \(name)", file: file, line: line)
    }

    // MARK: Loading

    func testReferenceCheckpointLoadsExactlyTheDetFillValues() throws {
        let url = Self.fixtures.appendingPathComponent("hsnet_apm_nonbackbone.pt")
        let stateDict = try TorchCheckpoint.loadStateDict(from: url)
        XCTAssertEqual(stateDict.count, 102)
        XCTAssertEqual(stateDict.first?.name, "hpn_learner.encoder_layer4.0.conv1.weight")
        XCTAssertEqual(stateDict.first?.tensor.shape, [16, 3, 3, 3])
        XCTAssertEqual(stateDict.last?.name, "acpa.phase_attn.2.weight")
        XCTAssertEqual(stateDict.last?.tensor.shape, [2048, 8])
        XCTAssertEqual(stateDict.first { $0.name == "apm.mask_amplitude" }?.tensor.shape, [1, 2048, 13, 13])
        var mismatched: [String] = []
        for (name, tensor) in stateDict {
            let fill = detFill(name: name, shape: tensor.shape)
            if fill.scalars.map(\.bitPattern) != tensor.scalars.map(\.bitPattern) { mismatched.append(name) }
        }
        XCTAssertEqual(mismatched, [], "tensors that differ from det-fill")
        XCTAssertEqual(stateDict.reduce(0) { $0 + $1.tensor.count }, 2_573_794 + 692_224 + 32_768)
    }

    func testFloat16BFloat16AndFloat64AreConvertedToFloat32() throws {
        let stateDict = try TorchCheckpoint.loadStateDict(from: fixture("dtypes.pt"))
        XCTAssertEqual(stateDict.map(\.name), ["half.weight", "bf16.weight", "double.bias", "plain.weight"])
        let expected = try expected("dtypes_expected.safetensors")
        for (name, tensor) in stateDict { assertBitwiseEqual(tensor, expected[name]!, name) }
        // The float16 subnormal written by the generator survives the conversion.
        XCTAssertEqual(stateDict[0].tensor.scalars[0], Float(Float16(6.0e-8)))
    }

    func testListingKeepsIntegerAndBoolTensorsWithTheirStoredDtypes() throws {
        let listing = try TorchCheckpoint(contentsOf: fixture("dtypes.pt")).stateDictListing()
        XCTAssertEqual(listing.nesting, [])
        XCTAssertNil(listing.removedPrefix)
        XCTAssertEqual(listing.entries.map(\.name),
                       ["half.weight", "bf16.weight", "double.bias", "plain.weight", "bn.num_batches_tracked", "index", "flag"])
        XCTAssertEqual(listing.entries.map(\.dtype), [.float16, .bfloat16, .float64, .float32, .int64, .int32, .bool])
        XCTAssertEqual(listing.entries.map(\.shape), [[3, 4], [2, 3], [4], [2, 2], [], [3], [2]])
    }

    func testViewsSharingOneStorageAndNonContiguousViewsMatchTorch() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: fixture("views.pt"))
        let listing = try checkpoint.stateDictListing()
        let keys = Dictionary(listing.entries.map { ($0.name, $0.tensor.storage.key) }, uniquingKeysWith: { a, _ in a })
        // base, its transpose, a strided slice and a row all view one storage.
        XCTAssertEqual(Set(["base.weight", "transposed.weight", "slice.weight", "row.bias"].map { keys[$0]! }).count, 1)
        XCTAssertFalse(listing.entries.first { $0.name == "transposed.weight" }!.tensor.isContiguous)
        XCTAssertEqual(listing.entries.first { $0.name == "expanded.weight" }!.tensor.strides, [1, 0])
        XCTAssertTrue(listing.entries.first { $0.name == "negated.weight" }!.tensor.isNegated)

        let stateDict = try checkpoint.loadStateDict()
        let expected = try expected("views_expected.safetensors")
        XCTAssertEqual(stateDict.map(\.name), ["base.weight", "transposed.weight", "slice.weight", "row.bias", "alone.weight",
                                               "expanded.weight", "empty.weight", "scalar.bias", "negated.weight"])
        for (name, tensor) in stateDict { assertBitwiseEqual(tensor, expected[name]!, name) }
    }

    func testDataParallelModulePrefixIsRemoved() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: fixture("dataparallel.pt"))
        let listing = try checkpoint.stateDictListing()
        XCTAssertEqual(listing.removedPrefix, "module.")
        XCTAssertEqual(listing.entries.first?.storedName, "module.conv.weight")
        // The OrderedDict's `_metadata` attribute arrives through BUILD.
        XCTAssertEqual(checkpoint.root.dictValue?.attributes.map(\.name), ["_metadata"])
        try assertSmallModel(checkpoint.loadStateDict())
    }

    func assertSmallModel(_ stateDict: [(name: String, tensor: Tensor)], file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(stateDict.map(\.name), ["conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                               "bn.running_var", "head.weight", "head.bias"], file: file, line: line)
        let expected = try expected("small_model_expected.safetensors")
        for (name, tensor) in stateDict { assertBitwiseEqual(tensor, expected[name]!, name, file: file, line: line) }
    }

    func testTrainingCheckpointWithAdamStateLoadsItsStateDict() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: fixture("training.pt"))
        let listing = try checkpoint.stateDictListing()
        XCTAssertEqual(listing.nesting, ["state_dict"])
        XCTAssertNil(listing.removedPrefix)
        try assertSmallModel(checkpoint.loadStateDict())

        let top = try XCTUnwrap(checkpoint.root.dictValue)
        XCTAssertEqual(top["epoch"]?.intValue, 1)
        guard case .float(let miou)? = top["best_miou"] else { return XCTFail("best_miou") }
        XCTAssertEqual(miou, 41.5)
        guard case .bigInt(let seed)? = top["seed"] else { return XCTFail("seed is not a big integer") }
        XCTAssertEqual(seed, [0, 0, 0, 0, 0, 0, 0, 0, 0x40])  // 2^70, minimal two's complement
        guard case .bytes(let tag)? = top["tag"] else { return XCTFail("tag") }
        XCTAssertEqual(tag, Array("run-7".utf8))
        XCTAssertEqual(top["device"]?.stringValue, "cpu")
        guard case .tuple(let size)? = top["input_size"] else { return XCTFail("input_size") }
        XCTAssertEqual(size.compactMap(\.intValue), [400, 400])

        // Adam's state: per-parameter dicts keyed by int, with step, exp_avg and exp_avg_sq tensors.
        let optimizer = try XCTUnwrap(top["optimizer"]?.dictValue)
        let state = try XCTUnwrap(optimizer["state"]?.dictValue)
        XCTAssertEqual(state.entries.compactMap(\.key.intValue), [0, 1, 2, 3, 4, 5])
        let first = try XCTUnwrap(state.entries.first?.value.dictValue)
        XCTAssertEqual(first.entries.compactMap(\.key.stringValue), ["step", "exp_avg", "exp_avg_sq"])
        XCTAssertEqual(first["exp_avg"]?.tensorValue?.shape, [4, 3, 3, 3])
        let steps = try checkpoint.loadTensors([(name: "step", tensor: XCTUnwrap(first["step"]?.tensorValue))])
        XCTAssertEqual(steps[0].scalars, [2])
    }

    func testModelNestingIsFound() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: fixture("model_nested.pt"))
        XCTAssertEqual(try checkpoint.stateDictListing().nesting, ["model"])
        try assertSmallModel(checkpoint.loadStateDict())
    }

    func testProtocol4PickleLoads() throws {
        try assertSmallModel(TorchCheckpoint.loadStateDict(from: fixture("protocol4.pt")))
    }

    func testSavedParametersLoadAsTheirTensors() throws {
        let stateDict = try TorchCheckpoint.loadStateDict(from: fixture("parameters.pt"))
        XCTAssertEqual(stateDict.map(\.name), ["conv.weight", "conv.bias", "bn.weight", "bn.bias", "head.weight", "head.bias"])
        let expected = try expected("small_model_expected.safetensors")
        for (name, tensor) in stateDict { assertBitwiseEqual(tensor, expected[name]!, name) }
    }

    // MARK: Refusing code

    func testOsSystemGlobalIsRefusedByName() {
        let url = fixture("forbidden_os_system.pt")
        assertInputError([url.path, "refuses global os.system"]) { _ = try TorchCheckpoint(contentsOf: url) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/cdfss_pwned"))
    }

    func testBuiltinsEvalGlobalIsRefusedByName() {
        let url = fixture("forbidden_eval.pt")
        assertInputError([url.path, "refuses global builtins.eval"]) { _ = try TorchCheckpoint(contentsOf: url) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/cdfss_pwned"))
    }

    func testPickledModuleIsRefusedNamingItsClass() {
        let url = fixture("whole_module.pt")
        assertInputError([url.path, "refuses global torch.nn.modules.linear.Linear"]) { _ = try TorchCheckpoint(contentsOf: url) }
    }

    // MARK: Broken files

    func testMissingFileIsReported() {
        let url = fixture("no_such_file.pt")
        assertInputError([url.path, "not found"]) { _ = try TorchCheckpoint(contentsOf: url) }
    }

    func testNonZipFileIsReported() {
        let url = fixture("not_a_zip.pt")
        assertInputError([url.path, "not a zip archive"]) { _ = try TorchCheckpoint(contentsOf: url) }
    }

    func testTruncatedArchiveIsReported() {
        let url = fixture("truncated.pt")
        assertInputError([url.path, "truncated"]) { _ = try TorchCheckpoint(contentsOf: url) }
    }

    func testLegacyFormatIsReported() {
        let url = fixture("legacy.pt")
        assertInputError([url.path, "legacy format"]) { _ = try TorchCheckpoint(contentsOf: url) }
    }

    func testTruncatedPickleIsReported() {
        let url = fixture("truncated_pickle.pt")
        assertInputError([url.path, "data.pkl", "truncated at byte"]) { _ = try TorchCheckpoint(contentsOf: url) }
    }

    func testMissingStorageRecordIsReported() {
        let url = fixture("missing_storage.pt")
        assertInputError([url.path, "tensor 'module.conv.bias'", "storage record dataparallel/data/1 is missing"]) {
            _ = try TorchCheckpoint(contentsOf: url).stateDictListing()
        }
    }

    func testStorageRecordSmallerThanItsTensorIsReported() {
        let url = fixture("storage_too_small.pt")
        assertInputError([url.path, "tensor 'module.conv.weight'", "holds 216 bytes, its storage needs 432"]) {
            _ = try TorchCheckpoint.loadStateDict(from: url)
        }
    }

    func testCorruptStorageFailsTheChecksum() throws {
        let url = fixture("corrupt_storage.pt")
        // Listing reads no tensor data, so it succeeds; loading checks every record.
        XCTAssertEqual(try TorchCheckpoint(contentsOf: url).stateDictListing().entries.count, 9)
        assertInputError([url.path, "dataparallel/data/0", "CRC-32 mismatch"]) { _ = try TorchCheckpoint.loadStateDict(from: url) }
    }

    func testUnsupportedDtypeIsListedButNotLoaded() throws {
        let url = fixture("unsupported_dtype.pt")
        let checkpoint = try TorchCheckpoint(contentsOf: url)
        XCTAssertEqual(try checkpoint.stateDictListing().entries.map(\.dtype), [.float32, .float8_e4m3fn, .complex64])
        assertInputError([url.path, "tensor 'f8.weight'", "dtype float8_e4m3fn is not supported"]) { _ = try checkpoint.loadStateDict() }
    }

    func testViewReachingPastItsStorageIsReported() {
        let url = fixture("view_past_storage.pt")
        assertInputError([url.path, "tensor 'w'", "needs 6 elements, its storage '0' holds 4"]) {
            _ = try TorchCheckpoint(contentsOf: url).stateDictListing()
        }
    }
}
