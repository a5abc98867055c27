// The styles shipped in Models/ do what their names promise: on a photo made into a pair by the
// same reference filter they were trained on, the stylized input is clearly closer to the target
// than the obvious baseline (the input itself; for edges, a flat image at the target's mean).

import ConvCore
import Foundation
import Imaging
import Styles
import Testing

@Suite(.tags(.slow)) struct ShippedStylesTests {
    static let photo = Support.repository.appendingPathComponent("Tests/EndToEndTests/Fixtures/new-photo/scribus-005.jpg")

    /// (filter, largest allowed model error as a fraction of the baseline's); measured under 0.01,
    /// 0.0145 (a small image has relatively many border pixels) and 0.86 (colorize's tints are
    /// muted on purpose: a gain fitted so that near-grey photos are not made worse).
    @Test(arguments: [(ReferenceFilter.posterize, 0.01), (.edges, 0.03), (.colorize, 0.95)])
    func beatsTheBaseline(_ filter: ReferenceFilter, _ fraction: Double) throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (input, target, output) = (folder.appendingPathComponent("input.png"), folder.appendingPathComponent("target.png"),
                                       folder.appendingPathComponent("output.png"))
        try filter.makePair(from: Self.photo, longSide: 256, input: input, target: target)
        let style = try Style.load(Support.repository.appendingPathComponent("Models/\(filter.rawValue).safetensors"))
        #expect(style.name == filter.rawValue)
        try Stylizer(style: style, threads: 2).stylize(input, to: output, options: SaveOptions(lossless: true))

        let (source, _) = try ImageFile.load(input)
        let (wanted, _) = try ImageFile.load(target)
        let (made, _) = try ImageFile.load(output)
        #expect(made.shape == wanted.shape)
        let model = meanSquaredError(made.scalars, wanted.scalars)
        let baseline: Double
        switch filter {
        case .posterize: baseline = meanSquaredError(source.scalars, wanted.scalars)
        case .edges:
            let mean = wanted.scalars.reduce(0, +) / Float(wanted.scalars.count)
            baseline = meanSquaredError([Float](repeating: mean, count: wanted.scalars.count), wanted.scalars)
        case .colorize: baseline = meanSquaredError(source.scalars.flatMap { [$0, $0, $0] }, wanted.scalars)
        }
        #expect(model < fraction * baseline, "\(filter): model \(model), baseline \(baseline)")
    }

    func meanSquaredError(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        return zip(a, b).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(a.count)
    }
}
