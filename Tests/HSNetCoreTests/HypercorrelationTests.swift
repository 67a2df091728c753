import HSNetCore
import ReferenceParity
import TensorCore
import XCTest

/// Cosine correlations against a direct double-precision evaluation of the definition.
final class HypercorrelationTests: XCTestCase {
    func random(_ shape: [Int], _ generator: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in generator.uniform(-1, 1) })
    }

    /// max(0, <q / (|q| + eps), s / (|s| + eps)>) for batch b, query position i, support
    /// position j: exactly, and as a literal float32 evaluation of the formula.
    func expected(_ q: Tensor, _ s: Tensor, b: Int, i: Int, j: Int) -> (exact: Double, literal: Float) {
        let channels = q.shape[1]
        let (na, nb) = (q.shape[2] * q.shape[3], s.shape[2] * s.shape[3])
        var dot = LiteralSum(), qq = LiteralSum(), ss = LiteralSum()
        for c in 0..<channels {
            let qv = q.scalars[(b * channels + c) * na + i], sv = s.scalars[(b * channels + c) * nb + j]
            dot.add(qv, sv); qq.add(qv, qv); ss.add(sv, sv)
        }
        let exact = max(0, dot.exact / ((qq.exact.squareRoot() + 1e-5) * (ss.exact.squareRoot() + 1e-5)))
        let literal = max(0, dot.float32 / ((qq.float32.squareRoot() + 1e-5) * (ss.float32.squareRoot() + 1e-5)))
        return (exact, literal)
    }

    func check(query: [Tensor], support: [Tensor], file: StaticString = #filePath, line: UInt = #line) {
        let pyramid = Hypercorrelation.pyramid(query: query, support: support)
        let (batch, ha, wa) = (query[0].shape[0], query[0].shape[2], query[0].shape[3])
        let (hb, wb) = (support[0].shape[2], support[0].shape[3])
        XCTAssertEqual(pyramid.shape, [batch, query.count, ha, wa, hb, wb], file: file, line: line)
        var parity = SampledParity("correlation")
        for b in 0..<batch {
            for t in 0..<query.count {
                for i in 0..<(ha * wa) {
                    for j in 0..<(hb * wb) {
                        let reference = expected(query[t], support[t], b: b, i: i, j: j)
                        parity.record(ours: pyramid.scalars[((b * query.count + t) * ha * wa + i) * hb * wb + j],
                                      exact: reference.exact, literal: reference.literal)
                    }
                }
            }
        }
        print("Hypercorrelation \(parity.check)")
        XCTAssertTrue(parity.check.passed, "\(parity.check)", file: file, line: line)
    }

    func testDenseCorrelationMatchesDefinition() {
        var generator = SeededGenerator(seed: 1)
        let query = [random([2, 16, 3, 4], &generator), random([2, 16, 3, 4], &generator)]
        let support = [random([2, 16, 5, 2], &generator), random([2, 16, 5, 2], &generator)]
        check(query: query, support: support)
    }

    func testMaskedSupportPositionsCorrelateToZero() {
        var generator = SeededGenerator(seed: 2)
        let query = [random([1, 24, 4, 4], &generator)]
        var support = random([1, 24, 3, 5], &generator)
        // Zero the feature vectors of positions 0, 3 and 7..14 of the 15, as a mask would.
        let zeroed = [0, 3] + Array(7..<15)
        for c in 0..<24 { for j in zeroed { support.scalars[c * 15 + j] = 0 } }
        check(query: query, support: [support])
        let pyramid = Hypercorrelation.pyramid(query: query, support: [support])
        for i in 0..<16 { for j in zeroed { XCTAssertEqual(pyramid.scalars[i * 15 + j], 0) } }
        // A fully masked support gives an all-zero pyramid.
        let empty = Hypercorrelation.pyramid(query: query, support: [Tensor(zeros: [1, 24, 3, 5])])
        XCTAssertEqual(empty.scalars.max(), 0)
    }

    func testPyramidsGroupTheTapsByLayerDeepestFirst() {
        var generator = SeededGenerator(seed: 3)
        let layers = ResNetDepth.resnet50.tapLayers
        let query = layers.map { random([1, 4 * $0, 6 - $0, 6 - $0], &generator) }
        let support = layers.map { random([1, 4 * $0, 7 - $0, 5 - $0], &generator) }
        let pyramids = Hypercorrelation.pyramids(query: query, support: support, tapLayers: layers)
        XCTAssertEqual(pyramids.map(\.shape), [[1, 3, 2, 2, 3, 1], [1, 6, 3, 3, 4, 2], [1, 4, 4, 4, 5, 3]])
        // The second tap of the layer-3 pyramid is tap 5 of the backbone.
        let alone = Hypercorrelation.pyramid(query: [query[5]], support: [support[5]])
        XCTAssertEqual(Array(pyramids[1].scalars[72..<144]), alone.scalars)
    }
}

/// The correlation's backward against torch's autograd on HSNet's correlation code.
final class HypercorrelationBackwardTests: XCTestCase {
    func testGradientsMatchAutograd() throws {
        let fixture = try ReferenceFixture(HSNetFixtures.url("hsnet/correlation_backward.safetensors"))
        let query = [try fixture.tensor("q0"), try fixture.tensor("q1")]
        let support = [try fixture.tensor("s0"), try fixture.tensor("s1")]
        let queryOperands = query.map { Hypercorrelation.Operand($0, droppingZeroPositions: false) }
        let supportOperands = support.map { Hypercorrelation.Operand($0, droppingZeroPositions: true) }
        XCTAssertEqual(supportOperands.map(\.kept.count), [6, 6], "4 of the 10 support positions are masked")
        let pyramid = Hypercorrelation.pyramid(query: queryOperands, support: supportOperands)
        let gradients = Hypercorrelation.backward(try fixture.tensor("w"), pyramid: pyramid,
                                                  query: queryOperands, support: supportOperands)
        var checks = [try fixture.output("corr").check(pyramid)]
        for t in 0..<2 {
            checks.append(try fixture.output("grad_q\(t)").check(gradients.query[t]))
            checks.append(try fixture.output("grad_s\(t)").check(gradients.support[t]))
        }
        for check in checks {
            print("correlation backward \(check)")
            XCTAssertTrue(check.passed, "\(check)")
        }
    }
}
