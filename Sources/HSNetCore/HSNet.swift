import Dispatch
import FreqMask
import TensorCore

/// The hypercorrelation squeeze network (HSNet, with any `BackboneKind`) with named plug-in slots,
/// and PATNet, which is HSNet with a `prototypeTransformation`.
///
/// One episode: the backbone taps (13 or 30) of the query and of each support image; plug-ins of the
/// `.query`/`.support` slots; support taps multiplied by the support mask (bilinearly resized,
/// align_corners=True, to each tap), PATNet taking its prototypes there; plug-ins of the
/// `.masked` slots; PATNet's transformation of the query and support taps; the three
/// correlation pyramids; the learner; logits bilinearly resized to the image size.
public final class HSNet {
    public var backbone: Backbone
    public var learner: HPNLearner
    /// Plug-ins acting on the backbone features (see `PluginSlot`); empty for plain HSNet.
    public var plugins = PluginSlots()
    /// The checkpoint entries of plug-in modules (names under `pluginPrefixes`, e.g.
    /// `apm.mask_amplitude`, `acpa.phase_attn.0.weight`, `layer3.apm.mask_phase`), full names as in the file. The model
    /// does not interpret them; `MaskerState(stateDict:)` builds the frequency maskers from them
    /// (see `installFrequencyMaskers`).
    public private(set) var pluginTensors: [String: Tensor] = [:]
    /// PATNet's transformation of the taps before the correlation (its `reference_layer*`
    /// weights); nil for HSNet.
    public var prototypeTransformation: PrototypeTransformation?

    /// The module prefixes of the frequency maskers in published checkpoints (layer 4), and of
    /// cdfss's maskers on layers 3 and 2 (`MaskerState`).
    public static let defaultPluginPrefixes = ["apm", "acpa", "layer3.apm", "layer3.acpa", "layer2.apm", "layer2.acpa"]

    public init(backbone: Backbone, learner: HPNLearner) {
        precondition(backbone.kind == learner.backboneKind,
                     "the learner squeezes the taps of a \(learner.backboneKind.name), the backbone is a \(backbone.kind.name)")
        self.backbone = backbone
        self.learner = learner
    }

    /// Builds the model from an HSNet state dict: `backbone.*` and `hpn_learner.*` map 1:1 to
    /// the PyTorch names; entries under `pluginPrefixes` are kept in `pluginTensors`. The
    /// backbone's kind (`BackboneKind`) is recognised from its names and the learner
    /// is read for it.
    ///
    /// When `backboneStateDict` is given, the backbone comes from it instead (torchvision's
    /// ImageNet ResNet-50, ResNet-101 or VGG-16 file, names without `backbone.`, its `fc.*` or
    /// `classifier.*` head ignored; or names with `backbone.`), and `stateDict` must then hold
    /// no `backbone.*` entries.
    ///
    /// Missing entries, entries of the wrong shape and entries nobody expects are all listed in
    /// one `InputError`, by name; a checkpoint of another model (PATNet, a VGG with BatchNorm) is
    /// refused in one line naming the models cdfss runs.
    public convenience init(stateDict: [(name: String, tensor: Tensor)],
                            backboneStateDict: [(name: String, tensor: Tensor)]? = nil,
                            pluginPrefixes: [String] = HSNet.defaultPluginPrefixes,
                            source: String = "checkpoint", backboneSource: String = "backbone checkpoint") throws {
        try SupportedModels.check(stateDict.map(\.name), source: source)
        if let backboneStateDict { try SupportedModels.check(backboneStateDict.map(\.name), source: backboneSource) }
        let reader = try StateDictReader(stateDict, source: source)
        let backbone: Backbone?
        if let backboneStateDict {
            if let clash = stateDict.first(where: { $0.name.hasPrefix("backbone.") }) {
                throw InputError("\(source): holds backbone parameters (\(clash.name)) although a separate backbone was given; give only one of them")
            }
            let prefix = backboneStateDict.contains { $0.name.hasPrefix("backbone.") } ? "backbone." : ""
            backbone = try Backbone(stateDict: backboneStateDict, prefix: prefix, source: backboneSource)
        } else {
            if !stateDict.contains(where: { $0.name.hasPrefix("backbone.") }) {
                let looksTorchvision = stateDict.contains { $0.name == "layer1.0.conv1.weight" || $0.name == "features.0.weight" }
                let kind = BackboneKind.recognised(in: stateDict.lazy.map(\.name), prefix: "")
                throw InputError("\(source): has no backbone.* parameters"
                    + (looksTorchvision ? " (it looks like a torchvision \(kind.name) file: give it as the backbone, with an HSNet checkpoint for the learner)"
                                        : " (give a \(BackboneKind.namesList) backbone state dict as well)"))
            }
            let kind = BackboneKind.recognised(in: stateDict.lazy.map(\.name), prefix: "backbone.")
            backbone = Backbone.load(from: reader, prefix: "backbone.", kind: kind)
            Backbone.ignoreClassifier(reader, prefix: "backbone.", kind: kind)
        }
        // A backbone that failed to load still tells the learner's kind: the names decide it.
        let kind = backbone?.kind ?? BackboneKind.recognised(in: stateDict.lazy.map(\.name), prefix: "backbone.")
        try Self.checkLearnerFits(stateDict, backbone: kind, source: source)
        let learner = HPNLearner.load(from: reader, prefix: "hpn_learner.", backbone: kind)
        let transformation = try Self.readPrototypeTransformation(stateDict, reader: reader)
        if transformation != nil, kind == .vgg16 {
            throw InputError("\(source): holds PATNet, which cdfss does not run with a VGG-16 backbone; cdfss supports \(SupportedModels.description)")
        }
        var pluginEntries: [String: Tensor] = [:]
        for prefix in pluginPrefixes {
            for (name, tensor) in reader.takeAll(prefix: prefix + ".") { pluginEntries[prefix + "." + name] = tensor }
        }
        try reader.finish(what: "\(SupportedModels.isPATNet(stateDict.map(\.name)) ? "PATNet" : "HSNet") (\(kind.name))")
        self.init(backbone: backbone!, learner: learner!)
        pluginTensors = pluginEntries
        prototypeTransformation = transformation
    }

