import CFFTW
import Foundation
import TensorCore

/// The amplitude-phase masker (APM) of "Lightweight Frequency Masker for Cross-Domain Few-Shot
/// Semantic Segmentation" (NeurIPS 2024):
///
///     F = fftshift(fft2(x))
///     y = Re(ifft2(ifftshift(polar(sigmoid(Ma) * |F|, sigmoid(Mp) * angle(F)))))
///
/// APM-S has one mask [1, 1, H, W] for all channels, APM-M one per channel [1, C, H, W];
/// both parameters start at 1.
///
/// The published code shifts without `dim`, so the shifts roll the batch and channel axes too.
/// The batch roll cancels (the mask is broadcast over the batch); the channel roll does not:
/// input channel j meets mask channel (j + C/2) mod C. Trained maskers carry that meaning, so
/// we keep it. Since the polar map is elementwise, shift-then-unshift amounts to reading the
/// mask at rolled indices: frequency (c, k1, k2) of the unshifted spectrum uses mask element
/// ((c + C/2) mod C, (k1 + H/2) mod H, (k2 + W/2) mod W). No data is rolled at run time.
///
/// The input is real, so we use real transforms and keep half spectra: a direct eight-plane
/// DFT (`SmallPlaneDFT`) for the small planes where it is faster, FFTW's batched real plans
/// otherwise (`prefersSmallDFT`; both write the same layout). Each stored frequency k also
/// computes its mirror -k (see `HalfSpectrumLayout`), and the output is the real transform of
/// the Hermitian part of the masked spectrum, which is exactly Re(ifft2(.)).
///
/// One exception to the Hermitian symmetry is kept, because the published code has it: where
/// F(k) is exactly real and negative at a frequency that is not self-conjugate (sparse planes:
/// masked support taps, ReLU outputs), torch's FFT leaves the imaginary part +0 at k *and* at
/// -k, so `angle` is +pi at both instead of +pi and -pi, and the phase mask scales both by +pi.
/// Which frequencies those are follows from the plane's non-zero positions alone (as in
/// `ChannelPhaseAttention`: F(k) = sum_n x_n e^{-2 pi i t(k, n) / (H W)} is real for generic
/// values exactly when every non-zero n has t in {0, H W / 2}); `realNegativeSlots` finds them,
/// and only their slots are redone, after the vectorised pass. A plane with non-zero values at
/// (0, 1) and (1, 0), every dense plane, has none, which costs two loads to see.
public final class AmplitudePhaseMasker: FeaturePlugin {
    public enum Variant: String, Sendable, CaseIterable {
        /// APM-S: one mask shared by all channels.
        case shared = "s"
        /// APM-M: one mask per channel.
        case perChannel = "m"
    }

    public let variant: Variant
    /// Mask channels: C for APM-M, 1 for APM-S.
    public let maskChannels: Int
    public let height: Int
    public let width: Int
    public private(set) var maskAmplitude: Tensor {
        didSet { cachedMasks = nil }
    }
    public private(set) var maskPhase: Tensor {
        didSet { cachedMasks = nil }
    }
    /// sigmoid of the masks in half-spectrum layout, made on first use after a change.
    private var cachedMasks: RolledMasks?
    /// The direct eight-plane DFT where it beats FFTW (see `prefersSmallDFT`); nil where FFTW
    /// transforms the planes. (Tests set it to run one plane size through either path.)
    var smallDFT: SmallPlaneDFT?

    /// Largest plane side for which the direct DFT is used.
    static let smallDFTLimit = 31

    /// Whether the direct DFT (`SmallPlaneDFT`) is faster than FFTW for H x W planes. FFTW
    /// transforms one plane at a time, vectorising (if at all) within the plane; at odd and
    /// prime sides that leaves most lanes idle, and at sides such as 17, 23 and 29 it is far
    /// slower still (see below). The direct DFT does more arithmetic
    /// (O(H W (H + W))) but runs eight planes per instruction. Measured on one core of the
    /// 2.5 GHz Xeon we benchmark on, one pass over 12288 planes in chunks of 64 (forward r2c /
    /// inverse c2r, ms, best of two or three runs; run-to-run noise is about 10 %):
    ///
    ///     size      FFTW        direct
    ///      8 x 8    1.2 / 1.1   1.0 / 0.9
    ///     12 x 12   2.9 / 2.6   2.7 / 2.0
    ///     13 x 13   5.5 / 5.2   2.7 / 2.2
    ///     16 x 13   6.1 / 5.9   4.2 / 3.3
    ///     13 x 16   5.2 / 5.0   4.4 / 3.3
    ///     16 x 16   6.1 / 5.2   5.9 / 4.7
    ///     17 x 17   31  / 31    6.5 / 4.7
    ///     20 x 20   9.2 / 9.3   10  / 8.0
    ///     23 x 23   69  / 69    13  / 10
    ///     29 x 29   126 / 132   21  / 17
    ///     32 x 32   27  / 27    27  / 25
    ///
    /// At 32 the two are even; above it the direct DFT's cost grows as the cube of the side,
    /// so larger planes stay with FFTW (not measured beyond 32).
    static func prefersSmallDFT(height: Int, width: Int) -> Bool {
        max(height, width) <= smallDFTLimit
    }

