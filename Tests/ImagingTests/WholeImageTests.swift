// The region fast path against the tiled reference on a whole image: a qualifying model gives the
// same output within 1e-4 (and is refused nothing), including the ragged right and bottom edges.

import ConvCore
import Foundation
import Imaging
import Styles
import Testing

@Suite struct WholeImageTests {
    static let regionUNet = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ConvCoreTests/Fixtures/region_unet.json")

    @Test(arguments: [1, 2])
    func regionPathMatchesTilesOn300x200(threads: Int) throws {
        let model = try Model(spec: ModelSpec(contentsOf: Self.regionUNet), seed: 21)
        var g = SeededGenerator(seed: 22)
        let image = Tensor(shape: [1, 200, 300, 3], scalars: (0..<(200 * 300 * 3)).map { _ in g.nextUnitFloat() })
        let pool = WorkerPool.shared(threads: threads)
        let tiled = try WholeImage.tiled(image, plan: InferencePlan(model), pool: pool)
        let region = try WholeImage.region(image, plan: RegionPlan(model), pool: pool)
        #expect(tiled.shape == [1, 200, 300, 3] && region.shape == tiled.shape)
        let worst = zip(tiled.scalars, region.scalars).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        #expect(worst <= 1e-4, "largest difference \(worst)")
    }

    /// The identity model through the tiled path gives the image back: tiles and cores land where
    /// they belong.
    @Test func tiledIdentityGivesTheImageBack() throws {
        let identity = try Style.load(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Models/identity.safetensors"))
        var g = SeededGenerator(seed: 23)
        let image = Tensor(shape: [1, 37, 50, 3], scalars: (0..<(37 * 50 * 3)).map { _ in g.nextUnitFloat() })
        let out = try WholeImage.tiled(image, plan: identity.plan, pool: .shared(threads: 2), batch: 3)
        #expect(out == image)
    }
}