    /// A learner trained on another backbone's taps is told in one line rather than as a list
    /// of misshapen squeezing weights (layer 3 gives 6 taps in ResNet-50, 23 in ResNet-101).
    static func checkLearnerFits(_ stateDict: [(name: String, tensor: Tensor)], backbone kind: BackboneKind, source: String) throws {
        guard let first = stateDict.first(where: { $0.name == "hpn_learner.encoder_layer3.0.conv1.weight" })?.tensor,
              first.rank == 4, first.shape[1] != kind.tapCount(layer: 3),
              let trained = BackboneKind.allCases.first(where: { $0.tapCount(layer: 3) == first.shape[1] }) else { return }
        throw InputError("\(source): its learner squeezes the taps of a \(trained.name), but the backbone is a \(kind.name)")
    }

    // MARK: Geometry

    /// The spatial size of the taps of `layer` (2, 3 or 4) for a `height` x `width` image,
    /// with a backbone of `kind`.
    public static func featureSize(layer: Int, imageHeight: Int, imageWidth: Int,
                                   backbone kind: BackboneKind = .resnet50) -> (height: Int, width: Int) {
        kind.featureSize(layer: layer, imageHeight: imageHeight, imageWidth: imageWidth)
    }

    /// The spatial size of this model's taps of `layer` for a `height` x `width` image.
    public func featureSize(layer: Int, imageHeight: Int, imageWidth: Int) -> (height: Int, width: Int) {
        backbone.kind.featureSize(layer: layer, imageHeight: imageHeight, imageWidth: imageWidth)
    }

    // MARK: Steps of an episode

    /// The backbone taps of `image` [1, 3, H, W] (13, 30 or 7, layer 2 first).
    public func features(of image: Tensor) -> [Tensor] {
        backbone.features(image)
    }

    /// The taps of several images, computed side by side, one whole backbone pass per core,
    /// each with its products on its own thread: two independent passes keep both cores
    /// busier than one pass split convolution by convolution (the 13 x 13 layer-4 maps leave
    /// little to split).
    public func features(of images: [Tensor]) -> [[Tensor]] {
        guard images.count > 1, workerCount > 1 else { return images.map { features(of: $0) } }
        var results = [[Tensor]](repeating: [], count: images.count)
        results.withUnsafeMutableBufferPointer { out in
            let slots = out.baseAddress!
            parallelTasks(images.count) { _, tasks in
                for i in tasks { slots[i] = backbone.features(images[i]) }
            }
        }
        return results
    }

    /// Runs the plug-ins of every slot of `role` at `stage` on `taps`, in place.
    public func applyPlugins(role: PluginSlot.Role, stage: PluginSlot.Stage, to taps: inout [Tensor]) throws {
        for layer in 2...4 {
            try plugins.apply(try PluginSlot(layer: layer, role: role, stage: stage), to: &taps,
                              tapLayers: backbone.tapLayers)
        }
    }