    static func makeSmallDFT(height: Int, width: Int) -> SmallPlaneDFT? {
        prefersSmallDFT(height: height, width: width) ? SmallPlaneDFT(height: height, width: width) : nil
    }

    /// A fresh masker with both masks at 1, as the published initialisation.
    public init(variant: Variant, channels: Int, height: Int, width: Int) {
        precondition(channels > 0 && height > 0 && width > 0, "masker dimensions must be positive")
        self.variant = variant
        maskChannels = variant == .perChannel ? channels : 1
        self.height = height
        self.width = width
        maskAmplitude = Tensor(repeating: 1, shape: [1, maskChannels, height, width])
        maskPhase = maskAmplitude
        smallDFT = Self.makeSmallDFT(height: height, width: width)
    }

    /// A masker from trained masks; the variant follows from the mask shape
    /// ([1, 1, H, W] is APM-S, [1, C, H, W] with C > 1 is APM-M).
    public init(maskAmplitude: Tensor, maskPhase: Tensor) throws {
        guard maskAmplitude.rank == 4, maskAmplitude.shape[0] == 1, maskAmplitude.shape.allSatisfy({ $0 > 0 }) else {
            throw InputError("mask_amplitude has shape \(maskAmplitude.shapeDescription), expected [1, C, H, W] or [1, 1, H, W]")
        }
        guard maskPhase.shape == maskAmplitude.shape else {
            throw InputError("mask_phase has shape \(maskPhase.shapeDescription) but mask_amplitude has \(maskAmplitude.shapeDescription)")
        }
        maskChannels = maskAmplitude.shape[1]
        variant = maskChannels == 1 ? .shared : .perChannel
        height = maskAmplitude.shape[2]
        width = maskAmplitude.shape[3]
        self.maskAmplitude = maskAmplitude
        self.maskPhase = maskPhase
        smallDFT = Self.makeSmallDFT(height: maskAmplitude.shape[2], width: maskAmplitude.shape[3])
    }

    public var kind: String { "apm-\(variant.rawValue)" }

    public var parameters: [(name: String, value: Tensor)] {
        [("mask_amplitude", maskAmplitude), ("mask_phase", maskPhase)]
    }

    public func setParameter(_ name: String, to value: Tensor) throws {
        switch name {
        case "mask_amplitude":
            try checkShape(value, of: name, expected: maskAmplitude.shape)
            maskAmplitude = value
        case "mask_phase":
            try checkShape(value, of: name, expected: maskPhase.shape)
            maskPhase = value
        default:
            throw InputError("the amplitude-phase masker has no parameter \"\(name)\" (it has mask_amplitude, mask_phase)")
        }
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try run(x, saving: false).output
    }

    public func forwardForTraining(_ x: Tensor) throws -> (output: Tensor, tape: PluginTape) {
        let result = try run(x, saving: true)
        return (result.output, result.tape!)
    }

    // MARK: - Forward

    /// What the forward keeps for the backward, per stored frequency slot of every plane:
    /// the spectrum (u + iv), its magnitude r and phase phi, and cos/sin of the masked phases
    /// of the slot (own) and of its mirror.
    final class Tape: PluginTape {
        let shape: [Int]
        let layout: HalfSpectrumLayout
        let masks: RolledMasks
        let u, v, r, phi, cosOwn, sinOwn, cosMirror, sinMirror: FloatBuffer
        /// Per plane, the slots where torch's angle is +pi at both mirrors (`realNegativeSlots`).
        let realNegative: PlaneSlotLists

        init(shape: [Int], layout: HalfSpectrumLayout, masks: RolledMasks) {
            self.shape = shape
            self.layout = layout
            self.masks = masks
            // The forward writes every slot of every plane, padding included.
            let count = shape[0] * shape[1] * layout.slotsPerPlane
            let make = { FloatBufferPool.shared.take(count: count) }
            (u, v, r, phi) = (make(), make(), make(), make())
            (cosOwn, sinOwn, cosMirror, sinMirror) = (make(), make(), make(), make())
            realNegative = PlaneSlotLists(planes: shape[0] * shape[1])
        }

        deinit {
            for buffer in [u, v, r, phi, cosOwn, sinOwn, cosMirror, sinMirror] { FloatBufferPool.shared.recycle(buffer) }
        }
    }

