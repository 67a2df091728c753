import Foundation
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
                derived.winograd(conv1.weight)
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
                derived.adjointWinograd(conv1.weight)
                    .apply(gb.baseAddress!, batch: plan.batch, height: plan.ha, width: plan.wa, lanes: plan.hb * plan.wb,
                           into: out.baseAddress!)
                addDenseSupportBackward(gradOutput: gb.baseAddress!, plan, into: out.baseAddress!)
            }
        }
    }
}

// MARK: A mixing block's first layer on an upsampled coarse level plus a fixed fine one

/// The first layer of a mixing block sees up(coarse) + fine, the coarser level resized over
/// the query axes. Both convolutions are linear, and conv2 works on each query position's
/// support plane alone, so it commutes with the resize (a weighted sum of query positions):
///
///     layer(up(c) + f) = layer(f) + conv1(up(c)) + up(conv2(c))
///
/// with both biases in layer(f). In fine-tuning the finer level is often fixed (its pyramid
/// holds no plug-ins): layer(f) is then computed once per episode, and conv2 (as costly as
/// conv1 on the 2 x 2 support planes) runs at the coarse level's query size, a quarter of
/// the positions. The input gradient goes the same way back, to the coarse level directly.
extension CenterPivotConv4d {
    /// Whether the split applies to a coarse level of `coarseShape` resized to `fineShape`:
    /// conv1 by Winograd's method on the fine level and conv2 a dense map on both.
    func splitsOverUpsampling(coarseShape: [Int], fineShape: [Int]) -> Bool {
        guard case .success(let fine) = plan(fineShape), case .success(let coarse) = plan(coarseShape) else { return false }
        return usesWinogradQuery(fine) && coarse.denseSupport
    }

    /// layer(up(coarse) + fine) given `fixed` = layer(fine) [B, Cout, Ha, Wa, Hb, Wb], the fine
    /// level's shape with this layer's channels.
    func forwardUpsampled(_ coarse: Tensor, adding fixed: Tensor) -> Tensor {
        let fineShape = [fixed.shape[0], inChannels] + Array(fixed.shape[2...])
        precondition(splitsOverUpsampling(coarseShape: coarse.shape, fineShape: fineShape),
                     "CenterPivotConv4d.forwardUpsampled: \(coarse.shapeDescription) to \(fineShape) does not split")
        let fine = checkedPlan(fineShape, "forwardUpsampled")
        let coarsePlan = checkedPlan(coarse.shape, "forwardUpsampled")
        let resize = BilinearResize(outputHeight: fine.ha, outputWidth: fine.wa)
        let upsampled = resize.forward(coarse, heightAxis: 2)
        var result = fixed
        result.withUnsafeMutableBufferPointer { out in
            upsampled.withUnsafeBufferPointer { up in
                derived.winograd(conv1.weight)
                    .apply(up.baseAddress!, batch: fine.batch, height: fine.ha, width: fine.wa, lanes: fine.hb * fine.wb,
                           accumulate: true, into: out.baseAddress!)
            }
        }
        var coarseSupport = Tensor(zeros: coarsePlan.outputShape)
        coarseSupport.withUnsafeMutableBufferPointer { out in
            coarse.withUnsafeBufferPointer { addDenseSupportForward(input: $0.baseAddress!, coarsePlan, into: out.baseAddress!) }
        }
        result.addScaled(resize.forward(coarseSupport, heightAxis: 2))
        return result
    }

    /// The gradient for the coarse level of `forwardUpsampled`: upᵀ(conv1ᵀ(g)) + conv2ᵀ(upᵀ(g)).
    func backwardInputUpsampled(_ gradOutput: Tensor, coarseShape: [Int]) -> Tensor {
        let fineShape = [gradOutput.shape[0], inChannels] + Array(gradOutput.shape[2...])
        let fine = checkedPlan(fineShape, "backwardInputUpsampled")
        let coarsePlan = checkedPlan(coarseShape, "backwardInputUpsampled")
        let resize = BilinearResize(outputHeight: fine.ha, outputWidth: fine.wa)
        let throughConv1 = Tensor(shape: fineShape) { out in
            gradOutput.withUnsafeBufferPointer { g in
                derived.adjointWinograd(conv1.weight)
                    .apply(g.baseAddress!, batch: fine.batch, height: fine.ha, width: fine.wa, lanes: fine.hb * fine.wb,
                           into: out.baseAddress!)
            }
        }
        var result = resize.backward(throughConv1, inputShape: coarseShape, heightAxis: 2)
        let coarseGrad = resize.backward(gradOutput, inputShape: coarsePlan.outputShape, heightAxis: 2)
        result.withUnsafeMutableBufferPointer { out in
            coarseGrad.withUnsafeBufferPointer { addDenseSupportBackward(gradOutput: $0.baseAddress!, coarsePlan, into: out.baseAddress!) }
        }
        return result
    }
}

/// Kernels a center-pivot convolution makes from its weights at every call otherwise: the
/// Winograd transforms of conv1 and of its adjoint, and conv2's dense map per support size.
/// A fine-tuning step runs each mixing layer forward and backward with frozen weights, so
/// they are made once; the layer replaces this object whenever a weight is set. Shared by
/// copies of the layer (which hold the same weights) and filled under a lock, so episodes
/// on several threads may use one model.
final class DerivedKernels: @unchecked Sendable {
    private let lock = NSLock()
    private var forward: Winograd3x3?
    private var adjoint: Winograd3x3?
    private var dense: [SIMD2<Int>: [Float]] = [:]

    func winograd(_ weight: Tensor) -> Winograd3x3 {
        kept(\.forward) { Winograd3x3(weight: weight) }
    }

    func adjointWinograd(_ weight: Tensor) -> Winograd3x3 {
        kept(\.adjoint) { Winograd3x3(adjointOf: weight) }
    }

    private func kept(_ slot: ReferenceWritableKeyPath<DerivedKernels, Winograd3x3?>, make: () -> Winograd3x3) -> Winograd3x3 {
        lock.withLock {
            if let kernel = self[keyPath: slot] { return kernel }
            let made = make()
            self[keyPath: slot] = made
            return made
        }
    }

    func denseSupport(height: Int, width: Int, make: () -> [Float]) -> [Float] {
        lock.withLock {
            if let map = dense[SIMD2(height, width)] { return map }
            let made = make()
            dense[SIMD2(height, width)] = made
            return made
        }
    }
}