    /// Multiplies every support tap by `mask` [H, W] (0/1), bilinearly resized with
    /// align_corners=True to the tap's size, as HSNet masks support features.
    public static func maskSupportFeatures(_ taps: inout [Tensor], mask: Tensor) {
        precondition(mask.rank == 2)
        let image = mask.reshaped([1, 1, mask.shape[0], mask.shape[1]])
        var resized: [[Int]: Tensor] = [:]
        for index in taps.indices {
            let (height, width) = (taps[index].shape[2], taps[index].shape[3])
            let plane = resized[[height, width]]
                ?? BilinearResize(outputHeight: height, outputWidth: width).forward(image)
            resized[[height, width]] = plane
            let size = height * width
            let planes = taps[index].shape[0] * taps[index].shape[1]
            plane.withUnsafeBufferPointer { m in
                taps[index].withUnsafeMutableBufferPointer { feature in
                    let base = feature.baseAddress!
                    parallelFor(planes, minimumChunk: max(1, 16_384 / size)) { range in
                        for p in range {
                            let row = base + p * size
                            for i in 0..<size { row[i] *= m[i] }
                        }
                    }
                }
            }
        }
    }

    /// Logits [1, 2, H, W] of one query-support pair from their taps (plug-ins and masking
    /// already applied), resized to `height` x `width`.
    public func logits(queryTaps: [Tensor], supportTaps: [Tensor], height: Int, width: Int,
                       observe: ((String, Tensor) -> Void)? = nil) throws -> Tensor {
        try logits(query: Self.correlationOperands(queryTaps), supportTaps: supportTaps,
                   height: height, width: width, observe: observe)
    }

    /// The query's taps prepared for correlation, once for every shot.
    static func correlationOperands(_ queryTaps: [Tensor]) -> [Hypercorrelation.Operand] {
        queryTaps.map { Hypercorrelation.Operand($0, droppingZeroPositions: false) }
    }

    func logits(query: [Hypercorrelation.Operand], supportTaps: [Tensor], height: Int, width: Int,
                observe: ((String, Tensor) -> Void)?) throws -> Tensor {
        let small = try decoderLogits(query: query, supportTaps: supportTaps, observe: observe)
        return BilinearResize(outputHeight: height, outputWidth: width).forward(small)
    }

    /// The decoder's logits [1, 2, h, w] (h, w: half the input size), before the final resize.
    func decoderLogits(query: [Hypercorrelation.Operand], supportTaps: [Tensor],
                       observe: ((String, Tensor) -> Void)?) throws -> Tensor {
        let layers = backbone.tapLayers
        var squeezed: [Int: Tensor] = [:]
        // One pyramid at a time, each squeezed at once, so that only one (the layer-2 one is
        // 4 x 2500 x 2500 floats at 400 x 400) is alive at a time.
        for (index, layer) in [4, 3, 2].enumerated() {
            let taps = layers.indices.filter { layers[$0] == layer }
            let pyramid = Hypercorrelation.pyramid(
                query: taps.map { query[$0] },
                support: taps.map { Hypercorrelation.Operand(supportTaps[$0], droppingZeroPositions: true) })
            observe?("corr.\(index)", pyramid)
            squeezed[layer] = learner.squeezingBlock(forLayer: layer).forward(pyramid)
            observe?("sqz\(layer)", squeezed[layer]!)
        }
        let encoded = try learner.mix(squeezed4: squeezed[4]!, squeezed3: squeezed[3]!, squeezed2: squeezed[2]!, observe: observe)
        squeezed.removeAll()
        observe?("encoded", encoded)
        return learner.decode(encoded)
    }

    // MARK: Prediction

    /// The query's taps after the plug-ins of the `.query` and `.query.masked` slots
    /// (the query is never masked, so both stages run back to back).
    public func queryFeatures(_ query: Tensor, observe: ((String, Tensor) -> Void)? = nil) throws -> [Tensor] {
        try queryFeatures(fromTaps: features(of: query), observe: observe)
    }

    /// `queryFeatures` from the query's backbone taps.
    public func queryFeatures(fromTaps taps: [Tensor], observe: ((String, Tensor) -> Void)? = nil) throws -> [Tensor] {
        var taps = taps
        if let observe { for (i, tap) in taps.enumerated() { observe("query_feat.\(i)", tap) } }
        try applyPlugins(role: .query, stage: .beforeSupportMask, to: &taps)
        try applyPlugins(role: .query, stage: .afterSupportMask, to: &taps)
        if let observe { for (i, tap) in taps.enumerated() { observe("query_feat_masked.\(i)", tap) } }
        return taps
    }

