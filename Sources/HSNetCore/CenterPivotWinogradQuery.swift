import TensorCore

/// conv1 of a center-pivot convolution by Winograd's F(2 x 2, 3 x 3) (`Winograd3x3`).
///
/// In HSNet's mixing blocks conv1 is a 3 x 3 convolution over the query plane, run at every
/// support position of a tiny (2 x 2 at a 400 x 400 image) support plane, and conv2 is the
/// dense map of `CenterPivotDenseSupport.swift`. There conv1 holds most of the work of the
/// learner: 128 x 128 channels over 50 x 50 query positions in the last mixing block, forward
/// and (as a convolution with the adjoint kernel) backward. The layout [B, C, Ha, Wa, Hb, Wb]
/// is the Winograd kernel's [batch, channels, height, width, lanes] with the support plane as
/// the lanes, so conv1 runs on the tensor as it is, with 2.25 times fewer multiplications
/// than the im2col product; conv2's dense map and the biases are added after it.
extension CenterPivotConv4d {
    /// Whether conv1 runs by Winograd's method on this plan: a dense support map (stride 1,
    /// tiny support planes, nothing pruned) and a 3 x 3 conv1 with padding 1.
    func usesWinogradQuery(_ plan: Plan) -> Bool {
        plan.denseSupport && conv1.kernelHeight == 3 && conv1.kernelWidth == 3
            && conv1.paddingH == 1 && conv1.paddingW == 1
    }

    /// y = conv1(x) + conv2(x) + both biases.
    func winogradForward(_ x: Tensor, _ plan: Plan) -> Tensor {
        let bias = (0..<plan.outChannels).map { (conv1.bias?.scalars[$0] ?? 0) + (conv2.bias?.scalars[$0] ?? 0) }
        return Tensor(shape: plan.outputShape) { out in
            x.withUnsafeBufferPointer { xb in
                Winograd3x3(weight: conv1.weight)
                    .apply(xb.baseAddress!, batch: plan.batch, height: plan.ha, width: plan.wa, lanes: plan.hb * plan.wb,
                           bias: bias, into: out.baseAddress!)
                addDenseSupportForward(input: xb.baseAddress!, plan, into: out.baseAddress!)
            }
        }
    }

    /// The input gradient: conv1's adjoint (a 3 x 3 convolution over the query plane with the
    /// kernels transposed and turned) plus conv2's dense map transposed.
    func winogradBackwardInput(_ gradOutput: Tensor, _ plan: Plan, inputShape: [Int]) -> Tensor {
        Tensor(shape: inputShape) { out in
            gradOutput.withUnsafeBufferPointer { gb in
                Winograd3x3(adjointOf: conv1.weight)
                    .apply(gb.baseAddress!, batch: plan.batch, height: plan.ha, width: plan.wa, lanes: plan.hb * plan.wb,
                           into: out.baseAddress!)
                addDenseSupportBackward(gradOutput: gb.baseAddress!, plan, into: out.baseAddress!)
            }
        }
    }
}
