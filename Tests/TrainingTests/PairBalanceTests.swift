// How pairs share the tiles: by area by default; with `baseline`, in inverse proportion to the
// baseline's error on each pair (floored), the draws following those weights.

import ConvCore
import Foundation
import Testing
@testable import Styles
@testable import Training

@Suite struct PairBalanceTests {
    /// A 40x40 grey-to-colour pair: input flat at `grey`, target `grey` with its red moved by `tint`.
    static func pair(_ name: String, grey: Double, tint: Double) -> Pair {
        let n = 40 * 40
        let input = PairImage(width: 40, height: 40, bands: 1, samples: [UInt16](repeating: UInt16(grey * 65535), count: n))
        let rgb = [grey + tint, grey, grey].map { UInt16(($0 * 65535).rounded()) }
        let target = PairImage(width: 40, height: 40, bands: 3, samples: (0..<n).flatMap { _ in rgb })
        let file = URL(fileURLWithPath: "/\(name).png")
        return Pair(name: name, input: input, target: target, files: (file, file))
    }

    static let colourful = pair("colourful", grey: 0.2, tint: 0.3), nearlyGrey = pair("grey", grey: 0.8, tint: 0.01)

    @Test func weightsAreInverseToTheBaselineErrorAndFloored() throws {
        // 16-bit samples: within 1e-3 of the exact error.
        let error = PairBalance.baselineError(Self.colourful, .grey)
        #expect(abs(error / (0.3 * 0.3 / 3) - 1) < 1e-3)
        #expect(PairBalance.pixels.weights(of: [Self.colourful, Self.nearlyGrey], baseline: .grey) == nil)
        let w = try #require(PairBalance.baseline.weights(of: [Self.colourful, Self.nearlyGrey], baseline: .grey))
        // The grey pair's error (3.3e-5) is below the floor, so it weighs as a floor-error pair.
        #expect(abs(w[1] / w[0] - error / PairBalance.errorFloor) < 1e-9)
        #expect(abs((w[0] + w[1]) / 2 - 1) < 1e-9)
    }

    @Test func drawsFollowTheWeights() throws {
        let pairs = [Self.colourful, Self.nearlyGrey]
        let weights = try #require(PairBalance.baseline.weights(of: pairs, baseline: .grey))
        let sampler = TileSampler(pairs: pairs, colour: ColourHandling(input: .luminance, output: .cbcr), augment: true, seed: 3, weights: weights)
        let batch = sampler.batch(step: 0, size: 2000)
        let fromGrey = (0..<2000).filter { batch.imageInputs.scalars[$0 * 36 * 36] > 0.5 }.count
        let expected = 2000 * weights[1] / (weights[0] + weights[1])
        #expect(abs(Double(fromGrey) - expected) < 0.1 * expected, "\(fromGrey) of 2000 from the grey pair, \(expected) expected")
        let unbalanced = TileSampler(pairs: pairs, colour: ColourHandling(input: .luminance, output: .cbcr), augment: true, seed: 3).batch(step: 0, size: 2000)
        let even = (0..<2000).filter { unbalanced.imageInputs.scalars[$0 * 36 * 36] > 0.5 }.count
        #expect(abs(even - 1000) < 100)
    }

    @Test func validationTilesCarryTheirPairsWeights() throws {
        let pairs = [Self.colourful, Self.nearlyGrey]
        let weights = try #require(PairBalance.baseline.weights(of: pairs, baseline: .grey))
        let colour = ColourHandling(input: .luminance, output: .cbcr)
        let tiles = try #require(TileSampler(pairs: pairs, colour: colour, augment: false, seed: 0, weights: weights).validation(limit: 8))
        // One window fits each 40x40 pair.
        #expect(tiles.weights == weights.map(Float.init))
        #expect(TileSampler(pairs: pairs, colour: colour, augment: false, seed: 0).validation(limit: 8)?.weights == nil)
    }
}