    /// sigmoid(mask) laid out like the half spectra: for every input channel and slot, the
    /// amplitude and phase factors of the slot's own frequency and of its mirror, with the
    /// all-axes roll already applied.
    struct RolledMasks {
        /// Rows: one per input channel for APM-M, a single row for APM-S.
        let rows: Int
        let amplitudeOwn, amplitudeMirror, phaseOwn, phaseMirror: FloatBuffer
        let sigmoidAmplitude, sigmoidPhase: [Float]
    }

    func rolledMasks(layout: HalfSpectrumLayout) -> RolledMasks {
        let rows = maskChannels
        let slots = layout.slotsPerPlane
        let sa = maskAmplitude.scalars.map(sigmoid)
        let sp = maskPhase.scalars.map(sigmoid)
        var aOwn = [Float](repeating: 0, count: rows * slots)
        var aMirror = aOwn, pOwn = aOwn, pMirror = aOwn
        let planeSize = height * width
        for row in 0..<rows {
            let maskPlane = (row + maskChannels / 2) % maskChannels * planeSize
            for slot in 0..<layout.occupiedSlots {
                let own = maskPlane + layout.maskPositionOwn[slot]
                let mirror = maskPlane + layout.maskPositionMirror[slot]
                aOwn[row * slots + slot] = sa[own]
                aMirror[row * slots + slot] = sa[mirror]
                pOwn[row * slots + slot] = sp[own]
                pMirror[row * slots + slot] = sp[mirror]
            }
        }
        return RolledMasks(rows: rows, amplitudeOwn: FloatBuffer(aOwn), amplitudeMirror: FloatBuffer(aMirror),
                           phaseOwn: FloatBuffer(pOwn), phaseMirror: FloatBuffer(pMirror),
                           sigmoidAmplitude: sa, sigmoidPhase: sp)
    }

    func validate(_ x: Tensor) throws {
        guard x.rank == 4 else {
            throw InputError("masker input has shape \(x.shapeDescription), expected [N, C, \(height), \(width)]")
        }
        // A batch or channel count of zero has nothing to mask, and the work split by channel
        // chunks would divide by it.
        guard x.shape[0] > 0, x.shape[1] > 0 else {
            throw InputError("masker input has shape \(x.shapeDescription), which holds no values: N and C must be at least 1")
        }
        guard x.shape[2] == height, x.shape[3] == width else {
            throw InputError("masker input has shape \(x.shapeDescription), but the \(kind) masks are \(height) x \(width): expected [N, C, \(height), \(width)]")
        }
        if variant == .perChannel, x.shape[1] != maskChannels {
            throw InputError("masker input has \(x.shape[1]) channels (shape \(x.shapeDescription)), but the apm-m mask has \(maskChannels)")
        }
        if let bad = x.firstNonFiniteIndex() {
            throw InputError("masker input holds a non-finite value (\(x.scalars[bad])) at flat index \(bad)")
        }
    }

    /// Channels per unit of work: small enough that a unit's planes and spectra stay in cache.
    static let channelsPerChunk = 64

    private func run(_ x: Tensor, saving: Bool) throws -> (output: Tensor, tape: Tape?) {
        try validate(x)
        let (batch, channels) = (x.shape[0], x.shape[1])
        let layout = HalfSpectrumLayout(height: height, width: width)
        let masks = cachedMasks ?? rolledMasks(layout: layout)
        cachedMasks = masks
        let tape = saving ? Tape(shape: x.shape, layout: layout, masks: masks) : nil
        let slots = layout.slotsPerPlane
        let chunks = ChannelChunks(channels: channels, size: Self.channelsPerChunk)
        let planeSize = height * width
        let output = Tensor(shape: x.shape, unsafeUninitialized: { out in
            x.withUnsafeBufferPointer { input in
                filterPlanes(input.baseAddress!, into: out.baseAddress!, batch: batch, channels: channels, chunks: chunks,
                             spectrumStride: slots, outputScale: 1 / Float(planeSize)) { spectrum, channel, _, plane in
                    let realNegative = Self.realNegativeSlots(input.baseAddress! + plane * planeSize, layout: layout)
                    maskSpectrum(spectrum, masks: masks, row: variant == .perChannel ? channel : 0, layout: layout,
                                 realNegative: realNegative, tape: tape, tapeOffset: plane * slots)
                    if let tape, !realNegative.isEmpty { tape.realNegative.pointer[plane] = realNegative }
                }
            }
        })
        return (output, tape)
    }

