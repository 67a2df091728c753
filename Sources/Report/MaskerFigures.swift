import Foundation
import FreqMask
import Imaging

/// A masker on the page: a table of what it applies (statistics of sigmoid(mask), the factor
/// on each frequency, and the attention's weight norms) and its factor heatmaps
/// (`MaskerPictures.frequencyMaps`: amplitude and phase, the channel mean, on the centred
/// frequency grid with a colour bar). With a starting masker, the start is drawn too and the
/// change from it: fine-tuning moves the factors by little, and the change map shows where.
public enum MaskerFigures {
    /// `name` says which masker this is ("fine-tuned masker"); figure ids start with `idPrefix`.
    public static func blocks(_ masker: MaskerState, name: String, idPrefix: String,
                              start: MaskerState? = nil, startName: String? = nil) throws -> [any ReportBlock] {
        var blocks = statistics([(name, masker)] + (start.map { [(startName ?? "start", $0)] } ?? []))
        guard let apm = masker.amplitudePhase else {
            blocks.append(Paragraph("The \(name) has no amplitude-phase part, so there are no frequency factors to draw; its channel attention is summed up in the table.", note: true))
            return blocks
        }
        var pictures: [any ReportBlock] = []
        if let startAPM = start?.amplitudePhase {
            pictures.append(try PictureFigure(id: figureID(idPrefix, "start"),
                                              caption: "The \(startName ?? "start") (before): sigmoid of its masks, the factor on each frequency; the channel mean.",
                                              picture: try MaskerPictures.frequencyMaps(startAPM, channels: nil, baseline: nil)))
        }
        pictures.append(try PictureFigure(id: figureID(idPrefix, "factors"),
                                          caption: "The \(name)\(start == nil ? "" : " (after)"): sigmoid of its masks, the factor on each frequency (zero frequency framed, low frequencies in the middle); the channel mean.",
                                          picture: try MaskerPictures.frequencyMaps(apm, channels: nil, baseline: nil)))
        blocks.append(FigureRow(pictures))
        if let startAPM = start?.amplitudePhase, startAPM.maskAmplitude.shape == apm.maskAmplitude.shape {
            blocks.append(try PictureFigure(id: figureID(idPrefix, "change"),
                                            caption: "Change of the factors from the \(startName ?? "start") to the \(name) (red: raised, blue: lowered), the channel mean.",
                                            picture: try MaskerPictures.frequencyMaps(apm, channels: nil, baseline: startAPM, baselineName: startName ?? "the start")))
        }
        return blocks
    }

    /// One row per mask and masker: shape and statistics of sigmoid(mask); then the
    /// attention's weight norms, a row per masker, in a table of their own.
    static func statistics(_ maskers: [(name: String, state: MaskerState)]) -> [any ReportBlock] {
        var masks: [[HTMLTable.Cell]] = []
        var attention: [[HTMLTable.Cell]] = []
        for (name, state) in maskers {
            let report = MaskerSummary(state).report
            for mask in report.masks {
                masks.append([HTMLTable.Cell(name), HTMLTable.Cell("sigmoid(\(mask.name))"),
                              HTMLTable.Cell("[" + mask.shape.map(String.init).joined(separator: ", ") + "]"),
                              .number(mask.mean, decimals: 4), .number(mask.min, decimals: 4), .number(mask.max, decimals: 4),
                              .number(100 * mask.fractionBelowHalf, decimals: 1)])
            }
            if let channels = report.acpaChannels, let norms = report.acpaWeightNorms {
                attention.append([HTMLTable.Cell(name), HTMLTable.Cell("\(channels)"),
                                  .number(norms["phase_attn.0.weight"], decimals: 4), .number(norms["phase_attn.2.weight"], decimals: 4)])
            }
        }
        var blocks: [any ReportBlock] = []
        if !masks.isEmpty {
            blocks.append(HTMLTable(caption: "Amplitude-phase masker: the factor sigmoid(mask) on each frequency",
                                    columns: [.text("masker"), .text("mask"), .text("shape"), .number("mean"), .number("min"),
                                              .number("max"), .number("below 0.5, %")], rows: masks))
        }
        if !attention.isEmpty {
            blocks.append(HTMLTable(caption: "Channel phase attention (ACPA): weight norms, hidden width \(ChannelPhaseAttention.hiddenWidth)",
                                    columns: [.text("masker"), .number("channels"), .number("||W1|| (8 x C)"), .number("||W2|| (C x 8)")],
                                    rows: attention))
        }
        return blocks
    }
}
