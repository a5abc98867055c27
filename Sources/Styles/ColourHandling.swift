// How a style's network sees colour (DESIGN.md §7): what it is fed (RGB, luminance, HSV or
// YCbCr) and what it returns (RGB, luminance, HSV, or CbCr recombined with the input's own Y).
// Grey images feed colour styles as RGB and come back grey, unless the style adds colour (CbCr).

import ConvCore
import Foundation

/// A style's colour handling (DESIGN.md §7): what the network sees and what it gives back.
public struct ColourHandling: Sendable, Equatable, Codable {
    /// The colour the network takes.
    public enum Input: String, Sendable, Codable, CaseIterable { case rgb, luminance, hsv, ycbcr }
    /// The colour the network returns; cbcr is recombined with the input's own luminance.
    public enum Output: String, Sendable, Codable, CaseIterable { case rgb, luminance, hsv, cbcr }

    public var input: Input
    public var output: Output

    /// A colour handling; the default is RGB to RGB.
    public init(input: Input = .rgb, output: Output = .rgb) { (self.input, self.output) = (input, output) }

    package var modelInputChannels: Int { input == .luminance ? 1 : 3 }
    package var modelOutputChannels: Int { output == .luminance ? 1 : output == .cbcr ? 2 : 3 }

    /// Colour bands of the output for an image with `colourBands`: CbCr adds colour, luminance
    /// removes it, the others keep what the image had.
    func outputBands(forColourBands colourBands: Int) -> Int {
        switch output {
        case .cbcr: 3
        case .luminance: 1
        case .rgb, .hsv: colourBands
        }
    }

    /// Image tiles [n, h, w, 1 or 3] -> what the network takes.
    package func networkInput(_ tiles: Tensor) -> Tensor {
        let grey = tiles.shape[3] == 1
        switch input {
        case .luminance: return grey ? tiles : ColourConversion.rgbToLuminance(tiles)
        case .rgb: return grey ? repeatingChannel(tiles) : tiles
        case .hsv: return ColourConversion.rgbToHSV(grey ? repeatingChannel(tiles) : tiles)
        case .ycbcr: return ColourConversion.rgbToYCbCr(grey ? repeatingChannel(tiles) : tiles)
        }
    }

    /// Target image cores [n, 16, 16, 1 or 3] -> what the network should return for them (the
    /// inverse of `imageOutput`).
    package func networkTarget(_ cores: Tensor) -> Tensor {
        let grey = cores.shape[3] == 1
        switch output {
        case .luminance: return grey ? cores : ColourConversion.rgbToLuminance(cores)
        case .rgb: return grey ? repeatingChannel(cores) : cores
        case .hsv: return ColourConversion.rgbToHSV(grey ? repeatingChannel(cores) : cores)
        case .cbcr:
            let ycbcr = ColourConversion.rgbToYCbCr(grey ? repeatingChannel(cores) : cores)
            let pixels = ycbcr.count / 3
            var cbcr = [Float](repeating: 0, count: 2 * pixels)
            for p in 0..<pixels { (cbcr[2 * p], cbcr[2 * p + 1]) = (ycbcr.scalars[3 * p + 1], ycbcr.scalars[3 * p + 2]) }
            return Tensor(shape: cores.shape.dropLast() + [2], scalars: cbcr)
        }
    }

    /// What pairs of these colour bands (1 grey, 3 RGB) teach: grey to colour is colorize
    /// (luminance in, CbCr out), colour to grey a luminance output, otherwise like to like.
    package static func inferred(inputBands: Int, targetBands: Int) -> ColourHandling {
        switch (inputBands, targetBands) {
        case (1, 1): ColourHandling(input: .luminance, output: .luminance)
        case (1, _): ColourHandling(input: .luminance, output: .cbcr)
        case (_, 1): ColourHandling(input: .rgb, output: .luminance)
        default: ColourHandling()
        }
    }

    /// The network's cores [n, 16, 16, k] -> image cores [n, 16, 16, outputBands]; `tiles` are
    /// the image tiles the cores came from (CbCr takes their Y).
    package func imageOutput(_ cores: Tensor, tiles: Tensor, margin: Int) -> Tensor {
        let colourBands = tiles.shape[3]
        switch output {
        case .luminance:
            return cores
        case .rgb, .hsv:
            let rgb = output == .hsv ? ColourConversion.hsvToRGB(cores) : cores
            return colourBands == 1 ? ColourConversion.rgbToLuminance(rgb) : rgb
        case .cbcr:
            let centre = centreCrop(tiles, margin: margin)
            let y = colourBands == 1 ? centre : ColourConversion.rgbToLuminance(centre)
            let ycbcr = Tensor(shape: cores.shape.dropLast() + [3]) { out in
                for p in 0..<(y.count) {
                    out[3 * p] = y.scalars[p]
                    out[3 * p + 1] = cores.scalars[2 * p]
                    out[3 * p + 2] = cores.scalars[2 * p + 1]
                }
            }
            return ColourConversion.yCbCrToRGB(ycbcr)
        }
    }
}

private func repeatingChannel(_ grey: Tensor) -> Tensor {
    Tensor(shape: grey.shape.dropLast() + [3], scalars: grey.scalars.flatMap { [$0, $0, $0] })
}

/// [n, h, w, c] -> [n, h - 2m, w - 2m, c].
private func centreCrop(_ x: Tensor, margin m: Int) -> Tensor {
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (oh, ow) = (h - 2 * m, w - 2 * m)
    return Tensor(shape: [n, oh, ow, c]) { out in
        x.scalars.withUnsafeBufferPointer { xp in
            for row in 0..<(n * oh) {
                let (b, y) = (row / oh, row % oh)
                (out + row * ow * c).update(from: xp.baseAddress! + ((b * h + y + m) * w + m) * c, count: ow * c)
            }
        }
    }
}
