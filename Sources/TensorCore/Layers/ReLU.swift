/// max(x, 0), elementwise, as torch's `nn.ReLU`.
///
/// The backward needs only where the forward passed its input through, which the output
/// tells as well as the input (`y > 0` exactly where `x > 0`), so an in-place forward that
/// keeps only its output is enough for training.
public enum ReLU {
    public static func forward(_ x: Tensor) -> Tensor {
        var y = x
        apply(to: &y)
        return y
    }

    /// Rectifies `x` in place (no second buffer for the big 4-D activations).
    public static func apply(to x: inout Tensor) {
        x.withUnsafeMutableBufferPointer { buffer in
            let p = buffer.baseAddress!
            parallelFor(buffer.count, minimumChunk: 1 << 16) { range in
                for i in range {
                    // `x > 0 ? x : 0` keeps NaN as NaN, as torch does.
                    let v = p[i]
                    p[i] = v < 0 ? 0 : v
                }
            }
        }
    }

    /// `gradOutput` where the forward's output (or input) is positive, 0 elsewhere.
    public static func backward(_ gradOutput: Tensor, output: Tensor) -> Tensor {
        precondition(gradOutput.shape == output.shape,
                     "ReLU.backward: gradOutput \(gradOutput.shapeDescription) and output \(output.shapeDescription) differ")
        var grad = gradOutput
        grad.withUnsafeMutableBufferPointer { gb in
            output.withUnsafeBufferPointer { ob in
                let g = gb.baseAddress!
                let o = ob.baseAddress!
                parallelFor(gb.count, minimumChunk: 1 << 16) { range in
                    for i in range where !(o[i] > 0) { g[i] = 0 }
                }
            }
        }
        return grad
    }
}