    /// The loop both passes share. Each worker takes chunks of channels; for every image the
    /// chunk's planes of `source` go to half spectra, `spectral` rewrites each plane's spectrum
    /// in place (given the spectrum, the plane's channel, the chunk and the flat plane index),
    /// and the inverse transform writes those planes of `destination`, times `outputScale`.
    private func filterPlanes(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>,
                              batch: Int, channels: Int, chunks: ChannelChunks, spectrumStride slots: Int,
                              outputScale: Float,
                              spectral: (UnsafeMutablePointer<Float>, Int, Int, Int) -> Void) {
        let planeSize = height * width
        let transforms = PlaneTransforms(height: height, width: width, chunkSizes: chunks.sizes,
                                         spectrumStride: slots, smallDFT: smallDFT)
        parallelFor(chunks.count) { range in
            let planeBuffer = AlignedBuffer(count: chunks.size * planeSize)
            let spectrum = AlignedBuffer(count: 2 * chunks.size * slots)
            let scratch = transforms.makeScratch()
            for chunk in range {
                let channelRange = chunks.range(chunk)
                let planes = channelRange.count
                for n in 0..<batch {
                    let firstPlane = n * channels + channelRange.lowerBound
                    transforms.forward(source + firstPlane * planeSize, planes: planes,
                                       planeBuffer: planeBuffer.pointer, spectrum: spectrum.pointer, scratch: scratch)
                    for p in 0..<planes {
                        spectral(spectrum.pointer + 2 * p * slots, channelRange.lowerBound + p, chunk, firstPlane + p)
                    }
                    let output = destination + firstPlane * planeSize
                    transforms.inverse(spectrum.pointer, planes: planes, to: output,
                                       planeBuffer: planeBuffer.pointer, scratch: scratch)
                    if outputScale != 1 {
                        for i in 0..<(planes * planeSize) { output[i] *= outputScale }
                    }
                }
            }
        }
    }

    /// Replaces one plane's half spectrum F by the Hermitian part of the masked spectrum,
    ///     H(Z)_k = (r/2) (a_k e^{i p_k phi} + a_-k e^{i p_-k phi}),   r = |F_k|, phi = angle(F_k),
    /// which is (Z_k + conj Z_-k) / 2 since F_-k = conj F_k; at self-conjugate frequencies only
    /// its real part exists.
    ///
    /// At the `realNegative` slots (see the type's documentation) the own angle is +pi and so is
    /// the mirror's, which enters as conj(e^{i p_-k pi}) = e^{-i p_-k pi}; they are redone one by
    /// one after the vectorised pass, from the coefficients read before it.
    @inline(__always)
    private func maskSpectrum(_ spectrum: UnsafeMutablePointer<Float>,
                              masks: RolledMasks, row: Int, layout: HalfSpectrumLayout,
                              realNegative: [Int32], tape: Tape?, tapeOffset: Int) {
        let slots = layout.slotsPerPlane
        let maskOffset = row * slots
        let aOwn = masks.amplitudeOwn.pointer + maskOffset, aMirror = masks.amplitudeMirror.pointer + maskOffset
        let pOwn = masks.phaseOwn.pointer + maskOffset, pMirror = masks.phaseMirror.pointer + maskOffset
        let imaginaryWeight = layout.imaginaryWeight.pointer
        let coefficients = realNegative.isEmpty ? [] : realNegative.map { (spectrum[2 * Int($0)], spectrum[2 * Int($0) + 1]) }
        defer {
            for (slot, (u, v)) in zip(realNegative.lazy.map { Int($0) }, coefficients) {
                let r = (u * u + v * v).squareRoot()
                let (a, am) = (aOwn[slot], aMirror[slot])
                let ownAngle = pOwn[slot] * Float.pi
                let mirrorAngle = -pMirror[slot] * Float.pi
                let (cosOwn, sinOwn) = (cos(ownAngle), sin(ownAngle))
                let (cosMirror, sinMirror) = (cos(mirrorAngle), sin(mirrorAngle))
                spectrum[2 * slot] = 0.5 * r * (a * cosOwn + am * cosMirror)
                spectrum[2 * slot + 1] = 0.5 * r * (a * sinOwn + am * sinMirror)
                if let tape {
                    let t = tapeOffset + slot
                    (tape.u.pointer[t], tape.v.pointer[t], tape.r.pointer[t], tape.phi.pointer[t]) = (u, v, r, Float.pi)
                    (tape.cosOwn.pointer[t], tape.sinOwn.pointer[t]) = (cosOwn, sinOwn)
                    (tape.cosMirror.pointer[t], tape.sinMirror.pointer[t]) = (cosMirror, sinMirror)
                }
            }
        }
        for j in stride(from: 0, to: slots, by: FloatVector.scalarCount) {
            let (u, v) = loadComplex(spectrum + 2 * j)
            let r = (u * u + v * v).squareRoot()
            let phi = FastMath.atan2(v, u)
            let own = FastMath.sincos(FloatVector(load: pOwn + j) * phi)
            let mirror = FastMath.sincos(FloatVector(load: pMirror + j) * phi)
            let a = FloatVector(load: aOwn + j)
            let am = FloatVector(load: aMirror + j)
            let halfR = 0.5 * r
            storeComplex(halfR * (a * own.cos + am * mirror.cos),
                         halfR * (a * own.sin + am * mirror.sin) * FloatVector(load: imaginaryWeight + j),
                         to: spectrum + 2 * j)
            if let tape {
                let t = tapeOffset + j
                u.store(to: tape.u.pointer + t)
                v.store(to: tape.v.pointer + t)
                r.store(to: tape.r.pointer + t)
                phi.store(to: tape.phi.pointer + t)
                own.cos.store(to: tape.cosOwn.pointer + t)
                own.sin.store(to: tape.sinOwn.pointer + t)
                mirror.cos.store(to: tape.cosMirror.pointer + t)
                mirror.sin.store(to: tape.sinMirror.pointer + t)
            }
        }
    }

