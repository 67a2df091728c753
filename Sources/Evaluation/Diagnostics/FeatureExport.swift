import Datasets
import Foundation
import HSNetCore
import TensorCore

/// The features of one picture as the model sees them, for study in NumPy
/// (`cdfss analyze features`): the chosen taps of the query before and after the query
/// plug-ins, and with a support picture and mask, the support's taps before its plug-ins and
/// after plug-ins and masking, and the three correlation pyramids.
public enum FeatureExport {
    /// Named tensors in the order they are written: `query.<tap>`, `query.<tap>.plugins`,
    /// `support.<tap>`, `support.<tap>.masked`, `corr.layer4`, `corr.layer3`, `corr.layer2`.
    public static func tensors(model: HSNet, query: Tensor, taps: [Int],
                               support: (image: Tensor, mask: Tensor)?) throws -> [(name: String, tensor: Tensor)] {
        let names = BackboneTaps(of: model).names
        let queryTaps = model.features(of: query)
        let queryWith = try model.queryFeatures(fromTaps: queryTaps)
        var out: [(String, Tensor)] = []
        for tap in taps {
            out.append(("query.\(names[tap])", queryTaps[tap]))
            out.append(("query.\(names[tap]).plugins", queryWith[tap]))
        }
        guard let support else { return out }
        let supportTaps = model.features(of: support.image)
        // PATNet's correlation operands are transformed per shot (both images); the export
        // shows the support's masked taps before that, as HSNet's.
        let supportWith = try model.supportFeatures(fromTaps: supportTaps, mask: support.mask)
        for tap in taps {
            out.append(("support.\(names[tap])", supportTaps[tap]))
            out.append(("support.\(names[tap]).masked", supportWith[tap]))
        }
        let operands = try model.shotFeatures(query: queryWith, supportTaps: supportTaps, mask: support.mask)
        let pyramids = Hypercorrelation.pyramids(query: operands.query, support: operands.support, tapLayers: model.backbone.tapLayers)
        for (layer, pyramid) in zip([4, 3, 2], pyramids) { out.append(("corr.layer\(layer)", pyramid)) }
        return out
    }
}
