// libFuzzer target: JPEG pictures through the decoder the commands use. Inputs that are
// not JPEG (another format's first bytes) are left to that format's target.
import Foundation
import Imaging
import TensorCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    guard ImageFormat(detecting: bytes) == .jpeg else { return 0 }
    do {
        let image = try DecodedImage(decoding: bytes, source: "fuzz.jpeg")
        // Both conversions the commands use (pictures as RGB, masks as L).
        _ = image.rgb
        _ = image.gray
    } catch is InputError {
    } catch {
        fatalError("not an InputError: \(error)")
    }
    return 0
}
