// What a model file's `tessera.style` metadata says about running its network on an image
// (DESIGN.md §7): the colour handling, and an optional working size. A style with a working size
// sees the image resized so its long side is that many pixels (context far beyond one tile at
// full size, as DeOldify and Zhang et al. colorize); its CbCr output is enlarged back with libvips
// and recombined with the full-size luminance: the eye tolerates soft chroma, not soft detail.

import ConvCore
import Foundation
import Imaging

/// A style's `tessera.style` metadata: its colour handling and optional working size.
public struct StyleHandling: Sendable, Equatable, Codable {
    public var colour: ColourHandling
    /// The long side, in pixels, the network sees the image at; nil: the full size.
    public var workingSize: Int?

    /// Working sizes a style may declare: at least one tile, at most a large photo's long side.
    public static let workingSizes = TileGrid.inputSize...8192

    public init(colour: ColourHandling = ColourHandling(), workingSize: Int? = nil) throws {
        if let workingSize {
            guard Self.workingSizes.contains(workingSize) else {
                throw ModelError("a working size must be \(Self.workingSizes.lowerBound) to \(Self.workingSizes.upperBound) pixels, got \(workingSize)")
            }
            guard colour.output == .cbcr else {
                throw ModelError("a working size needs a cbcr output (only chroma is enlarged back), not \(colour.output.rawValue)")
            }
        }
        (self.colour, self.workingSize) = (colour, workingSize)
    }

    /// From a model file's `tessera.style` metadata; none means RGB to RGB at full size.
    public init(metadata: String?) throws {
        guard let metadata else { try self.init(); return }
        guard let object = try? JSONSerialization.jsonObject(with: Data(metadata.utf8)) as? [String: Any] else {
            throw ModelError("tessera.style is not a JSON object: \(metadata)")
        }
        func field<T: RawRepresentable<String> & CaseIterable>(_ key: String, _: T.Type) throws -> T? {
            guard let value = object[key] else { return nil }
            guard let text = value as? String, let parsed = T(rawValue: text) else {
                throw ModelError("tessera.style \"\(key)\" must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got \(value)")
            }
            return parsed
        }
        if let extra = object.keys.sorted().first(where: { !["input", "output", "working_size"].contains($0) }) {
            throw ModelError("tessera.style has an unknown key \"\(extra)\"")
        }
        var workingSize: Int?
        if let value = object["working_size"] {
            // JSONDecoder refuses 1.5, true and "256" as an Int; JSONSerialization's NSNumber would not.
            struct Size: Decodable {
                let size: Int
                enum CodingKeys: String, CodingKey { case size = "working_size" }
            }
            guard let size = try? JSONDecoder().decode(Size.self, from: Data(metadata.utf8)).size else {
                throw ModelError("tessera.style \"working_size\" must be a whole number of pixels, got \(value)")
            }
            workingSize = size
        }
        try self.init(colour: ColourHandling(input: try field("input", ColourHandling.Input.self) ?? .rgb,
                                             output: try field("output", ColourHandling.Output.self) ?? .rgb),
                      workingSize: workingSize)
    }

    public var json: String {
        let size = workingSize.map { #", "working_size": \#($0)"# } ?? ""
        return #"{"input": "\#(colour.input.rawValue)", "output": "\#(colour.output.rawValue)"\#(size)}"#
    }
}
