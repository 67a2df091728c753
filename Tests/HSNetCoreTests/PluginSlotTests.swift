import FreqMask
import HSNetCore
import TensorCore
import XCTest

/// A plug-in that adds a constant and counts its calls; refuses inputs with `refusedChannels`.
final class AddingPlugin: FeaturePlugin {
    let amount: Float
    let refusedChannels: Int?
    private(set) var calls = 0

    init(_ amount: Float, refusingChannels: Int? = nil) {
        self.amount = amount
        refusedChannels = refusingChannels
    }

    var kind: String { "add" }
    var parameters: [(name: String, value: Tensor)] { [] }
    func setParameter(_ name: String, to value: Tensor) throws { throw InputError("no parameter \(name)") }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        if x.shape[1] == refusedChannels { throw InputError("expected another channel count than \(x.shape[1])") }
        calls += 1
        return x.map { $0 + amount }
    }

    struct Tape: PluginTape {}
    func forwardForTraining(_ x: Tensor) throws -> (output: Tensor, tape: PluginTape) { (try self(x), Tape()) }
    func backward(_ gradOutput: Tensor, tape: PluginTape, parameterGradients: inout [String: Tensor]) -> Tensor { gradOutput }
}

final class PluginSlotTests: XCTestCase {
    func testSlotNamesRoundTrip() throws {
        XCTAssertEqual(PluginSlot.all.count, 12)
        for slot in PluginSlot.all { XCTAssertEqual(try PluginSlot(name: slot.name), slot) }
        XCTAssertEqual(PluginSlot.layer4Support.name, "layer4.support")
        XCTAssertEqual(PluginSlot.layer4QueryMasked.name, "layer4.query.masked")
        XCTAssertEqual(try PluginSlot(name: "layer2.support.masked"),
                       try PluginSlot(layer: 2, role: .support, stage: .afterSupportMask))
        for bad in ["layer1.query", "layer4.queries", "layer4.query.unmasked", "layer4", "layer4.query.masked.x", ""] {
            XCTAssertThrowsError(try PluginSlot(name: bad), bad) { error in
                XCTAssertTrue((error as? InputError)?.message.contains("plug-in slot \"\(bad)\" does not exist") == true, "\(error)")
            }
        }
        XCTAssertThrowsError(try PluginSlot(layer: 5, role: .query, stage: .beforeSupportMask))
    }

    /// 13 taps of a small made-up image: 4 of layer 2 (8 channels), 6 of layer 3 (16), 3 of layer 4 (32).
    func taps() -> [Tensor] {
        ResNetDepth.resnet50.tapLayers.map { layer in Tensor(repeating: 1, shape: [1, 8 << (layer - 2), 2, 2]) }
    }

    func testPluginsActOnEveryTapOfTheirLayerInInstallationOrder() throws {
        let model = HSNetFixtures.model
        model.plugins.removeAll()
        defer { model.plugins.removeAll() }
        let shared = AddingPlugin(10)
        let second = AddingPlugin(100)
        model.plugins.install(shared, in: [.layer4Query, .layer4Support])
        model.plugins.install(second, in: [.layer4Support])
        model.plugins.install(AddingPlugin(1000), in: [try PluginSlot(name: "layer3.support.masked")])
        XCTAssertEqual(model.plugins.distinctPlugins.count, 3)
        XCTAssertEqual(model.plugins.occupied.map(\.slot.name), ["layer4.query", "layer4.support", "layer3.support.masked"])

        var support = taps()
        try model.applyPlugins(role: .support, stage: .beforeSupportMask, to: &support)
        XCTAssertEqual(support.map { $0.scalars[0] }, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 111, 111, 111])
        try model.applyPlugins(role: .support, stage: .afterSupportMask, to: &support)
        XCTAssertEqual(support.map { $0.scalars[0] }, [1, 1, 1, 1, 1001, 1001, 1001, 1001, 1001, 1001, 111, 111, 111])
        var query = taps()
        try model.applyPlugins(role: .query, stage: .beforeSupportMask, to: &query)
        XCTAssertEqual(query.map { $0.scalars[0] }, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 11, 11, 11])
        XCTAssertEqual(shared.calls, 6)
        XCTAssertEqual(second.calls, 3)
    }

    func testPluginErrorsNameTheSlot() throws {
        let model = HSNetFixtures.model
        model.plugins.removeAll()
        defer { model.plugins.removeAll() }
        model.plugins.install(AddingPlugin(1, refusingChannels: 16), in: [try PluginSlot(name: "layer3.query")])
        var query = taps()
        XCTAssertThrowsError(try model.applyPlugins(role: .query, stage: .beforeSupportMask, to: &query)) { error in
            XCTAssertEqual((error as? InputError)?.message,
                           "plug-in add in slot layer3.query: expected another channel count than 16")
        }
    }
}
