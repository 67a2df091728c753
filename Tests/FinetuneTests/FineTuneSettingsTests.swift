import Finetune
import XCTest

/// Fine-tuning sizes are bounded and checked before anything is allocated.
final class FineTuneSettingsTests: XCTestCase {
    func testFineTuningStepsAndBatchAreBounded() throws {
        XCTAssertNoThrow(try FineTuneSettings(steps: FineTuneSettings.maximumSteps, batch: FineTuneSettings.maximumBatch).learningRateSchedule())
        XCTAssertThrowsError(try FineTuneSettings(steps: FineTuneSettings.maximumSteps + 1).learningRateSchedule())
        XCTAssertThrowsError(try FineTuneSettings(batch: Int.max).learningRateSchedule())
    }
}
