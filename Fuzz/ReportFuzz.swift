// libFuzzer target: evaluation reports as `report show` and `report merge` read them.
import Evaluation
import Foundation
import TensorCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReport(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    do {
        let file = try ReportFile(decoding: Data(bytes: data, count: size), source: "fuzz.json")
        // What `report show` computes, then a merge of the report alone (a whole run merges
        // to itself), then the writer.
        _ = file.scoreLine
        for run in file.runs {
            _ = run.score
            _ = run.missingEpisodes
        }
        let merged = try ReportMerge.merge([(source: "fuzz.json", file: file)])
        _ = try merged.encoded()
    } catch is InputError {
    } catch {
        fatalError("not an InputError: \(error)")
    }
    return 0
}
