// What the library test targets share: the repository's root, scratch folders and generated images.

import ConvCore
import Foundation

public enum Scratch {
    /// The repository's root folder.
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A fresh empty folder, removed by the caller with `FileManager.removeItem`.
    public static func folder() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Random samples that are exact at the bit depth; alpha (the last band when `bands` is 2 or
    /// 4) is 0 over a block in the upper left, so transparency is exercised too.
    public static func randomImage(width: Int, height: Int, bands: Int, bitDepth: Int, seed: UInt64) -> Tensor {
        var g = SeededGenerator(seed: seed)
        let maximum = Float(bitDepth == 16 ? 65535 : 255)
        var scalars = (0..<(width * height * bands)).map { _ in (g.nextUnitFloat() * maximum).rounded(.down) / maximum }
        if bands == 2 || bands == 4 {
            for y in 0..<(height / 3) { for x in 0..<(width / 3) { scalars[(y * width + x) * bands + bands - 1] = 0 } }
        }
        return Tensor(shape: [1, height, width, bands], scalars: scalars)
    }
}