    // MARK: - Backward

    public func backward(_ gradOutput: Tensor, tape: PluginTape,
                         parameterGradients: inout [String: Tensor]) -> Tensor {
        guard let tape = tape as? Tape else { preconditionFailure("tape from another plug-in") }
        precondition(gradOutput.shape == tape.shape, "gradient shape \(gradOutput.shapeDescription) differs from the forward's \(tape.shape)")
        let (batch, channels) = (tape.shape[0], tape.shape[1])
        let layout = tape.layout
        let masks = tape.masks
        let planeSize = height * width
        let slots = layout.slotsPerPlane
        let chunks = ChannelChunks(channels: channels, size: Self.channelsPerChunk)
        // Mask-gradient accumulators in slot layout: one row per input channel for APM-M (each
        // chunk owns its rows), one row per chunk for APM-S (summed afterwards).
        let accumulatorRows = variant == .perChannel ? channels : chunks.count
        var gradAmplitudeOwn = [Float](repeating: 0, count: accumulatorRows * slots)
        var gradAmplitudeMirror = gradAmplitudeOwn, gradPhaseOwn = gradAmplitudeOwn, gradPhaseMirror = gradAmplitudeOwn
        var gradInput = [Float](unsafeUninitializedCapacity: gradOutput.count) { _, initialized in initialized = gradOutput.count }
        let spectrumScale = 1 / Float(planeSize)

        gradOutput.withUnsafeBufferPointer { g in
        gradInput.withUnsafeMutableBufferPointer { gx in
        gradAmplitudeOwn.withUnsafeMutableBufferPointer { gaOwn in
        gradAmplitudeMirror.withUnsafeMutableBufferPointer { gaMirror in
        gradPhaseOwn.withUnsafeMutableBufferPointer { gpOwn in
        gradPhaseMirror.withUnsafeMutableBufferPointer { gpMirror in
            let accumulators = SlotAccumulators(amplitudeOwn: gaOwn.baseAddress!, amplitudeMirror: gaMirror.baseAddress!,
                                                phaseOwn: gpOwn.baseAddress!, phaseMirror: gpMirror.baseAddress!)
            filterPlanes(g.baseAddress!, into: gx.baseAddress!, batch: batch, channels: channels, chunks: chunks,
                         spectrumStride: slots, outputScale: 1) { spectrum, channel, chunk, plane in
                backwardSpectrum(spectrum, scale: spectrumScale, masks: masks,
                                 maskRow: variant == .perChannel ? channel : 0,
                                 accumulators: accumulators,
                                 accumulatorRow: variant == .perChannel ? channel : chunk,
                                 layout: layout, tape: tape, tapeOffset: plane * slots,
                                 realNegative: tape.realNegative.pointer[plane])
            }
        }}}}}}

        let (gradAmplitude, gradPhase) = maskGradients(
            layout: layout, rows: accumulatorRows, channels: channels, masks: masks,
            amplitudeOwn: gradAmplitudeOwn, amplitudeMirror: gradAmplitudeMirror,
            phaseOwn: gradPhaseOwn, phaseMirror: gradPhaseMirror)
        parameterGradients.accumulate("mask_amplitude", gradAmplitude)
        parameterGradients.accumulate("mask_phase", gradPhase)
        return Tensor(shape: gradOutput.shape, scalars: gradInput)
    }

    struct SlotAccumulators {
        let amplitudeOwn, amplitudeMirror, phaseOwn, phaseMirror: UnsafeMutablePointer<Float>
    }

