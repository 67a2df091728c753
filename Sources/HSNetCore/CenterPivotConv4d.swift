import TensorCore

/// HSNet's center-pivot 4-D convolution on a correlation tensor x [B, Cin, Ha, Wa, Hb, Wb]
/// (query axes a, support axes b).
///
/// A full 4-D kernel is replaced by the two 2-D kernels through its center:
/// `conv1` slides over the query axes at every kept support position, `conv2` slides over the
/// support axes (with the support-side stride s) at every query position, and the output is
/// their sum. For the two to line up, conv1 sees the support axes "pruned" to the positions
/// conv2's windows are centred on: indices 0, s, 2s, ... of Hb and of Wb. With the "same"
/// padding HSNet always uses (k // 2 for odd k) the output is
/// [B, Cout, Ha, Wa, ceil(Hb / s), ceil(Wb / s)].
///
/// One special case is kept from the published model: when conv2 has no padding and its
/// windows cover the whole support plane (output 1 x 1) while the pruned plane is larger,
/// conv1's output is summed over the support axes and the result is [B, Cout, Ha, Wa].
/// (The published code gets there with `squeeze()`, which would also drop a batch or query
/// axis of size 1; here those axes stay.) Other size mismatches, which the published code
/// cannot add either, are input errors.
///
/// Both halves are computed by one matrix product: every (query position, support position)
/// pair is a column, whose rows are conv1's window (copied from the pruned tensor), conv2's
/// window (gathered from the support plane) and a constant 1 for the summed biases, times
/// `[conv1.weight | conv2.weight | bias1 + bias2]`. The columns are ordered (ha, wa, hb', wb'),
/// which is the output layout itself, so nothing is permuted. The work is split into column
/// blocks of one query row each (or part of one) that the cores fill and multiply
/// independently, each with its products on its own thread and a buffer that stays in cache.
public struct CenterPivotConv4d {
    /// The 2-D convolution over the query axes (ha, wa); PyTorch name `conv1`.
    public var conv1: Conv2d { didSet { derived = DerivedKernels() } }
    /// The 2-D convolution over the support axes (hb, wb); its stride is the support stride.
    public var conv2: Conv2d { didSet { derived = DerivedKernels() } }
    /// Kernels made from the weights (Winograd's transformed kernels, the dense support map),
    /// kept for the next call; replaced whenever a weight changes.
    var derived = DerivedKernels()

    public init(conv1: Conv2d, conv2: Conv2d) {
        if let problem = CenterPivotConv4d.parameterProblem(conv1: conv1, conv2: conv2) {
            preconditionFailure("CenterPivotConv4d: \(problem)")
        }
        self.conv1 = conv1
        self.conv2 = conv2
    }

    /// The layer as HSNet's learner builds it: kernel k on all four axes, padding k // 2,
    /// support stride s, with the parameters `conv1.weight`, `conv1.bias`, `conv2.weight`,
    /// `conv2.bias` found under `prefix` in `tensors` (from the file named `source`).
    public init(tensors: [String: Tensor], prefix: String, supportStride: Int, source: String) throws {
        func parameter(_ name: String) throws -> Tensor {
            guard let t = tensors[prefix + name] else {
                throw InputError("\(source): tensor \"\(prefix + name)\" is missing")
            }
            return t
        }
        let w1 = try parameter("conv1.weight"), w2 = try parameter("conv2.weight")
        let b1 = tensors[prefix + "conv1.bias"], b2 = tensors[prefix + "conv2.bias"]
        guard w1.rank == 4, w2.rank == 4 else {
            throw InputError("\(source): \(prefix)conv1.weight \(w1.shapeDescription) and conv2.weight \(w2.shapeDescription) must both be [out, in, k, k]")
        }
        guard supportStride > 0 else { throw InputError("\(source): \(prefix) support stride must be positive, got \(supportStride)") }
        try Conv2d.validate(weight: w1, bias: b1, paddingH: w1.shape[2] / 2, paddingW: w1.shape[3] / 2,
                            name: "\(source): \(prefix)conv1")
        try Conv2d.validate(weight: w2, bias: b2, strideH: supportStride, strideW: supportStride,
                            paddingH: w2.shape[2] / 2, paddingW: w2.shape[3] / 2, name: "\(source): \(prefix)conv2")
        let c1 = Conv2d(weight: w1, bias: b1, strideH: 1, strideW: 1, paddingH: w1.shape[2] / 2, paddingW: w1.shape[3] / 2)
        let c2 = Conv2d(weight: w2, bias: b2, strideH: supportStride, strideW: supportStride,
                        paddingH: w2.shape[2] / 2, paddingW: w2.shape[3] / 2)
        if let problem = CenterPivotConv4d.parameterProblem(conv1: c1, conv2: c2) {
            throw InputError("\(source): \(prefix): \(problem)")
        }
        self.init(conv1: c1, conv2: c2)
    }

