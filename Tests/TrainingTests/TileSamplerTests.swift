// Training tiles: the batches depend only on the seed and the step (a resumed run draws what it
// would have), every symmetry keeps input and target aligned, and augmentation uses them all.

import ConvCore
import Foundation
import Testing
@testable import Styles
@testable import Training

@Suite struct TileSamplerTests {
    /// A 60x50 RGB image whose samples encode their position, as its own target.
    static let pair: Pair = {
        let (w, h) = (60, 50)
        var samples: [UInt16] = []
        for p in 0..<(w * h) { samples += [UInt16(p % w * 1000), UInt16(p / w * 1000), 30000] }
        let image = PairImage(width: w, height: h, bands: 3, samples: samples)
        return Pair(name: "ramp", input: image, target: image, files: (URL(fileURLWithPath: "/ramp.png"), URL(fileURLWithPath: "/ramp.png")))
    }()

    static func sampler(seed: UInt64, augment: Bool = true) -> TileSampler {
        TileSampler(pairs: [pair], colour: ColourHandling(), augment: augment, seed: seed)
    }

    @Test func batchesDependOnlyOnSeedAndStep() {
        let a = Self.sampler(seed: 7).batch(step: 3, size: 16), again = Self.sampler(seed: 7).batch(step: 3, size: 16)
        #expect(a.inputs == again.inputs && a.targets == again.targets)
        #expect(Self.sampler(seed: 7).batch(step: 4, size: 16).inputs != a.inputs)
        #expect(Self.sampler(seed: 8).batch(step: 3, size: 16).inputs != a.inputs)
        #expect(a.inputs.shape == [16, 36, 36, 3] && a.targets.shape == [16, 16, 16, 3])
    }

    /// Each target is the centre of its input tile under whatever symmetry the tile got.
    @Test func symmetriesKeepInputAndTargetAligned() {
        let batch = Self.sampler(seed: 11).batch(step: 0, size: 64)
        for t in 0..<64 {
            for y in 0..<16 {
                for x in 0..<16 {
                    for c in 0..<3 {
                        let input = batch.inputs.scalars[((t * 36 + y + 10) * 36 + x + 10) * 3 + c]
                        let target = batch.targets.scalars[((t * 16 + y) * 16 + x) * 3 + c]
                        #expect(input == target, "tile \(t) (\(y), \(x), \(c))")
                        if input != target { return }
                    }
                }
            }
        }
    }

    /// Over many tiles all eight symmetries appear, read from which way the encoded column and
    /// row grow across the tile.
    @Test func augmentationUsesEverySymmetry() {
        func orientations(_ sampler: TileSampler) -> Set<[Float]> {
            let batch = sampler.batch(step: 1, size: 128)
            return Set((0..<128).map { t -> [Float] in
                func sample(_ y: Int, _ x: Int, _ c: Int) -> Float { batch.inputs.scalars[((t * 36 + y) * 36 + x) * 3 + c] }
                func sign(_ v: Float) -> Float { v > 0 ? 1 : v < 0 ? -1 : 0 }
                return [sign(sample(0, 1, 0) - sample(0, 0, 0)), sign(sample(1, 0, 0) - sample(0, 0, 0)),
                        sign(sample(0, 1, 1) - sample(0, 0, 1)), sign(sample(1, 0, 1) - sample(0, 0, 1))]
            })
        }
        #expect(orientations(Self.sampler(seed: 5)).count == 8)
        #expect(orientations(Self.sampler(seed: 5, augment: false)) == [[1, 0, 0, 1]])
    }

    @Test func validationTilesAreAFixedGrid() throws {
        let tiles = try #require(Self.sampler(seed: 1).validation(limit: 4))
        #expect(tiles.inputs == Self.sampler(seed: 99).validation(limit: 4)?.inputs)
        #expect(tiles.inputs.shape[0] == 2 && tiles.inputs.scalars[0] == 0)
    }
}
