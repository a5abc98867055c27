// `tessera stylize` as users run it: a good image comes out; each kind of bad file gives one
// line naming the file and the reason, a non-zero exit, and no output file (not even a temporary).

import ConvCore
import Foundation
import Imaging
import Testing

@Suite struct StylizeCommandTests {
    static let identity = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Models/identity.safetensors").path

    static func folderWithPhoto() throws -> (URL, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var g = SeededGenerator(seed: 9)
        let image = Tensor(shape: [1, 120, 200, 3], scalars: (0..<(120 * 200 * 3)).map { _ in g.nextUnitFloat() })
        let photo = folder.appendingPathComponent("photo.jpg")
        try ImageFile.save(image, bitDepth: 8, to: photo)
        return (folder, photo)
    }

    @Test func stylizesQuietlyWhenNotATerminal() throws {
        let (folder, photo) = try Self.folderWithPhoto()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.png")
        let run = try tessera(["stylize", photo.path, output.path, "--style", Self.identity, "--threads", "2"])
        #expect(run.status == 0 && run.stderr.isEmpty && run.stdout.isEmpty, "\(run.stderr)")
        let source = try ImageSource(url: output)
        #expect(source.width == 200 && source.height == 120 && source.format == .png)

        // --format wins over the suffix; the input is never the output.
        let webp = try tessera(["stylize", photo.path, folder.appendingPathComponent("out.img").path, "--style", Self.identity, "--format", "webp"])
        #expect(webp.status == 0)
        #expect(try ImageSource(url: folder.appendingPathComponent("out.img")).format == .webp)
        let same = try tessera(["stylize", photo.path, photo.path, "--style", Self.identity])
        #expect(same.status != 0 && same.stderr.contains("refusing to overwrite"))
        let unknown = try tessera(["stylize", photo.path, output.path, "--style", "no-such-style", "--models", folder.path])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown style 'no-such-style'"))
    }

    @Test func badFilesFailWithOneLineAndNoOutput() throws {
        let (folder, photo) = try Self.folderWithPhoto()
        defer { try? FileManager.default.removeItem(at: folder) }
        let jpeg = try Data(contentsOf: photo)
        let png = folder.appendingPathComponent("good.png")
        try ImageFile.save(try ImageFile.load(photo).pixels, bitDepth: 8, to: png)
        var corrupt = try Data(contentsOf: png)
        corrupt[corrupt.count / 2] ^= 0xFF // inside IDAT: the chunk's CRC no longer matches
        let cases: [(String, Data, [String], String)] = [
            ("truncated.jpg", jpeg.prefix(jpeg.count / 2), [], "Premature end"),
            ("bad-crc.png", corrupt, [], "error"),
            ("empty.jpg", Data(), [], "empty file"),
            ("text.jpg", Data("hello, not a JPEG\n".utf8), [], "unsupported format"),
            ("large.jpg", jpeg, ["--max-megapixels", "0"], "over the limit"),
        ]
        for (name, bytes, extra, reason) in cases {
            let input = folder.appendingPathComponent(name)
            try bytes.write(to: input)
            let output = folder.appendingPathComponent("out-\(name)")
            let run = try tessera(["stylize", input.path, output.path, "--style", Self.identity] + extra)
            let lines = run.stderr.split(separator: "\n")
            #expect(run.status != 0, "\(name)")
            #expect(lines.count == 1 && run.stderr.contains(input.path) && run.stderr.contains(reason), "\(name): \(run.stderr)")
            let left = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            #expect(!left.contains { $0.contains("out-") }, "\(name) left \(left)")
            #expect(try Data(contentsOf: input) == bytes, "\(name) changed")
        }
    }
}