    /// One plane of the backward. In: the unnormalised FFT G of the output gradient (half
    /// spectrum). With gW = G / (HW) the gradient at the masked spectrum and theta = p phi:
    ///     t = gW e^{-i theta},  dL/dr_mag = Re t,  dL/dtheta = a r Im t
    /// (r_mag = a r the masked magnitude); for the mirror gW_-k = conj(gW_k)/... and phi_-k = -phi.
    /// The masks collect dL/da = Re t * r and dL/dp = a r Im t * phi; the spectrum gets
    ///     dL/d|F| = a Re t,  dL/dangle(F) = p a r Im t,
    /// then dL/dF = dL/d|F| (u, v)/r + dL/dangle (-v, u)/r^2 (zero at r = 0, as torch's abs and
    /// angle give). Out, in place: the Hermitian part of dL/dF, whose real inverse transform is
    /// the input gradient.
    ///
    /// At the `realNegative` slots the mirror's angle is +pi, not -phi = -pi: its phase mask
    /// collects dL/dtheta_-k * (+pi), so those slots get 2 pi dL/dtheta_-k on top of the pass's
    /// -pi dL/dtheta_-k (added first, while the gradient spectrum is still there). The input
    /// gradient needs nothing more: angle's derivative, (-v, u) / r^2, is the same on both
    /// sides of its branch cut, and the forward already left the masked phases on the tape.
    @inline(__always)
    private func backwardSpectrum(_ spectrum: UnsafeMutablePointer<Float>,
                                  scale: Float, masks: RolledMasks, maskRow: Int,
                                  accumulators: SlotAccumulators, accumulatorRow: Int,
                                  layout: HalfSpectrumLayout, tape: Tape, tapeOffset: Int,
                                  realNegative: [Int32]) {
        let slots = layout.slotsPerPlane
        let m = maskRow * slots
        let acc = accumulatorRow * slots
        for slot in realNegative.lazy.map({ Int($0) }) {
            let t = tapeOffset + slot
            let gRe = spectrum[2 * slot] * scale, gIm = spectrum[2 * slot + 1] * scale
            let tImMirror = gRe * tape.sinMirror.pointer[t] - gIm * tape.cosMirror.pointer[t]
            let gradThetaMirror = masks.amplitudeMirror.pointer[m + slot] * tape.r.pointer[t] * tImMirror
            accumulators.phaseMirror[acc + slot] += layout.mirrorWeight.pointer[slot] * gradThetaMirror * (2 * Float.pi)
        }
        for j in stride(from: 0, to: slots, by: FloatVector.scalarCount) {
            let t = tapeOffset + j
            let (gradRe, gradIm) = loadComplex(spectrum + 2 * j)
            let gRe = gradRe * scale
            let gIm = gradIm * scale
            let u = FloatVector(load: tape.u.pointer + t)
            let v = FloatVector(load: tape.v.pointer + t)
            let r = FloatVector(load: tape.r.pointer + t)
            let phi = FloatVector(load: tape.phi.pointer + t)
            let cOwn = FloatVector(load: tape.cosOwn.pointer + t)
            let sOwn = FloatVector(load: tape.sinOwn.pointer + t)
            let cMirror = FloatVector(load: tape.cosMirror.pointer + t)
            let sMirror = FloatVector(load: tape.sinMirror.pointer + t)
            let a = FloatVector(load: masks.amplitudeOwn.pointer + m + j)
            let am = FloatVector(load: masks.amplitudeMirror.pointer + m + j)
            let p = FloatVector(load: masks.phaseOwn.pointer + m + j)
            let pm = FloatVector(load: masks.phaseMirror.pointer + m + j)
            let mirrorWeight = FloatVector(load: layout.mirrorWeight.pointer + j)

            // Own frequency: t = (gRe + i gIm)(cos - i sin).
            let tReOwn = gRe * cOwn + gIm * sOwn
            let tImOwn = gIm * cOwn - gRe * sOwn
            // Mirror: gW_-k = conj(gW_k), e^{-i theta_-k} = e^{i p_-k phi}.
            let tReMirror = gRe * cMirror + gIm * sMirror
            let tImMirror = gRe * sMirror - gIm * cMirror

            let gradThetaOwn = a * r * tImOwn
            let gradThetaMirror = am * r * tImMirror
            let gaOwn = accumulators.amplitudeOwn + acc + j, gpOwn = accumulators.phaseOwn + acc + j
            let gaMirror = accumulators.amplitudeMirror + acc + j, gpMirror = accumulators.phaseMirror + acc + j
            (FloatVector(load: gaOwn) + tReOwn * r).store(to: gaOwn)
            (FloatVector(load: gpOwn) + gradThetaOwn * phi).store(to: gpOwn)
            // The mirror's phase is -phi.
            (FloatVector(load: gaMirror) + mirrorWeight * tReMirror * r).store(to: gaMirror)
            (FloatVector(load: gpMirror) - mirrorWeight * gradThetaMirror * phi).store(to: gpMirror)

            let magnitudeSum = a * tReOwn + am * tReMirror
            let angleDifference = p * gradThetaOwn - pm * gradThetaMirror
            let inverseR = (1 / r).replacing(with: 0, where: r .<= 0)
            let inverseR2 = inverseR * inverseR
            let outRe = 0.5 * (magnitudeSum * u * inverseR - angleDifference * v * inverseR2)
            let outIm = 0.5 * (magnitudeSum * v * inverseR + angleDifference * u * inverseR2)
            storeComplex(outRe, outIm * FloatVector(load: layout.imaginaryWeight.pointer + j), to: spectrum + 2 * j)
        }
    }