    static func parameterProblem(conv1: Conv2d, conv2: Conv2d) -> String? {
        guard conv1.weight.shape[0] == conv2.weight.shape[0], conv1.weight.shape[1] == conv2.weight.shape[1] else {
            return "conv1.weight \(conv1.weight.shapeDescription) and conv2.weight \(conv2.weight.shapeDescription) must have the same input and output channels"
        }
        guard conv1.strideH == 1, conv1.strideW == 1 else {
            return "conv1 (over the query axes) must have stride 1, got (\(conv1.strideH), \(conv1.strideW)); the stride belongs to the support axes"
        }
        return nil
    }

    public var inChannels: Int { conv1.inChannels }
    public var outChannels: Int { conv1.outChannels }

    // MARK: Shapes

    /// Everything the kernels need to know about one input shape.
    struct Plan {
        let batch, inChannels, outChannels, ha, wa, hb, wb: Int
        /// conv1's windows on a query plane (ha x wa), conv2's on a support plane (hb x wb).
        let query: ConvGeometry
        let support: ConvGeometry
        /// The support positions kept for conv1: ceil(hb / s) x ceil(wb / s).
        let prunedH, prunedW: Int
        /// conv1's output summed over the support axes (the published special case).
        let collapsed: Bool
        /// conv2 applied as a dense map of the whole (tiny) support plane instead of window by
        /// window (`CenterPivotDenseSupport.swift`); its rows then leave the joint product.
        let denseSupport: Bool
        /// conv2 computed directly from the support planes (`CenterPivotDirectSupport.swift`),
        /// forward only; its rows then leave the joint product.
        let directSupport: Bool
        /// Wide support planes without stride (8 or more outputs per row) are read a window row
        /// at a time, with vector copies (`ConvGeometry.im2col`); the others through a table
        /// (`supportTapTable`): one lookup per element beats a copy per window row there
        /// (measured: 50 x 50 planes with kernel 5 and stride 4, and the 2 x 2 planes of the
        /// mixing blocks, where the table is 1.5 to 3 times faster).
        var readsSupportByRows: Bool { support.strideW == 1 && support.outputWidth >= 8 }
        /// Whether conv2's window rows are read through `supportTapTable`.
        var usesSupportTable: Bool { !(readsSupportByRows || denseSupport || directSupport) }

        /// For a block of `width` query positions, whose support planes lie one after the
        /// other in memory: for each tap of conv2 and each column (j, u, v) of the block, the
        /// offset from the block's first plane that the tap reads, or -1 on the padding;
        /// [support.tapCount, width * positions]. A narrower block uses a prefix of each row.
        func supportTapTable(width: Int) -> [Int32] {
            let planeSize = hb * wb
            var table = [Int32]()
            table.reserveCapacity(support.tapCount * width * support.outputCount)
            for ky in 0..<support.kernelHeight {
                for kx in 0..<support.kernelWidth {
                    for j in 0..<width {
                        for u in 0..<support.outputHeight {
                            for v in 0..<support.outputWidth {
                                let y = u * support.strideH + ky - support.paddingH
                                let x = v * support.strideW + kx - support.paddingW
                                let inside = y >= 0 && y < hb && x >= 0 && x < wb
                                table.append(inside ? Int32(j * planeSize + y * wb + x) : -1)
                            }
                        }
                    }
                }
            }
            return table
        }

        /// For a block of `width` query positions: the offset of each column (j, u, v) of the
        /// block's pruned positions in its support plane, [width * positions] (not collapsed).
        func prunedTargetTable(width: Int) -> [Int32] {
            var table = [Int32]()
            table.reserveCapacity(width * prunedH * prunedW)
            for j in 0..<width {
                for u in 0..<prunedH {
                    for v in 0..<prunedW {
                        table.append(Int32(j * hb * wb + u * support.strideH * wb + v * support.strideW))
                    }
                }
            }
            return table
        }

        /// Support positions per query position in the output: prunedH * prunedW, or 1 when collapsed.
        var positions: Int { collapsed ? 1 : prunedH * prunedW }
        var rows1: Int { inChannels * query.tapCount }
        var rows2: Int { denseSupport || directSupport ? 0 : inChannels * support.tapCount }
        /// Rows of the joint column matrix: both windows and the constant 1 of the biases.
        var rows: Int { rows1 + rows2 + 1 }
        /// Columns (output positions) per sample.
        var columns: Int { ha * wa * positions }
        var outputShape: [Int] {
            collapsed ? [batch, outChannels, ha, wa] : [batch, outChannels, ha, wa, prunedH, prunedW]
        }
        /// conv1 reads the support plane as it is: stride 1 and not collapsed.
        var readsInputDirectly: Bool { !collapsed && support.strideH == 1 && support.strideW == 1 }
    }

