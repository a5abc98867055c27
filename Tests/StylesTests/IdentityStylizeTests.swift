// Acceptance for tiling, padding and stitching: through the identity style (a 10-px crop) the
// output file equals the input file, sample for sample, for every size, band layout, bit depth
// and lossless format.

import ConvCore
import Foundation
import Imaging
import Styles
import Testing

@Suite struct IdentityStylizeTests {
    static let sizes = [(1, 1), (15, 17), (16, 16), (17, 1000), (1000, 17), (257, 263), (1920, 1080)]
    /// (bands, bit depth, format): grey, grey + alpha, RGB, RGBA at 8 and 16 bits in PNG and TIFF;
    /// lossless WebP holds 8-bit RGB(A).
    static let variants: [(Int, Int, ImageFormat)] =
        [ImageFormat.png, .tiff].flatMap { f in [1, 2, 3, 4].flatMap { b in [8, 16].map { (b, $0, f) } } }
        + [(3, 8, .webp), (4, 8, .webp)]

    @Test(arguments: sizes, variants)
    func outputEqualsInput(_ size: (Int, Int), _ variant: (Int, Int, ImageFormat)) throws {
        let ((width, height), (bands, depth, format)) = (size, variant)
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("in.\(format.suffix)")
        let output = folder.appendingPathComponent("out.\(format.suffix)")
        let image = Support.randomImage(width: width, height: height, bands: bands, bitDepth: depth, seed: UInt64(width * 31 + height * bands + depth))
        try ImageFile.save(image, bitDepth: depth, to: input, options: SaveOptions(lossless: true))

        let result = try Stylizer(style: Support.identity, threads: 2).stylize(input, to: output, options: SaveOptions(lossless: true))
        #expect(result.format == format)
        #expect(result.tiles == ((width + 15) / 16) * ((height + 15) / 16))
        // Against the input as read back (lossless WebP drops colour under transparent pixels).
        let (original, _) = try ImageFile.load(input)
        let (back, backDepth) = try ImageFile.load(output)
        #expect(backDepth == depth)
        #expect(back.shape == image.shape && original.shape == image.shape)
        let same = back.scalars == original.scalars
        #expect(same, "max difference \(back.shape == original.shape ? back.maxAbsDifference(original) : .infinity)")
        // Only the two files: no temporary left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == [input, output].map(\.lastPathComponent).sorted())
    }
}
