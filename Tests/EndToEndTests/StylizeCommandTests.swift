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

        // A missing output folder: the output's name and the reason, not a temporary file's.
        let nowhere = folder.appendingPathComponent("nowhere/out.png")
        let missing = try tessera(["stylize", photo.path, nowhere.path, "--style", Self.identity])
        #expect(missing.status == 1 && missing.stderr == "Error: \(nowhere.path): cannot be written: the folder \(folder.path)/nowhere does not exist\n",
                "\(missing.stderr)")
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

    @Test func aFolderOfTwentyImagesWithOneBadAndTheModelsFromTheSettings() throws {
        let (folder, photo) = try Self.folderWithPhoto()
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs = folder.appendingPathComponent("inputs"), out = folder.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: inputs.appendingPathComponent("sub"), withIntermediateDirectories: true)
        for n in 0..<19 { try FileManager.default.copyItem(at: photo, to: inputs.appendingPathComponent(String(format: "p%02d.jpg", n))) }
        try Data("not an image".utf8).write(to: inputs.appendingPathComponent("bad.jpg"))
        try FileManager.default.copyItem(at: photo, to: inputs.appendingPathComponent("sub/deep.jpg"))
        // The style by name, from the models folder TESSERA_MODELS names (as the daemon finds it).
        var environment = ProcessInfo.processInfo.environment
        environment["TESSERA_MODELS"] = URL(fileURLWithPath: Self.identity).deletingLastPathComponent().path
        let run = try tessera(["stylize", inputs.path, "--out", out.path, "-s", "identity", "-f", "png", "-j", "2"], environment: environment)
        #expect(run.status == 1, "\(run.stderr)")
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains("bad.jpg: unsupported format") && lines[1].hasPrefix("stylized 19 of 20 files (1 failed) in "),
                "\(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == (0..<19).map { String(format: "p%02d.png", $0) })
        #expect(try ImageSource(url: out.appendingPathComponent("p07.png")).width == 200)
        // --recursive takes the subfolder too, into the same subfolder; all good: exit 0.
        try FileManager.default.removeItem(at: inputs.appendingPathComponent("bad.jpg"))
        let deep = try tessera(["stylize", inputs.path, "--out", out.path, "--style", Self.identity, "--recursive"])
        #expect(deep.status == 0 && deep.stderr.contains("stylized 20 of 20 files (0 failed)"), "\(deep.stderr)")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("sub/deep.jpg").path))
    }

    @Test func standardInputToStandardOutput() throws {
        let (folder, photo) = try Self.folderWithPhoto()
        defer { try? FileManager.default.removeItem(at: folder) }
        let p = Process(), output = folder.appendingPathComponent("piped.png")
        p.executableURL = tesseraBinary
        p.arguments = ["stylize", "-", "-", "--style", Self.identity, "--format", "png"]
        p.standardInput = try FileHandle(forReadingFrom: photo)
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: output)
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let source = try ImageSource(url: output)
        #expect(source.format == .png && source.width == 200 && source.height == 120)
        let bad = try tessera(["stylize", "a.jpg", "b.jpg", "c.jpg", "--style", Self.identity])
        #expect(bad.status != 0 && bad.stderr.contains("--out DIR"), "\(bad.stderr)")
    }

    /// On a 50-column terminal (script(1) gives the command one): each redraw clears the line,
    /// fits the width, and the percentage never goes back over several files.
    @Test func theProgressBarFitsTheTerminalAndNeverGoesBack() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { Issue.record("needs script (util-linux)"); return }
        let (folder, photo) = try Self.folderWithPhoto()
        defer { try? FileManager.default.removeItem(at: folder) }
        let big = folder.appendingPathComponent("big.png")
        try ImageFile.save(ResumeTests.picture(width: 1200, height: 900), bitDepth: 8, to: big)
        let command = "stty cols 50; '\(tesseraBinary.path)' stylize '\(big.path)' '\(photo.path)' '\(big.path)' --out '\(folder.path)/out' --style '\(Self.identity)' -j 1"
        let p = Process(), pipe = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-q", "-c", command, "/dev/null"]
        p.standardOutput = pipe
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let draws = text.components(separatedBy: "\r\u{1B}[K").dropFirst().map { $0.components(separatedBy: CharacterSet(charactersIn: "\r\n"))[0] }
        #expect(draws.count >= 3, "\(text.debugDescription)")
        #expect(draws.allSatisfy { $0.count <= 49 }, "\(draws)")
        let percents = draws.compactMap { $0.firstMatch(of: /\] +([0-9]+)%/).map { Int($0.1)! } }
        #expect(percents == percents.sorted() && percents.last == 100, "\(percents)")
        #expect(text.contains("stylized 3 of 3 files (0 failed)"))
    }
}