    /// `allowingDenseSupport`: whether conv2 may run as a dense map (`usesDenseSupport`);
    /// the parameter gradients read conv2's windows, so they plan without it.
    /// `allowingDirectSupport`: whether conv2 may run directly (`usesDirectSupport`): the forward pass.
    func plan(_ shape: [Int], allowingDenseSupport: Bool = true,
              allowingDirectSupport: Bool = false) -> Result<Plan, InputError> {
        let text = "[" + shape.map(String.init).joined(separator: ", ") + "]"
        guard shape.count == 6 else {
            return .failure(InputError("expected a 4-D correlation [B, \(inChannels), Ha, Wa, Hb, Wb], got \(text)"))
        }
        guard shape[1] == inChannels else {
            return .failure(InputError("expected \(inChannels) channels, got \(shape[1]) in \(text)"))
        }
        guard shape.allSatisfy({ $0 > 0 }) else { return .failure(InputError("empty correlation \(text)")) }
        let (ha, wa, hb, wb) = (shape[2], shape[3], shape[4], shape[5])
        let query = conv1.geometry(height: ha, width: wa)
        let support = conv2.geometry(height: hb, width: wb)
        guard query.isValid, query.outputHeight == ha, query.outputWidth == wa else {
            return .failure(InputError("conv1 (kernel \(conv1.kernelHeight)x\(conv1.kernelWidth), padding (\(conv1.paddingH), \(conv1.paddingW))) must keep the query size \(ha)x\(wa) of \(text), it gives \(query.outputHeight)x\(query.outputWidth)"))
        }
        guard support.isValid else {
            return .failure(InputError("support size \(hb)x\(wb) of \(text) is smaller than conv2's \(conv2.kernelHeight)x\(conv2.kernelWidth) kernel with padding (\(conv2.paddingH), \(conv2.paddingW))"))
        }
        let prunedH = (hb + conv2.strideH - 1) / conv2.strideH
        let prunedW = (wb + conv2.strideW - 1) / conv2.strideW
        var collapsed = false
        if support.outputHeight != prunedH || support.outputWidth != prunedW {
            guard conv2.paddingH == 0, conv2.paddingW == 0, support.outputCount == 1 else {
                return .failure(InputError("support size \(hb)x\(wb) of \(text) gives \(prunedH)x\(prunedW) pruned positions for conv1 but \(support.outputHeight)x\(support.outputWidth) outputs of conv2"))
            }
            collapsed = true
        }
        let dense = allowingDenseSupport && Self.usesDenseSupport(support, collapsed: collapsed)
        let direct = !dense && allowingDirectSupport
            && Self.usesDirectSupport(inChannels: shape[1], outChannels: outChannels)
        return .success(Plan(batch: shape[0], inChannels: shape[1], outChannels: outChannels, ha: ha, wa: wa,
                             hb: hb, wb: wb, query: query, support: support,
                             prunedH: prunedH, prunedW: prunedW, collapsed: collapsed, denseSupport: dense,
                             directSupport: direct))
    }

    func checkedPlan(_ shape: [Int], _ what: String, allowingDenseSupport: Bool = true,
                     allowingDirectSupport: Bool = false) -> Plan {
        switch plan(shape, allowingDenseSupport: allowingDenseSupport, allowingDirectSupport: allowingDirectSupport) {
        case .success(let plan): return plan
        case .failure(let error): preconditionFailure("CenterPivotConv4d.\(what): \(error.message)")
        }
    }

    /// Throws an `InputError` naming `name` when `shape` cannot go through this layer.
    public func validate(inputShape shape: [Int], name: String) throws {
        if case .failure(let error) = plan(shape) { throw InputError("\(name): \(error.message)") }
    }

    public func outputShape(forInput shape: [Int]) -> [Int] {
        checkedPlan(shape, "outputShape").outputShape
    }

    // MARK: Column blocks

    /// A block of output columns: sample `sample`, query row `row`, query columns `j0 ..< j0 + count`.
    struct Block {
        let sample, row, j0, count: Int
    }

    /// Query columns per block: enough columns for an efficient product, few enough that the
    /// block's column matrix (`rows` floats per column) stays within about 1 MB of cache.
    static func blocks(_ plan: Plan, rows: Int) -> (perRow: Int, width: Int) {
        let targetColumns = max(256, (1 << 18) / max(rows, 1))
        let perBlock = max(1, min(plan.wa, targetColumns / plan.positions))
        let blocksPerRow = (plan.wa + perBlock - 1) / perBlock
        let width = (plan.wa + blocksPerRow - 1) / blocksPerRow
        return (blocksPerRow, width)
    }

