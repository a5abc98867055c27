// The region fast path's analysis: the receptive-field radius it computes bounds what a single
// changed input pixel can change, and models whose cores would see a tile's edge or whose grids
// are not aligned to 16 pixels are refused.

import Foundation
import Testing
@testable import ConvCore

@Suite struct RegionPlanTests {
    static func cropModel(_ layers: String, channels: Int = 3, seed: UInt64 = 5) throws -> Model {
        try Model(spec: spec(#"{"input": {"name": "in", "shape": [36, 36, \#(channels)]}, "layers": [\#(layers), {"name": "out", "type": "Cropping2D", "cropping": 10}]}"#), seed: seed)
    }

    @Test func radiusOfTwoConvolutionsIsTwo() throws {
        let model = try Self.cropModel(#"{"name": "a", "type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same"}, {"name": "b", "type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "same"}"#)
        #expect(try RegionPlan(model).radius == 2)
    }

    /// A transposed convolution with a kernel narrower than its stride leaves some outputs
    /// reading no input: the analysis handles them (radius from the others) instead of trapping.
    @Test func outputsThatReadNoInputAreAllowed() throws {
        let model = try Self.cropModel(#"{"name": "down", "type": "Conv2D", "filters": 4, "kernel_size": 2, "strides": 2, "padding": "same"}, {"name": "up", "type": "Conv2DTranspose", "filters": 3, "kernel_size": 1, "strides": 2, "padding": "same"}"#)
        #expect(try RegionPlan(model).radius == 1)
    }

    /// One changed pixel in the middle of a 148x148 region changes no output further than the radius.
    /// Winograd's transforms spread float rounding over a whole output block, so a change counts
    /// when it is above rounding (the impulse's own changes are about 1e-2).
    @Test func anImpulseChangesOutputsOnlyWithinTheRadius() throws {
        let model = try Model(spec: ModelSpec(contentsOf: fixtures.appendingPathComponent("region_unet.json")), seed: 11)
        let plan = try RegionPlan(model)
        #expect(plan.radius > 2 && plan.radius <= 10)
        let size = 16 * 8 + 20, centre = 70
        var x = tensor([1, size, size, 3], seed: 12)
        let before = try plan.predict(x, pool: .shared(threads: 2))
        x.scalars[(centre * size + centre) * 3 + 1] += 0.9
        let after = try plan.predict(x, pool: .shared(threads: 2))
        #expect(before.shape == [1, 128, 128, 3])
        var changed = 0, farthest = 0
        for y in 0..<128 {
            for xx in 0..<128 {
                for c in 0..<3 where abs(before.scalars[(y * 128 + xx) * 3 + c] - after.scalars[(y * 128 + xx) * 3 + c]) > 1e-5 {
                    changed += 1
                    farthest = max(farthest, abs(y + 10 - centre), abs(xx + 10 - centre))
                }
            }
        }
        #expect(changed > 0 && farthest <= plan.radius, "changed \(changed), farthest \(farthest), radius \(plan.radius)")
    }

    @Test func modelsThatWouldNotBeExactAreRefused() throws {
        let wide = try Self.cropModel(#"{"name": "a", "type": "Conv2D", "filters": 4, "kernel_size": 9, "padding": "same"}, {"name": "b", "type": "Conv2D", "filters": 4, "kernel_size": 9, "padding": "same"}, {"name": "c", "type": "Conv2D", "filters": 3, "kernel_size": 9, "padding": "same"}"#)
        #expect(errorMessage { _ = try RegionPlan(wide) }.contains("receptive field is wider than the margin"))
        let misaligned = try Model(spec: spec(#"{"input": {"name": "in", "shape": [36, 36, 3]}, "layers": [{"name": "a", "type": "Conv2D", "filters": 4, "kernel_size": 3, "strides": 3, "padding": "same"}, {"name": "up", "type": "UpSampling2D", "size": 3}, {"name": "out", "type": "Cropping2D", "cropping": 10}]}"#), seed: 1)
        #expect(errorMessage { _ = try RegionPlan(misaligned) }.contains("not aligned"))
        let global = try Model(spec: spec(#"{"input": {"name": "in", "shape": [36, 36, 3]}, "layers": [{"name": "g", "type": "GlobalAveragePooling2D"}, {"name": "d", "type": "Dense", "units": 768}, {"name": "r", "type": "Reshape", "target_shape": [16, 16, 3]}]}"#), seed: 1)
        #expect(errorMessage { _ = try RegionPlan(global) }.contains("mixes positions"))
    }

    /// A new spatial layer that states no rules (a 3x3 box blur) is never taken as exact: the
    /// region path refuses it, and tile windows compute it whole, so the plan still gives the
    /// model's numbers.
    @Test func aLayerWithoutRulesIsRefusedAndComputedWhole() throws {
        let types = layerTypes.merging([BoxBlur.typeName: BoxBlur.self]) { a, _ in a }
        let model = try Model(spec: spec(#"{"input": {"name": "in", "shape": [36, 36, 3]}, "layers": [{"name": "a", "type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"}, {"name": "blur", "type": "BoxBlur"}, {"name": "b", "type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "same"}, {"name": "out", "type": "Cropping2D", "cropping": 10}]}"#),
                              seed: 3, types: types)
        #expect(errorMessage { _ = try RegionPlan(model) }.contains("'blur' (BoxBlur) mixes positions"))
        let windows = try #require(TileWindows.analyse(model.graph))
        let blur = model.graph.nodes.firstIndex { $0.name == "blur" }!
        #expect(windows[blur]?.output == TileWindow(rows: 0..<36, cols: 0..<36))
        let x = tensor([3, 36, 36, 3], seed: 4)
        let planned = try InferencePlan(model).predict(x, pool: .shared(threads: 2))
        #expect(worstError(planned, try model.predict(x)) < 1e-5)
    }
}

/// Each output pixel the mean of its 3x3 neighbourhood (edges clamped), with none of the position
/// rules a layer can state.
private struct BoxBlur: Layer {
    static let typeName = "BoxBlur"
    let name: String
    init(name: String, arguments: inout LayerArguments) throws { self.name = name }
    func outputShape(_ inputs: [Dims]) throws -> Dims { try single(inputs) }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        let x = inputs[0], (n, h, w, c) = x.nhwc
        var y = Tensor(zeros: x.shape)
        for b in 0..<n {
            for i in 0..<h {
                for j in 0..<w {
                    for ch in 0..<c {
                        var sum: Float = 0
                        for dy in -1...1 {
                            for dx in -1...1 {
                                sum += x.scalars[((b * h + min(max(i + dy, 0), h - 1)) * w + min(max(j + dx, 0), w - 1)) * c + ch]
                            }
                        }
                        y.scalars[((b * h + i) * w + j) * c + ch] = sum / 9
                    }
                }
            }
        }
        return y
    }

    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        LayerGradients(inputs: [gradient], parameters: [])
    }
}