    /// Folds the slot-layout accumulators back onto the masks' own coordinates (undoing the
    /// roll) and applies sigmoid'.
    private func maskGradients(layout: HalfSpectrumLayout, rows: Int, channels: Int, masks: RolledMasks,
                               amplitudeOwn: [Float], amplitudeMirror: [Float],
                               phaseOwn: [Float], phaseMirror: [Float]) -> (Tensor, Tensor) {
        let slots = layout.slotsPerPlane
        var gradAmplitude = [Float](repeating: 0, count: maskAmplitude.count)
        var gradPhase = gradAmplitude
        let planeSize = height * width
        // APM-M: each row folds into its own mask channel, so rows go to workers freely;
        // APM-S: every row folds into the one mask plane, in order.
        gradAmplitude.withUnsafeMutableBufferPointer { gradAmplitudeBuffer in
        gradPhase.withUnsafeMutableBufferPointer { gradPhaseBuffer in
            let (ga, gp) = (gradAmplitudeBuffer.baseAddress!, gradPhaseBuffer.baseAddress!)
            let fold = { (rowRange: Range<Int>) in
                for row in rowRange {
                    let maskPlane = self.variant == .perChannel ? (row + self.maskChannels / 2) % self.maskChannels * planeSize : 0
                    for slot in 0..<layout.occupiedSlots {
                        let own = maskPlane + layout.maskPositionOwn[slot]
                        let mirror = maskPlane + layout.maskPositionMirror[slot]
                        ga[own] += amplitudeOwn[row * slots + slot]
                        gp[own] += phaseOwn[row * slots + slot]
                        ga[mirror] += amplitudeMirror[row * slots + slot]
                        gp[mirror] += phaseMirror[row * slots + slot]
                    }
                }
            }
            if variant == .perChannel {
                parallelFor(rows, minimumChunk: 64, fold)
            } else {
                fold(0..<rows)
            }
        }}
        for i in 0..<gradAmplitude.count {
            let sa = masks.sigmoidAmplitude[i]
            let sp = masks.sigmoidPhase[i]
            gradAmplitude[i] *= sa * (1 - sa)
            gradPhase[i] *= sp * (1 - sp)
        }
        return (Tensor(shape: maskAmplitude.shape, scalars: gradAmplitude),
                Tensor(shape: maskPhase.shape, scalars: gradPhase))
    }
}

extension AmplitudePhaseMasker {
    /// The half-spectrum slots of the plane at `base` whose coefficient is exactly real and
    /// negative at a frequency that is not self-conjugate, where torch's angle is +pi at the
    /// slot and at its mirror (`ExactlyRealTerms`). Non-zero values at (0, 1) and (1, 0) rule
    /// such terms out away from the self-conjugate frequencies, so dense planes return at once
    /// (an empty array allocates nothing); other planes cost about H W / 2 steps.
    static func realNegativeSlots(_ base: UnsafePointer<Float>, layout: HalfSpectrumLayout) -> [Int32] {
        let (height, width) = (layout.height, layout.width)
        if (width == 1 || base[1] != 0) && (height == 1 || base[width] != 0) { return [] }
        var nonZero: [Int] = []
        ExactlyRealTerms.nonZeroPositions(base, count: height * width, into: &nonZero)
        var slots: [Int32] = []
        for k1 in 0..<height {
            for k2 in 0..<layout.halfWidth {
                let slot = k1 * layout.halfWidth + k2
                // Self-conjugate frequencies keep only the real part, the same for +pi and -pi.
                if layout.imaginaryWeight.pointer[slot] == 0 { continue }
                if let value = ExactlyRealTerms.realValue(k1: k1, k2: k2, base, height: height, width: width, nonZero: nonZero),
                   value < 0 {
                    slots.append(Int32(slot))
                }
            }
        }
        return slots
    }
}

/// One list of slots per plane, written by the worker that owns the plane (disjoint
/// elements, so no lock) and read by the backward.
final class PlaneSlotLists: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<[Int32]>
    let count: Int

    init(planes: Int) {
        count = planes
        pointer = .allocate(capacity: max(planes, 1))
        pointer.initialize(repeating: [], count: planes)
    }

    deinit {
        pointer.deinitialize(count: count)
        pointer.deallocate()
    }
}

/// The forward and inverse plane transforms of one masker call: the direct eight-plane DFT
/// for small planes, FFTW's batched real transforms (one plan pair per chunk size) otherwise.
/// Both write the same half-spectrum layout and leave its padding slots untouched.
struct PlaneTransforms {
    let smallDFT: SmallPlaneDFT?
    let plans: [(planes: Int, forward: OpaquePointer, inverse: OpaquePointer)]
    let planeSize: Int
    let spectrumStride: Int