    static func block(_ index: Int, _ plan: Plan, perRow: Int, width: Int) -> Block {
        let (sampleRow, part) = index.quotientAndRemainder(dividingBy: perRow)
        let (sample, row) = sampleRow.quotientAndRemainder(dividingBy: plan.ha)
        let j0 = part * width
        return Block(sample: sample, row: row, j0: j0, count: min(width, plan.wa - j0))
    }

    /// The support planes as conv1 reads them, [B, Cin, Ha, Wa, positions]: the input itself,
    /// its pruned positions, or (collapsed) their sum.
    func prunedInput(_ x: UnsafePointer<Float>, _ plan: Plan) -> [Float] {
        let planes = plan.batch * plan.inChannels * plan.ha * plan.wa
        let p = plan.positions
        let (sh, sw) = (conv2.strideH, conv2.strideW)
        let (hb, wb, ph, pw) = (plan.hb, plan.wb, plan.prunedH, plan.prunedW)
        let collapsed = plan.collapsed
        return [Float](unsafeUninitializedCapacity: planes * p) { buffer, initialized in
            let dst = buffer.baseAddress!
            parallelFor(planes, minimumChunk: max(1, 8192 / (hb * wb))) { range in
                for plane in range {
                    let src = x + plane * hb * wb
                    if collapsed {
                        var total: Float = 0
                        for u in 0..<ph { for v in 0..<pw { total += src[u * sh * wb + v * sw] } }
                        dst[plane] = total
                    } else {
                        let out = dst + plane * p
                        let end = src + hb * wb
                        for u in 0..<ph {
                            let row = src + u * sh * wb
                            stridedCopy(from: row, readable: end - row, stride: sw, to: out + u * pw, count: pw)
                        }
                    }
                }
            }
            initialized = planes * p
        }
    }

    /// Fills the joint column matrix of one block (row stride `ld` = block columns):
    /// conv1's window rows, conv2's window rows, and a row of ones.
    static func fillColumns(_ block: Block, _ plan: Plan, pruned: UnsafePointer<Float>, input: UnsafePointer<Float>,
                            columns: UnsafeMutablePointer<Float>, ld: Int, supportTaps: UnsafePointer<Int32>,
                            tableStride: Int, scratch: UnsafeMutablePointer<Float>) {
        let p = plan.positions
        let q = plan.query
        let (cin, ha, wa) = (plan.inChannels, plan.ha, plan.wa)
        let (j0, jn) = (block.j0, block.count)
        // conv1: row (c, ky, kx) of column (j, u, v) is pruned[c, row + ky - pad, j + kx - pad, u, v];
        // for a fixed row the valid j are contiguous and so are their sources: one copy per row.
        for c in 0..<cin {
            let channel = pruned + (block.sample * cin + c) * ha * wa * p
            for ky in 0..<q.kernelHeight {
                let ia = block.row + ky - q.paddingH
                for kx in 0..<q.kernelWidth {
                    let dst = columns + ((c * q.kernelHeight + ky) * q.kernelWidth + kx) * ld
                    guard ia >= 0, ia < ha else {
                        dst.update(repeating: 0, count: jn * p)
                        continue
                    }
                    let shift = kx - q.paddingW
                    let lo = min(max(0, -shift - j0), jn)         // first jj with j0 + jj + shift >= 0
                    let hi = max(min(jn, wa - shift - j0), lo)     // first jj with j0 + jj + shift >= wa
                    if lo > 0 { dst.update(repeating: 0, count: lo * p) }
                    if hi > lo {
                        (dst + lo * p).update(from: channel + (ia * wa + j0 + lo + shift) * p, count: (hi - lo) * p)
                    }
                    if hi < jn { (dst + hi * p).update(repeating: 0, count: (jn - hi) * p) }
                }
            }
        }
        // conv2: the support planes' windows at each query position of the block.
        let taps = plan.support.tapCount
        let planeSize = plan.hb * plan.wb
        for c in 0..<(plan.rows2 == 0 ? 0 : cin) {
            let rowsStart = columns + (plan.rows1 + c * taps) * ld
            let planes = input + (((block.sample * cin + c) * ha + block.row) * wa + j0) * planeSize
            if plan.readsSupportByRows {
                for jj in 0..<jn {
                    plan.support.im2col(planes + jj * planeSize, into: rowsStart + jj * p, rowStride: ld, scratch: scratch)
                }
                continue
            }
            for t in 0..<taps {
                let index = supportTaps + t * tableStride
                let dst = rowsStart + t * ld
                for q in 0..<ld {
                    let i = Int(index[q])
                    dst[q] = i >= 0 ? planes[i] : 0
                }
            }
        }
        (columns + (plan.rows1 + plan.rows2) * ld).update(repeating: 1, count: ld)
    }

