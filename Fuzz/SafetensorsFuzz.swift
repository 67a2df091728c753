// libFuzzer target: safetensors files. Any input must decode or throw an InputError;
// a trap, a crash or a hang is a finding. Built by scripts/fuzz.sh.
import Foundation
import TensorCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    do {
        let file = try SafetensorsFile.decode(Data(bytes: data, count: size))
        // What was accepted must encode again (the writer's own path on the reader's shapes).
        _ = file.encoded()
    } catch is InputError {
    } catch {
        fatalError("not an InputError: \(error)")
    }
    return 0
}
