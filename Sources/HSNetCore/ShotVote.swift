import TensorCore

/// The k-shot prediction of HSNet: every shot's logits give a foreground/background decision
/// per pixel (argmax over the two classes, ties going to background as torch's argmax picks the
/// first maximum); the decisions are summed, and a pixel is foreground when its vote reaches
/// half of the largest vote in the image (the largest vote counted as at least 1).
/// With one shot this is the plain argmax.
public enum ShotVote {
    /// The votes of `logits` [K, 2, H, W]: how many shots call each pixel foreground, [H, W].
    public static func votes(_ logits: Tensor) throws -> [Int32] {
        guard logits.rank == 4, logits.shape[1] == 2, logits.shape[0] >= 1 else {
            throw InputError("shot logits have shape \(logits.shapeDescription), expected [shots, 2, height, width]")
        }
        let (shots, plane) = (logits.shape[0], logits.shape[2] * logits.shape[3])
        var votes = [Int32](repeating: 0, count: plane)
        logits.withUnsafeBufferPointer { l in
            votes.withUnsafeMutableBufferPointer { v in
                for k in 0..<shots {
                    let background = l.baseAddress! + 2 * k * plane
                    let foreground = background + plane
                    for i in 0..<plane where foreground[i] > background[i] { v[i] += 1 }
                }
            }
        }
        return votes
    }

    /// The voted mask [H, W] of 0 and 1 from the logits of every shot, [K, 2, H, W].
    public static func mask(_ logits: Tensor) throws -> Tensor {
        let votes = try votes(logits)
        return mask(votes: votes, height: logits.shape[2], width: logits.shape[3])
    }

    /// The voted mask from summed votes: `vote / max(1, top vote) >= 0.5`, computed exactly
    /// as `2 * vote >= top vote`.
    public static func mask(votes: [Int32], height: Int, width: Int) -> Tensor {
        precondition(votes.count == height * width)
        let top = max(1, votes.max() ?? 0)
        return Tensor(shape: [height, width]) { out in
            for i in 0..<votes.count { out[i] = 2 * votes[i] >= top ? 1 : 0 }
        }
    }
}