    /// [Cout, rows]: conv1's and conv2's weights side by side, then the summed biases
    /// (conv1's counted once per summed support position when collapsed).
    func jointWeights(_ plan: Plan) -> [Float] {
        let (cout, rows1, rows2) = (plan.outChannels, plan.rows1, plan.rows2)
        let biasScale = Float(plan.collapsed ? plan.prunedH * plan.prunedW : 1)
        var joint = [Float](repeating: 0, count: cout * plan.rows)
        for o in 0..<cout {
            for r in 0..<rows1 { joint[o * plan.rows + r] = conv1.weight.scalars[o * rows1 + r] }
            for r in 0..<rows2 { joint[o * plan.rows + rows1 + r] = conv2.weight.scalars[o * rows2 + r] }
            let b1 = conv1.bias?.scalars[o] ?? 0
            let b2 = conv2.bias?.scalars[o] ?? 0
            joint[o * plan.rows + rows1 + rows2] = b1 * biasScale + b2
        }
        return joint
    }

    // MARK: Forward

    public func forward(_ x: Tensor) -> Tensor {
        let plan = checkedPlan(x.shape, "forward", allowingDirectSupport: true)
        if usesWinogradQuery(plan) { return winogradForward(x, plan) }
        // The joint weights, then conv2's arranged for the direct kernel when it runs.
        let joint = jointWeights(plan) + (plan.directSupport ? directSupportWeights() : [])
        let directWeightsOffset = plan.outChannels * plan.rows
        let (cout, total) = (plan.outChannels, plan.columns)
        return Tensor(shape: plan.outputShape) { out in
            let y = out.baseAddress!
            joint.withUnsafeBufferPointer { wb in
                forEachColumnBlock(x, plan) { _, block, columns, ld, xp in
                    gemm(m: cout, n: ld, k: plan.rows, a: wb.baseAddress!, lda: plan.rows,
                         b: columns, ldb: ld,
                         c: y + block.sample * cout * total + (block.row * plan.wa + block.j0) * plan.positions,
                         ldc: total)
                    if plan.directSupport {
                        let first = block.row * plan.wa + block.j0
                        CenterPivotConv4d.addDirectSupport(
                            plan, queries: first..<first + block.count,
                            weights: wb.baseAddress! + directWeightsOffset,
                            planes: xp + block.sample * plan.inChannels * plan.ha * plan.wa * plan.hb * plan.wb,
                            output: y + block.sample * cout * total)
                    }
                }
            }
            if plan.denseSupport {
                x.withUnsafeBufferPointer { addDenseSupportForward(input: $0.baseAddress!, plan, into: y) }
            }
        }
    }

