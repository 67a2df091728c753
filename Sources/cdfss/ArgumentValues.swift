import ArgumentParser
import Datasets
import Evaluation
import Finetune
import HSNetCore
import Report

// The library's enumerations as option values, in one place: ArgumentParser lists their
// cases in help and in the error for an unknown value.
extension BenchmarkKind: ExpressibleByArgument {}
extension SyntheticStyle: ExpressibleByArgument {}
extension FineTuneSettings.Algorithm: ExpressibleByArgument {}
extension BackboneKind: ExpressibleByArgument {}