    init(height: Int, width: Int, chunkSizes: [Int], spectrumStride: Int, smallDFT: SmallPlaneDFT?) {
        self.smallDFT = smallDFT
        self.spectrumStride = spectrumStride
        planeSize = height * width
        plans = smallDFT != nil ? [] : chunkSizes.map { planes in
            (planes, FFTPlans.shared.realToHalf(height: height, width: width, planes: planes, spectrumStride: spectrumStride),
             FFTPlans.shared.halfToReal(height: height, width: width, planes: planes, spectrumStride: spectrumStride))
        }
    }

    /// Working memory for one worker thread (nil for FFTW, which brings its own).
    func makeScratch() -> SmallPlaneDFT.Scratch? { smallDFT?.makeScratch() }

    /// Half spectra of `planes` contiguous planes at `input`. FFTW reads an aligned copy
    /// (made in `planeBuffer`), the direct DFT the input itself.
    @inline(__always)
    func forward(_ input: UnsafePointer<Float>, planes: Int, planeBuffer: UnsafeMutablePointer<Float>,
                 spectrum: UnsafeMutablePointer<Float>, scratch: SmallPlaneDFT.Scratch?) {
        if let smallDFT, let scratch {
            smallDFT.forward(input, to: spectrum, planes: planes, spectrumStride: spectrumStride, scratch: scratch)
            return
        }
        let plan = plans.first { $0.planes == planes }!.forward
        planeBuffer.update(from: input, count: planes * planeSize)
        spectrum.withMemoryRebound(to: fftwf_complex.self, capacity: planes * spectrumStride) {
            fftwf_execute_dft_r2c(plan, planeBuffer, $0)
        }
    }

    /// Real planes (unnormalised) from half spectra, written to `output`. FFTW writes the
    /// aligned `planeBuffer` (copied to `output` unless they are the same) and overwrites the
    /// spectra; the direct DFT writes `output` itself and only reads the spectra.
    @inline(__always)
    func inverse(_ spectrum: UnsafeMutablePointer<Float>, planes: Int, to output: UnsafeMutablePointer<Float>,
                 planeBuffer: UnsafeMutablePointer<Float>, scratch: SmallPlaneDFT.Scratch?) {
        if let smallDFT, let scratch {
            smallDFT.inverse(spectrum, to: output, planes: planes, spectrumStride: spectrumStride, scratch: scratch)
            return
        }
        let plan = plans.first { $0.planes == planes }!.inverse
        spectrum.withMemoryRebound(to: fftwf_complex.self, capacity: planes * spectrumStride) {
            fftwf_execute_dft_c2r(plan, $0, planeBuffer)
        }
        if output != planeBuffer { output.update(from: planeBuffer, count: planes * planeSize) }
    }
}

/// Channels split into chunks of at most `size`.
struct ChannelChunks {
    let channels: Int
    let size: Int

    init(channels: Int, size: Int) {
        self.channels = channels
        self.size = min(size, channels)
    }

    var count: Int { (channels + size - 1) / size }
    func range(_ chunk: Int) -> Range<Int> { (chunk * size)..<min(channels, (chunk + 1) * size) }
    /// The distinct chunk sizes (at most two), for planning.
    var sizes: [Int] { Array(Set((0..<count).map { range($0).count })) }
}

func checkShape(_ value: Tensor, of name: String, expected: [Int]) throws {
    guard value.shape == expected else {
        throw InputError("\(name) has shape \(value.shapeDescription), expected \(Tensor(zeros: expected).shapeDescription)")
    }
}

extension Dictionary where Key == String, Value == Tensor {
    /// Adds `gradient` into the entry `name`, creating it when absent.
    mutating func accumulate(_ name: String, _ gradient: Tensor) {
        if var existing = self[name] {
            existing.addScaled(gradient)
            self[name] = existing
        } else {
            self[name] = gradient
        }
    }
}

/// Eight interleaved complex numbers (re, im, re, im, ...) as a vector of real parts and a
/// vector of imaginary parts.
@inline(__always)
func loadComplex(_ pointer: UnsafeMutablePointer<Float>) -> (re: FloatVector, im: FloatVector) {
    let pairs = UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float>.self)
    return (pairs.evenHalf, pairs.oddHalf)
}

@inline(__always)
func storeComplex(_ re: FloatVector, _ im: FloatVector, to pointer: UnsafeMutablePointer<Float>) {
    var pairs = SIMD16<Float>()
    pairs.evenHalf = re
    pairs.oddHalf = im
    UnsafeMutableRawPointer(pointer).storeBytes(of: pairs, as: SIMD16<Float>.self)
}

extension SIMD8 where Scalar == Float {
    @inline(__always)
    init(load pointer: UnsafePointer<Float>) {
        self = UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    init(load pointer: UnsafeMutablePointer<Float>) {
        self.init(load: UnsafePointer(pointer))
    }

    @inline(__always)
    func store(to pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: self, as: SIMD8<Float>.self)
    }

}
