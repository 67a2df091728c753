import TensorCore
import XCTest

/// The det-fill values the backbone needs but the reference checkpoint (no backbone) does not
/// cover. Expected bit patterns come from a float64 Python evaluation of the README's formula.
final class DeterministicFillTests: XCTestCase {
    func assertBits(_ name: String, _ shape: [Int], _ expected: [Int: UInt32], file: StaticString = #filePath, line: UInt = #line) {
        let tensor = detFill(name: name, shape: shape)
        XCTAssertEqual(tensor.shape, shape, file: file, line: line)
        for (index, bits) in expected {
            XCTAssertEqual(tensor.scalars[index].bitPattern, bits, "\(name)[\(index)] = \(tensor.scalars[index])", file: file, line: line)
        }
    }

    func testBatchNormStatisticsAndWeightsFollowTheirRules() {
        assertBits("backbone.layer1.0.bn1.running_var", [64], [0: 0x3F98_BA0A, 1: 0x3F9E_7B90, 63: 0x3FAF_AA3F])
        assertBits("backbone.layer1.0.bn1.running_mean", [64], [0: 0x3D17_131E, 1: 0xBD81_FDDF, 63: 0xBDBF_75D1])
        assertBits("backbone.layer3.5.bn3.weight", [1024], [0: 0x3E64_9E02, 1: 0x3E34_124A, 63: 0x3E69_445D])
        assertBits("backbone.bn1.weight", [64], [0: 0x3F83_192C, 1: 0x3F7F_D7FA, 63: 0x3F83_DD0F])
        assertBits("backbone.conv1.weight", [64, 3, 7, 7], [0: 0x3C36_396D, 1: 0xBD35_1138, 63: 0x3D97_42F0])
    }

    func testNumBatchesTrackedIsZero() {
        XCTAssertEqual(detFill(name: "backbone.bn1.num_batches_tracked", shape: []).scalars, [0])
    }

    func testValuesStayInTheirRanges() {
        let bound = Float((6.0 / Double(256 * 9)).squareRoot())
        XCTAssertTrue(detFill(name: "x.conv.weight", shape: [64, 256, 3, 3]).scalars.allSatisfy { abs($0) <= bound })
        XCTAssertTrue(detFill(name: "apm.mask_phase", shape: [1, 1, 13, 13]).scalars.allSatisfy { $0 >= 0 && $0 < 2 })
        XCTAssertTrue(detFill(name: "backbone.layer2.3.bn3.weight", shape: [512]).scalars.allSatisfy { $0 >= 0.15 && $0 <= 0.25 })
        // A 2-D `.weight` takes the fan-in rule even inside a layer's bn3 position.
        XCTAssertFalse(detFill(name: "backbone.layer2.3.bn3.weight", shape: [512, 4]).scalars.allSatisfy { $0 >= 0.15 })
    }
}
