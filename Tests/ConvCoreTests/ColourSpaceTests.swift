// Colour layers: round trips over a dense grid of colours, and the formulas of DESIGN.md §7.

import Foundation
import Testing
@testable import ConvCore

@Suite struct ColourSpaceTests {
    /// Every (r, g, b) on a 33-step grid of [0, 1]: 35,937 colours.
    static let grid: Tensor = {
        var s: [Float] = []
        for r in 0...32 { for g in 0...32 { for b in 0...32 { s += [Float(r) / 32, Float(g) / 32, Float(b) / 32] } } }
        return Tensor(shape: [1, 33 * 33, 33, 3], scalars: s)
    }()

    func chain(_ types: [String]) throws -> Model {
        let layers = types.enumerated().map { #"{"name": "l\#($0.offset)", "type": "\#($0.element)"}"# }
        return try Model(spec: try spec(#"{"input": {"name": "in", "shape": [null, null, 3]}, "layers": [\#(layers.joined(separator: ","))]}"#))
    }

    @Test(arguments: [["RGBToHSV", "HSVToRGB"], ["RGBToYCbCr", "YCbCrToRGB"]])
    func roundTrip(_ types: [String]) throws {
        let back = try chain(types).predict(Self.grid)
        #expect(back.maxAbsDifference(Self.grid) <= 1e-5)
    }

    @Test func yCbCrMatchesTheJPEGFormulas() throws {
        let y = try chain(["RGBToYCbCr"]).predict(Self.grid)
        let lum = try chain(["RGBToLuminance"]).predict(Self.grid)
        var worst = 0.0
        for p in 0..<(Self.grid.count / 3) {
            let r = Double(Self.grid.scalars[3 * p]), g = Double(Self.grid.scalars[3 * p + 1]), b = Double(Self.grid.scalars[3 * p + 2])
            let expected = [0.299 * r + 0.587 * g + 0.114 * b,
                            0.5 - 0.168736 * r - 0.331264 * g + 0.5 * b,
                            0.5 + 0.5 * r - 0.418688 * g - 0.081312 * b]
            for c in 0..<3 { worst = max(worst, abs(Double(y.scalars[3 * p + c]) - expected[c])) }
            worst = max(worst, abs(Double(lum.scalars[p]) - expected[0]))
        }
        #expect(worst <= 1e-6)
        #expect(lum.shape == [1, 33 * 33, 33, 1])
    }

    @Test func hsvMatchesTheHexconeDefinition() throws {
        let hsv = try chain(["RGBToHSV"]).predict(Self.grid)
        var worst = 0.0
        for p in 0..<(Self.grid.count / 3) {
            let r = Double(Self.grid.scalars[3 * p]), g = Double(Self.grid.scalars[3 * p + 1]), b = Double(Self.grid.scalars[3 * p + 2])
            let v = max(r, g, b), d = v - min(r, g, b)
            var h = 0.0
            if d > 0 {
                if v == r { h = ((g - b) / d).truncatingRemainder(dividingBy: 6) }
                else if v == g { h = (b - r) / d + 2 }
                else { h = (r - g) / d + 4 }
                h /= 6
                if h < 0 { h += 1 }
            }
            let expected = [h, v > 0 ? d / v : 0, v]
            for c in 0..<3 { worst = max(worst, abs(Double(hsv.scalars[3 * p + c]) - expected[c])) }
        }
        #expect(worst <= 1e-6)
        // Landmarks: primaries and secondaries on the hue circle, grey has no hue or saturation.
        let landmarks = Tensor(shape: [1, 1, 7, 3], scalars: [1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0.5, 0.5, 0.5])
        let h = try chain(["RGBToHSV"]).predict(landmarks).scalars
        let expected: [Float] = [0, 1, 1, 1.0 / 6, 1, 1, 1.0 / 3, 1, 1, 0.5, 1, 1, 2.0 / 3, 1, 1, 5.0 / 6, 1, 1, 0, 0, 0.5]
        #expect(zip(h, expected).allSatisfy { abs($0 - $1) <= 1e-6 })
    }
}