    /// A support image's taps after the `.support` plug-ins, the masking by `mask` [H, W]
    /// and the `.support.masked` plug-ins.
    public func supportFeatures(_ support: Tensor, mask: Tensor, observe: ((String, Tensor) -> Void)? = nil) throws -> [Tensor] {
        try supportFeatures(fromTaps: features(of: support), mask: mask, observe: observe)
    }

    /// `supportFeatures` from the support image's backbone taps.
    public func supportFeatures(fromTaps taps: [Tensor], mask: Tensor, observe: ((String, Tensor) -> Void)? = nil) throws -> [Tensor] {
        var taps = taps
        if let observe { for (i, tap) in taps.enumerated() { observe("support_feat.\(i)", tap) } }
        try applyPlugins(role: .support, stage: .beforeSupportMask, to: &taps)
        Self.maskSupportFeatures(&taps, mask: mask)
        try applyPlugins(role: .support, stage: .afterSupportMask, to: &taps)
        if let observe { for (i, tap) in taps.enumerated() { observe("support_feat_masked.\(i)", tap) } }
        return taps
    }

    /// The correlation operands of one shot: `query` holds the query's taps after its plug-ins
    /// (`queryFeatures`), `supportTaps` the support image's backbone taps. The support goes
    /// through its plug-ins and the masking by `mask` [H, W]; PATNet then multiplies both by
    /// its shot-dependent Pᵀ (prototypes taken where the support is masked, after the
    /// `.support` plug-ins and before the `.masked` ones, as PATNet's `mask_feature`). For
    /// HSNet the query is returned as it came.
    public func shotFeatures(query: [Tensor], supportTaps: [Tensor], mask: Tensor,
                             observe: ((String, Tensor) -> Void)? = nil) throws -> (query: [Tensor], support: [Tensor]) {
        guard let transformation = prototypeTransformation else {
            return (query, try supportFeatures(fromTaps: supportTaps, mask: mask, observe: observe))
        }
        var taps = supportTaps
        if let observe { for (i, tap) in taps.enumerated() { observe("support_feat.\(i)", tap) } }
        try applyPlugins(role: .support, stage: .beforeSupportMask, to: &taps)
        let transforms = transformation.transforms(prototypes: PrototypeTransformation.prototypes(of: taps, mask: mask),
                                                   tapLayers: backbone.tapLayers)
        Self.maskSupportFeatures(&taps, mask: mask)
        try applyPlugins(role: .support, stage: .afterSupportMask, to: &taps)
        if let observe { for (i, tap) in taps.enumerated() { observe("support_feat_masked.\(i)", tap) } }
        let support = zip(transforms, taps).map { $0.apply($1) }
        let transformedQuery = zip(transforms, query).map { $0.apply($1) }
        if let observe {
            for (i, tap) in transformedQuery.enumerated() { observe("query_feat_transformed.\(i)", tap) }
            for (i, tap) in support.enumerated() { observe("support_feat_transformed.\(i)", tap) }
        }
        return (transformedQuery, support)
    }

    /// Logits [K, 2, H, W] of every shot: `query` [1, 3, H, W] and `supports` [K, 3, H, W]
    /// are normalised images, `supportMasks` [K, H, W] holds 0/1 masks. Each shot is one HSNet
    /// forward pass (the query's features are computed once); `ShotVote.mask` turns the
    /// result into the k-shot prediction.
    ///
    /// The decoder's logits are resized (bilinear, align_corners=True) to the image size, or
    /// to `outputSize` when given (HSNet's `use_original_imgsize`: straight from the decoder's
    /// resolution to the original picture's).
    ///
    /// `observe` sees the intermediates by name (`query_feat.<i>`, `support_feat.<i>` for the raw
    /// taps, `query_feat_masked.<i>`, `support_feat_masked.<i>` after plug-ins and masking,
    /// `corr.0` (layer 4) ... `corr.2`, `sqz4`, `sqz3`, `sqz2`, `mix43`, `mix432`, `encoded`,
    /// `logits`), once per shot for the support side.
    public func predict(query: Tensor, supports: Tensor, supportMasks: Tensor,
                        outputSize: (height: Int, width: Int)? = nil,
                        observe: ((String, Tensor) -> Void)? = nil) throws -> Tensor {
        try Self.checkEpisode(query: query, supports: supports, supportMasks: supportMasks, backbone: backbone.kind)
        let (shots, height, width) = (supports.shape[0], query.shape[2], query.shape[3])
        let output = outputSize ?? (height, width)
        guard output.height > 0, output.width > 0 else {
            throw InputError("output size \(output.height) x \(output.width) is empty")
        }
        var scalars: [Float] = []
        scalars.reserveCapacity(shots * 2 * output.height * output.width)
        let resize = BilinearResize(outputHeight: output.height, outputWidth: output.width)
        try forEachShot(query: query, shots: shots, supportImage: { Self.item($0, of: supports) },
                        supportMask: { Self.item($0, of: supportMasks) }, observe: observe) { _, decoderLogits in
            let logits = resize.forward(decoderLogits)
            observe?("logits", logits)
            scalars += logits.scalars
        }
        return Tensor(shape: [shots, 2, output.height, output.width], scalars: scalars)
    }

