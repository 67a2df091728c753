// libFuzzer target: .npy arrays. Any input must decode or throw an InputError.
import Foundation
import TensorCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNumPy(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    do {
        let tensor = try NumPyArray.decode(Data(bytes: data, count: size))
        _ = NumPyArray.encode(tensor)
    } catch is InputError {
    } catch {
        fatalError("not an InputError: \(error)")
    }
    return 0
}
