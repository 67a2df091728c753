import Datasets
import Evaluation
import Foundation
import TensorCore

/// The learning rate of each optimiser step.
///
/// Step indices count from 0: `rate(atStep: k)` is the rate of the (k+1)-th update, i.e. the
/// one taken when the optimiser's `stepCount` is k. That is torch's convention of calling
/// `scheduler.step()` after every `optimizer.step()`: the first update uses the base rate
/// (`last_epoch` 0) and update k uses the rate at `last_epoch` k. Because the rate depends only
/// on k, a resumed run takes it from the optimiser's restored step count.
public enum LearningRateSchedule: Equatable {
    /// The base rate at every step.
    case constant(Double)
    /// torch's `CosineAnnealingLR(T_max: totalSteps, eta_min: 0)`:
    /// `base * (1 + cos(pi * k / totalSteps)) / 2`, from `base` at k = 0 down to 0 at
    /// k = totalSteps (a run of `totalSteps` updates uses k = 0 ... totalSteps - 1).
    ///
    /// torch computes the same values by a recursion from one step to the next; this closed
    /// form agrees with it to rounding (about 1e-16 relative).
    case cosine(base: Double, totalSteps: Int)

    public func rate(atStep k: Int) -> Double {
        switch self {
        case .constant(let base):
            return base
        case let .cosine(base, total):
            precondition(total > 0, "cosine schedule needs totalSteps > 0")
            return base * (1 + cos(Double.pi * Double(k) / Double(total))) / 2
        }
    }

    /// Parses `constant` or `cosine` (the command line's names).
    public init(name: String, base: Double, totalSteps: Int) throws {
        guard base.isFinite, base >= 0 else {
            throw InputError("learning rate \(base): expected a finite value >= 0")
        }
        switch name {
        case "constant": self = .constant(base)
        case "cosine":
            guard totalSteps > 0 else { throw InputError("cosine schedule needs at least 1 step, got \(totalSteps)") }
            self = .cosine(base: base, totalSteps: totalSteps)
        default: throw InputError("unknown learning-rate schedule \"\(name)\" (expected constant or cosine)")
        }
    }
}
