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

    /// Through the streamed renderer: a qualifying style takes the region path by default and
    /// writes what the tile path writes; a style whose receptive field is wider than the margin
    /// is tiled.
    @Test func stylizerTakesTheRegionPathOnlyWhereExact() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let modelFile = folder.appendingPathComponent("region_unet.safetensors")
        try Model(spec: ModelSpec(contentsOf: Self.regionUNet), seed: 21).save(to: modelFile)
        let input = folder.appendingPathComponent("in.png")
        var g = SeededGenerator(seed: 24)
        try ImageFile.save(Tensor(shape: [1, 200, 300, 3], scalars: (0..<(200 * 300 * 3)).map { _ in g.nextUnitFloat() }), bitDepth: 16, to: input)
        let fast = Stylizer(style: try Style.load(modelFile), threads: 2)
        var slow = fast
        slow.allowsRegionPath = false
        #expect(fast.takesRegionPath && !slow.takesRegionPath)
        try fast.stylize(input, to: folder.appendingPathComponent("region.png"))
        try slow.stylize(input, to: folder.appendingPathComponent("tiles.png"))
        let region = try ImageFile.load(folder.appendingPathComponent("region.png")).pixels
        let tiles = try ImageFile.load(folder.appendingPathComponent("tiles.png")).pixels
        #expect(region.shape == [1, 200, 300, 3] && region.shape == tiles.shape)
        let worst = zip(region.scalars, tiles.scalars).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        #expect(worst <= 1e-4 + 1.0 / 65535, "largest difference \(worst)")

        let wideFile = folder.appendingPathComponent("wide.safetensors")
        let wide = try ModelSpec(json: #"{"input": {"name": "in", "shape": [36, 36, 3]}, "layers": [{"name": "a", "type": "Conv2D", "filters": 4, "kernel_size": 9, "padding": "same"}, {"name": "b", "type": "Conv2D", "filters": 4, "kernel_size": 9, "padding": "same"}, {"name": "c", "type": "Conv2D", "filters": 3, "kernel_size": 9, "padding": "same", "activation": "sigmoid"}, {"name": "out", "type": "Cropping2D", "cropping": 10}]}"#)
        try Model(spec: wide, seed: 2).save(to: wideFile)
        let wideStyle = try Style.load(wideFile)
        #expect(wideStyle.region == nil && !Stylizer(style: wideStyle).takesRegionPath)
        try Stylizer(style: wideStyle).stylize(input, to: folder.appendingPathComponent("wide.png"))
        #expect(try ImageFile.load(folder.appendingPathComponent("wide.png")).pixels.shape == [1, 200, 300, 3])
    }
}
