import HSNetCore
import Imaging
import TensorCore
import XCTest

/// Network input sizes are compared with their limit before any product of them is formed, and
/// support masks without foreground are refused with the reason.
final class InputLimitTests: XCTestCase {
    func message(_ body: () throws -> Void) -> String {
        do { try body() } catch let error as InputError { return error.message } catch { return "\(error)" }
        return "no error"
    }

    func testImageSizeLimitFollowsFromThePyramidBudget() throws {
        // 720 / 8 = 90 positions a side: 16 * (90^2)^2 bytes = 1.05e9 <= 2^30; 721 gives 91.
        XCTAssertEqual(HSNet.maximumImageSize, 720)
        XCTAssertNoThrow(try HSNet.checkImageSize(720))
        XCTAssertEqual(message { try HSNet.checkImageSize(721) },
                       "image size 721 needs a 1046 MiB layer-2 correlation; use 720 or less (HSNet was trained at 400)")
        // Sizes whose pyramid product would overflow Int are refused without forming it.
        for size in [250_000, 1 << 40, Int.max] {
            XCTAssertTrue(message { try HSNet.checkImageSize(size) }.hasPrefix("image size \(size) is far too large; use 720 or less"), "\(size)")
        }
    }

    func testSupportMasksWithoutForegroundAreRefusedWithTheReason() throws {
        func mask(_ values: (Int) -> UInt8) -> GrayImage {
            GrayImage(width: 40, height: 40, pixels: (0..<1600).map(values))
        }
        XCTAssertNoThrow(try HSNet.checkSupportMask(mask { $0 < 800 ? 255 : 0 }, imageSize: 32))
        XCTAssertTrue(message { try HSNet.checkSupportMask(mask { _ in 0 }, imageSize: 32) }.contains("no foreground (no pixel >= 128; its highest value is 0)"))
        XCTAssertTrue(message { try HSNet.checkSupportMask(mask { $0 % 2 == 0 ? 1 : 0 }, imageSize: 32) }.contains("0 and 1"))
        // One foreground pixel of 1600 that torch's nearest rule drops at 16 x 16.
        let speck = mask { $0 == 41 ? 255 : 0 }
        XCTAssertTrue(message { try HSNet.checkSupportMask(speck, imageSize: 16) }.contains("vanishes when it is resized to 16 x 16"))
    }

    func testCheckpointMaskersWithNaNAreRefusedByName() throws {
        let backbone = ResNetBackbone.parameterShapes(depth: .resnet50).map { (name: "backbone." + $0.name, tensor: detFill(name: "backbone." + $0.name, shape: $0.shape)) }
        let learner = HPNLearner.parameterShapes(backbone: .resnet50).map { (name: "hpn_learner." + $0.name, tensor: detFill(name: "hpn_learner." + $0.name, shape: $0.shape)) }
        var phase = Tensor(repeating: 1, shape: [1, 1, 3, 3])
        phase.scalars[4] = .nan
        let maskers = [(name: "apm.mask_amplitude", tensor: Tensor(repeating: 1, shape: [1, 1, 3, 3])), (name: "apm.mask_phase", tensor: phase)]
        let model = try HSNet(stateDict: backbone + learner + maskers, source: "nan.pt")
        XCTAssertEqual(message { _ = try model.installCheckpointMaskers(imageSize: 96) },
                       "tensor apm.mask_phase holds a non-finite value (nan) at flat index 4")
        XCTAssertTrue(model.plugins.isEmpty, "nothing installed")
    }
}
