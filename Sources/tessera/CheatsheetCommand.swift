// `tessera cheatsheet IMAGE [IMAGE2] --out DIR`: a page of what every layer does to a picture.

import ArgumentParser
import CheatSheet
import Foundation

struct CheatsheetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cheatsheet",
        abstract: "Render a cheat sheet of layers: merges, pooling, Dense, Conv2D, Conv2DTranspose on your photos.",
        discussion: """
            Writes one PNG per panel and DIR/index.html (self-contained; open it in a browser).
            Every panel is an untrained ConvCore layer with Keras' default initializers drawn from
            --seed: the same seed gives the same pictures. IMAGE2 (default: IMAGE mirrored) is the
            second operand of the merging layers.
            """
    )

    @Argument(help: "A photo.") var image: String
    @Argument(help: "A second photo for the merging layers (default: the first, mirrored).") var image2: String?
    @Option(help: "The folder to write (replaced if it holds an earlier sheet).") var out: String
    @Option(help: "Seed of the untrained weights.") var seed: UInt64 = 0
    @Option(help: "Long side the photos are scaled to, in pixels.") var size = 256

    func run() throws {
        let started = Date()
        let sheet = try CheatSheet(first: URL(fileURLWithPath: image), second: image2.map { URL(fileURLWithPath: $0) }, size: size, seed: seed)
        let pictures = try sheet.write(to: URL(fileURLWithPath: out))
        warn(String(format: "%@/index.html: %d pictures in %.1f s", out, pictures, Date().timeIntervalSince(started)))
    }
}