    /// Runs the episode shot by shot and hands each shot's decoder logits [1, 2, h, w] (before
    /// the final resize, which the caller makes to the size it needs) to `body`. The query's
    /// backbone pass runs beside the first support's, later supports two at a time; the query's
    /// correlation operands serve every shot.
    func forEachShot(query: Tensor, shots: Int, supportImage: (Int) throws -> Tensor, supportMask: (Int) throws -> Tensor,
                     observe: ((String, Tensor) -> Void)?,
                     _ body: (Int, Tensor) throws -> Void) throws {
        var pending: [Int: [Tensor]] = [:]
        let first = features(of: [query, try supportImage(0)])
        pending[0] = first[1]
        let queryTaps = try queryFeatures(fromTaps: first[0], observe: observe)
        // HSNet's query operands serve every shot; PATNet's query is transformed per shot.
        let queryOperands = prototypeTransformation == nil ? Self.correlationOperands(queryTaps) : []
        for shot in 0..<shots {
            if pending[shot] == nil {
                let next = Array(shot..<min(shot + 2, shots))
                for (index, taps) in zip(next, features(of: try next.map(supportImage))) { pending[index] = taps }
            }
            let (shotQuery, supportTaps) = try shotFeatures(query: queryTaps, supportTaps: pending.removeValue(forKey: shot)!,
                                                            mask: try supportMask(shot), observe: observe)
            let shotLogits = try decoderLogits(query: queryOperands.isEmpty ? Self.correlationOperands(shotQuery) : queryOperands,
                                               supportTaps: supportTaps, observe: observe)
            try body(shot, shotLogits)
        }
    }

    /// Element `index` of the first axis, keeping a leading 1 for images ([1, 3, H, W]) and
    /// dropping it for masks ([H, W]).
    static func item(_ index: Int, of batch: Tensor) -> Tensor {
        let size = batch.count / batch.shape[0]
        let shape = batch.rank == 4 ? [1] + batch.shape.dropFirst() : Array(batch.shape.dropFirst())
        return Tensor(shape: shape, scalars: Array(batch.scalars[(index * size)..<((index + 1) * size)]))
    }

    /// Checks the shapes of an episode's tensors, naming the one that does not fit.
    static func checkEpisode(query: Tensor, supports: Tensor, supportMasks: Tensor, backbone kind: BackboneKind = .resnet50) throws {
        guard query.rank == 4, query.shape[0] == 1, query.shape[1] == 3 else {
            throw InputError("query image tensor has shape \(query.shapeDescription), expected [1, 3, height, width]")
        }
        let (height, width) = (query.shape[2], query.shape[3])
        let minimum = kind.minimumImageSize
        guard height >= minimum, width >= minimum else {
            throw InputError("query image is \(height) x \(width), HSNet with a \(kind.name) backbone needs at least \(minimum) x \(minimum)")
        }
        guard supports.rank == 4, supports.shape[0] >= 1, supports.shape[1] == 3 else {
            throw InputError("support image tensor has shape \(supports.shapeDescription), expected [shots, 3, height, width]")
        }
        guard supports.shape[2] == height, supports.shape[3] == width else {
            throw InputError("support images are \(supports.shape[2]) x \(supports.shape[3]), the query is \(height) x \(width); resize them to one size")
        }
        guard supportMasks.shape == [supports.shape[0], height, width] else {
            throw InputError("support mask tensor has shape \(supportMasks.shapeDescription), expected [\(supports.shape[0]), \(height), \(width)] (one mask per support image)")
        }
    }
}
