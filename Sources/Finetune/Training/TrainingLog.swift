import Foundation
import TensorCore

/// The run's JSON-lines log (`log.jsonl`), one object per line:
///
///     {"step": 12, "epoch": 1, "loss": 0.4127, "episodes": [{"class": "dog", "query": ..., "support": ...}]}
///     {"epoch": 1, "train_loss": 0.45, "val_miou": 31.2, "val_fbiou": 58.0, "best": true, "seconds": 81.3}
///
/// `step` counts from 1 over the whole run and `epoch` from 1; `episodes` only with
/// `--log-episodes`; the `val_*` keys only with a validation set. A resumed run keeps the
/// lines of what its snapshot holds and drops the rest, which it then redoes.
public final class TrainingLog {
    public let url: URL
    private let handle: FileHandle

    /// Opens the log; with `keepingUpTo` (a resumed run's steps and completed epochs) keeps
    /// the lines up to there, else starts empty.
    public init(url: URL, keepingUpTo kept: (steps: Int, epochs: Int)?) throws {
        self.url = url
        var text = ""
        if let kept, let old = try? String(contentsOf: url, encoding: .utf8) {
            for line in old.split(separator: "\n") where Self.belongs(line, to: kept) {
                text += line + "\n"
            }
        }
        try AtomicFile.write(Data(text.utf8), to: url)
        handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
    }

    deinit { try? handle.close() }

    private static func belongs(_ line: Substring, to kept: (steps: Int, epochs: Int)) -> Bool {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return false }
        if let step = object["step"] as? Int { return step <= kept.steps }
        if let epoch = object["epoch"] as? Int { return epoch <= kept.epochs }
        return false
    }

    public func step(_ step: Int, epoch: Int, loss: Float, episodes: [[String: String]]?) throws {
        var object: [String: Any] = ["step": step, "epoch": epoch, "loss": Double(loss)]
        if let episodes { object["episodes"] = episodes }
        try write(object)
    }

    public func epoch(_ epoch: Int, trainLoss: Double, validation: (miou: Double, fbiou: Double)?, best: Bool, seconds: Double) throws {
        var object: [String: Any] = ["epoch": epoch, "train_loss": trainLoss, "seconds": (seconds * 100).rounded() / 100]
        if let validation {
            object["val_miou"] = validation.miou
            object["val_fbiou"] = validation.fbiou
            object["best"] = best
        }
        try write(object)
    }

    private func write(_ object: [String: Any]) throws {
        var data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        data.append(UInt8(ascii: "\n"))
        handle.write(data)
    }
}
