// Shared by the styles tests: the shipped identity style, scratch folders and generated images.

import ConvCore
import Foundation
import Styles
import TestSupport
import Testing

enum Support {
    static let repository = Scratch.repository
    static func scratch() -> URL { Scratch.folder() }
    static func randomImage(width: Int, height: Int, bands: Int, bitDepth: Int, seed: UInt64) -> Tensor {
        Scratch.randomImage(width: width, height: height, bands: bands, bitDepth: bitDepth, seed: seed)
    }

    /// The shipped identity style: a spec that only crops the 10-px margin.
    static let identity = try! Style.load(repository.appendingPathComponent("Models/identity.safetensors"))
}

extension Tag {
    /// Tests that stylize real photos with the shipped styles.
    @Tag static var slow: Self
}