    /// Calls `body` with the input, the pruned input conv1 reads (the input itself when
    /// nothing is pruned) and the support tap table for blocks of `width` query positions.
    func withInputs(_ x: Tensor, _ plan: Plan, width: Int,
                    _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Int32>) -> Void) {
        let table = plan.usesSupportTable ? plan.supportTapTable(width: width) : [-1]
        x.withUnsafeBufferPointer { xb in
            let xp = xb.baseAddress!
            let pruned = plan.readsInputDirectly ? [] : prunedInput(xp, plan)
            pruned.withUnsafeBufferPointer { prb in
                table.withUnsafeBufferPointer { tb in
                    body(xp, plan.readsInputDirectly ? xp : prb.baseAddress!, tb.baseAddress!)
                }
            }
        }
    }

    /// The joint column matrix of every block of `x` (`fillColumns`), block by block on the
    /// workers (at most `maximumWorkers`, each with its own buffer): `body` gets the worker's
    /// number, the block, its columns with their row stride, and the input.
    func forEachColumnBlock(_ x: Tensor, _ plan: Plan, maximumWorkers: Int = workerCount,
                            _ body: (_ worker: Int, _ block: Block, _ columns: UnsafeMutablePointer<Float>, _ ld: Int,
                                     _ input: UnsafePointer<Float>) -> Void) {
        let (perRow, width) = CenterPivotConv4d.blocks(plan, rows: plan.rows)
        let p = plan.positions
        withInputs(x, plan, width: width) { xp, source, taps in
            parallelTasks(plan.batch * plan.ha * perRow, maximumWorkers: maximumWorkers) { worker, tasks in
                let columns = UnsafeMutablePointer<Float>.allocate(capacity: plan.rows * width * p)
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: plan.support.scratchCount)
                defer { columns.deallocate(); scratch.deallocate() }
                for index in tasks {
                    let block = CenterPivotConv4d.block(index, plan, perRow: perRow, width: width)
                    let ld = block.count * p
                    CenterPivotConv4d.fillColumns(block, plan, pruned: source, input: xp,
                                                  columns: columns, ld: ld, supportTaps: taps,
                                                  tableStride: width * p, scratch: scratch)
                    body(worker, block, columns, ld, xp)
                }
            }
        }
    }

    // MARK: Backward

    /// The gradient with respect to the input x.
    ///
    /// conv1's part is gathered rather than scattered: the gradient at pruned position
    /// (a, b) is `sum over (o, ky, kx) of conv1.weight[o, c, ky, kx] * gradOutput[o, a + pad - ky,
    /// b + pad - kx]`, a product of the transposed weights with columns copied from the output
    /// gradient, block by block with no overlap between blocks. conv2's part is
    /// `conv2.weight^T x gradOutput` followed by col2im on each support plane, and each block
    /// owns its query positions' planes. The pruned positions then receive conv1's part.
    public func backwardInput(_ gradOutput: Tensor, inputShape: [Int]) -> Tensor {
        let plan = checkedPlan(inputShape, "backwardInput")
        precondition(gradOutput.shape == plan.outputShape,
                     "CenterPivotConv4d.backwardInput: gradOutput is \(gradOutput.shapeDescription), expected \(plan.outputShape)")
        if usesWinogradQuery(plan) { return winogradBackwardInput(gradOutput, plan, inputShape: inputShape) }
        let (cin, cout, p, total) = (plan.inChannels, plan.outChannels, plan.positions, plan.columns)
        let q = plan.query
        let gatherRows = cout * q.tapCount
        // conv1.weight [o, c, ky, kx] as [c, (o, ky, kx)].
        var transposed1 = [Float](repeating: 0, count: cin * gatherRows)
        for o in 0..<cout {
            for c in 0..<cin {
                for t in 0..<q.tapCount {
                    transposed1[c * gatherRows + o * q.tapCount + t] = conv1.weight.scalars[(o * cin + c) * q.tapCount + t]
                }
            }
        }
        let (perRow, width) = CenterPivotConv4d.blocks(plan, rows: max(gatherRows, plan.rows2) + cin)
        let blockCount = plan.batch * plan.ha * perRow
        let (ha, wa, hb, wb) = (plan.ha, plan.wa, plan.hb, plan.wb)
        let (sh, sw, ph, pw) = (conv2.strideH, conv2.strideW, plan.prunedH, plan.prunedW)
        let taps = plan.support.tapCount
        let planeSize = hb * wb
        let tableStride = width * p
        let supportTable = plan.usesSupportTable ? plan.supportTapTable(width: width) : [-1]
        let prunedTable = plan.collapsed ? [-1] : plan.prunedTargetTable(width: width)
        return Tensor(shape: inputShape) { out in
            let gx = out.baseAddress!
            gradOutput.withUnsafeBufferPointer { gb in
                transposed1.withUnsafeBufferPointer { t1b in
                    conv2.weight.withUnsafeBufferPointer { w2b in
                        supportTable.withUnsafeBufferPointer { stb in
                            prunedTable.withUnsafeBufferPointer { ptb in
                                let gy = gb.baseAddress!
                                let supportTaps = stb.baseAddress!
                                let prunedTargets = ptb.baseAddress!
                                parallelTasks(blockCount) { _, tasks in
                                    let gathered = UnsafeMutablePointer<Float>.allocate(capacity: gatherRows * width * p)
                                    let prunedGrad = UnsafeMutablePointer<Float>.allocate(capacity: cin * width * p)
                                    let columns2 = UnsafeMutablePointer<Float>.allocate(capacity: plan.rows2 * width * p)
                                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: plan.support.scratchCount)
                                    defer {
                                        gathered.deallocate(); prunedGrad.deallocate()
                                        columns2.deallocate(); scratch.deallocate()
                                    }
                                    for index in tasks {
                                        let block = CenterPivotConv4d.block(index, plan, perRow: perRow, width: width)
                                        let ld = block.count * p
                                        let sampleGrad = gy + block.sample * cout * total
                                        CenterPivotConv4d.gatherOutputGradient(block, plan, sampleGrad: sampleGrad,
                                                                               into: gathered, ld: ld)
                                        gemm(m: cin, n: ld, k: gatherRows, a: t1b.baseAddress!, lda: gatherRows,
                                             b: gathered, ldb: ld, c: prunedGrad, ldc: ld)
                                        // (Without rows, as with a dense support map, m is 0: no product.)
                                        gemm(transposeA: true, m: plan.rows2, n: ld, k: cout,
                                             a: w2b.baseAddress!, lda: plan.rows2,
                                             b: sampleGrad + (block.row * wa + block.j0) * p, ldb: total,
                                             c: columns2, ldc: ld)
                                        for c in 0..<cin {
                                            // The block's support planes, one after the other.
                                            let planes = gx + (((block.sample * cin + c) * ha + block.row) * wa
                                                               + block.j0) * planeSize
                                            planes.update(repeating: 0, count: block.count * planeSize)
                                            // conv2's windows, added back where they were read.
                                            if plan.denseSupport {
                                                // Added for the whole tensor after the blocks.
                                            } else if plan.readsSupportByRows {
                                                for jj in 0..<block.count {
                                                    plan.support.col2im(columns2 + c * taps * ld + jj * p, rowStride: ld,
                                                                        addingInto: planes + jj * planeSize,
                                                                        scratch: scratch)
                                                }
                                            } else {
                                                for t in 0..<taps {
                                                    let index = supportTaps + t * tableStride
                                                    let src = columns2 + (c * taps + t) * ld
                                                    for q in 0..<ld {
                                                        let i = Int(index[q])
                                                        if i >= 0 { planes[i] += src[q] }
                                                    }
                                                }
                                            }
                                            // conv1's part, on the pruned positions.
                                            let g = prunedGrad + c * ld
                                            if plan.collapsed {
                                                for jj in 0..<block.count {
                                                    let plane = planes + jj * planeSize
                                                    for u in 0..<ph {
                                                        for v in 0..<pw { plane[u * sh * wb + v * sw] += g[jj] }
                                                    }
                                                }
                                            } else {
                                                for q in 0..<ld { planes[Int(prunedTargets[q])] += g[q] }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if plan.denseSupport {
                gradOutput.withUnsafeBufferPointer { addDenseSupportBackward(gradOutput: $0.baseAddress!, plan, into: gx) }
            }
        }
    }

    /// Rows (o, ky, kx) of the block's columns: gradOutput[o, row + pad - ky, j + pad - kx, :],
    /// zero where that query position falls outside.
    static func gatherOutputGradient(_ block: Block, _ plan: Plan, sampleGrad: UnsafePointer<Float>,
                                     into columns: UnsafeMutablePointer<Float>, ld: Int) {
        let p = plan.positions
        let q = plan.query
        let (ha, wa) = (plan.ha, plan.wa)
        let (j0, jn) = (block.j0, block.count)
        for o in 0..<plan.outChannels {
            let channel = sampleGrad + o * ha * wa * p
            for ky in 0..<q.kernelHeight {
                let ia = block.row + q.paddingH - ky
                for kx in 0..<q.kernelWidth {
                    let dst = columns + ((o * q.kernelHeight + ky) * q.kernelWidth + kx) * ld
                    guard ia >= 0, ia < ha else {
                        dst.update(repeating: 0, count: jn * p)
                        continue
                    }
                    let shift = q.paddingW - kx
                    let lo = min(max(0, -shift - j0), jn)
                    let hi = max(min(jn, wa - shift - j0), lo)
                    if lo > 0 { dst.update(repeating: 0, count: lo * p) }
                    if hi > lo {
                        (dst + lo * p).update(from: channel + (ia * wa + j0 + lo + shift) * p, count: (hi - lo) * p)
                    }
                    if hi < jn { (dst + hi * p).update(repeating: 0, count: (jn - hi) * p) }
                }
            }
        }
    }

    /// The gradients of the four parameters.
    public struct Gradients {
        public var conv1Weight: Tensor
        public var conv1Bias: Tensor?
        public var conv2Weight: Tensor
        public var conv2Bias: Tensor?
    }

    /// `gradOutput x columns^T` over every block gives the gradient of the joint weight matrix:
    /// conv1's part, conv2's part, and (the ones row) the bias gradient shared by both biases.
    public func parameterGradients(_ gradOutput: Tensor, input: Tensor) -> Gradients {
        let plan = checkedPlan(input.shape, "parameterGradients", allowingDenseSupport: false)
        precondition(gradOutput.shape == plan.outputShape,
                     "CenterPivotConv4d.parameterGradients: gradOutput is \(gradOutput.shapeDescription), expected \(plan.outputShape)")
        let (cout, total, rows) = (plan.outChannels, plan.columns, plan.rows)
        let (perRow, _) = CenterPivotConv4d.blocks(plan, rows: plan.rows)
        let slots = min(workerCount, plan.batch * plan.ha * perRow)
        var partials = [Float](repeating: 0, count: slots * cout * rows)
        partials.withUnsafeMutableBufferPointer { partialBuffer in
            let partialBase = partialBuffer.baseAddress!
            gradOutput.withUnsafeBufferPointer { gb in
                let gy = gb.baseAddress!
                forEachColumnBlock(input, plan, maximumWorkers: slots) { worker, block, columns, ld, _ in
                    gemm(transposeB: true, m: cout, n: rows, k: ld,
                         a: gy + block.sample * cout * total + (block.row * plan.wa + block.j0) * plan.positions,
                         lda: total, b: columns, ldb: ld, beta: 1, c: partialBase + worker * cout * rows, ldc: rows)
                }
            }
        }
        var joint = [Float](repeating: 0, count: cout * rows)
        for slot in 0..<slots {
            for i in 0..<cout * rows { joint[i] += partials[slot * cout * rows + i] }
        }
        let (rows1, rows2) = (plan.rows1, plan.rows2)
        var w1 = [Float](repeating: 0, count: cout * rows1)
        var w2 = [Float](repeating: 0, count: cout * rows2)
        var biasGrad = [Float](repeating: 0, count: cout)
        for o in 0..<cout {
            for r in 0..<rows1 { w1[o * rows1 + r] = joint[o * rows + r] }
            for r in 0..<rows2 { w2[o * rows2 + r] = joint[o * rows + rows1 + r] }
            biasGrad[o] = joint[o * rows + rows1 + rows2]
        }
        let biasScale = Float(plan.collapsed ? plan.prunedH * plan.prunedW : 1)
        return Gradients(
            conv1Weight: Tensor(shape: conv1.weight.shape, scalars: w1),
            conv1Bias: conv1.bias == nil ? nil : Tensor(shape: [cout], scalars: biasGrad.map { $0 * biasScale }),
            conv2Weight: Tensor(shape: conv2.weight.shape, scalars: w2),
            conv2Bias: conv2.bias == nil ? nil : Tensor(shape: [cout], scalars: biasGrad))
    }
}

extension LayerBenchmark {
    /// The learner's largest center-pivot convolutions at a 400 x 400 image: the first
    /// squeezing layer of the layer-2 pyramid as `[1, 4, 50, 50, 50, 50]` with kernel 3 and
    /// support stride 2 (forward, input gradient) and with kernel 5, stride 4 (forward), the
    /// second one `[1, 16, 50, 50, 13, 13]` (kernel 5, stride 4, forward), and a mixing layer
    /// `[1, 128, 50, 50, 2, 2]` (forward, input gradient).
    public static func centerPivotConvolutions(runs: Int) -> [Result] {
        func layer(_ cin: Int, _ cout: Int, kernel: Int, stride: Int, seed: UInt64) -> CenterPivotConv4d {
            CenterPivotConv4d(
                conv1: Conv2d(weight: filler([cout, cin, kernel, kernel], seed: seed, scale: 0.1),
                              bias: filler([cout], seed: seed + 1, scale: 0.1), stride: 1, padding: kernel / 2),
                conv2: Conv2d(weight: filler([cout, cin, kernel, kernel], seed: seed + 2, scale: 0.1),
                              bias: filler([cout], seed: seed + 3, scale: 0.1), stride: stride, padding: kernel / 2))
        }
        func flops(_ l: CenterPivotConv4d, _ input: [Int]) -> Double {
            let out = l.outputShape(forInput: input)
            return 2 * Double(l.conv1.weight.count + l.conv2.weight.count) * Double(out[2...].reduce(1, *))
        }
        var results: [Result] = []
        for (cin, cout, kernel, stride, side, backward) in [(4, 16, 3, 2, 50, true), (4, 16, 5, 4, 50, false),
                                                            (16, 64, 5, 4, 13, false), (128, 128, 3, 1, 2, true)] {
            let l = layer(cin, cout, kernel: kernel, stride: stride, seed: UInt64(kernel * 10 + stride))
            let input = [1, cin, 50, 50, side, side]
            let x = filler(input, seed: 99)
            let name = "center_pivot_conv4d.k\(kernel)s\(stride)" + (cin == 16 ? ".second" : "")
            let shape = describe(input) + " -> " + describe(l.outputShape(forInput: input))
            results.append(Result(name: name, shape: shape, flops: flops(l, input),
                                  seconds: Timing.measure(runs: runs, warmup: 1) { _ = l.forward(x) }))
            if backward {
                let gradOutput = filler(l.outputShape(forInput: input), seed: 98)
                results.append(Result(name: name + ".backward_input", shape: shape, flops: flops(l, input),
                                      seconds: Timing.measure(runs: runs, warmup: 1) {
                                          _ = l.backwardInput(gradOutput, inputShape: input)
                                      }))
            }
        }
        return results
    }
}
