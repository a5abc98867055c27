// The cheat sheet from two generated photos: every panel on the page with its picture at the size
// the page says, the same seed giving the same bytes, bad input refused with nothing left behind.

@testable import CheatSheet
import ConvCore
import Foundation
import Imaging
import Testing
import TestSupport

@Suite struct CheatSheetTests {
    static func photos() throws -> (folder: URL, first: URL, second: URL) {
        let folder = Scratch.folder()
        let first = folder.appendingPathComponent("first.png"), second = folder.appendingPathComponent("second.jpg")
        try ImageFile.save(Scratch.randomImage(width: 90, height: 60, bands: 3, bitDepth: 8, seed: 1), bitDepth: 8, to: first)
        try ImageFile.save(Scratch.randomImage(width: 50, height: 70, bands: 3, bitDepth: 8, seed: 2), bitDepth: 8, to: second)
        return (folder, first, second)
    }

    static func files(_ folder: URL) throws -> [String: Data] {
        var all: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            all[name] = try Data(contentsOf: folder.appendingPathComponent(name))
        }
        return all
    }

    @Test func everyPanelIsOnThePageAtItsSize() throws {
        let (folder, first, second) = try Self.photos()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("sheet")
        let sheet = try CheatSheet(first: first, second: second, size: 80, seed: 7)
        #expect(try sheet.write(to: out) == sheet.rendered.count + 3)
        let html = try String(contentsOf: out.appendingPathComponent("index.html"), encoding: .utf8)
        let panels = try Catalogue.panels(height: 53, width: 80)
        #expect(panels.count == 6 * 4 + 2 * 4 + 6 + 9 + 4 + 7)
        for heading in Section.allCases.map(\.heading) { #expect(html.contains("<h2>\(heading)</h2>"), "\(heading)") }
        for merge in Catalogue.merges { for view in ColourView.allCases { #expect(html.contains("<b>\(merge) in \(view.title)</b>")) } }
        for panel in panels { #expect(html.contains("src=\"\(panel.file).png\""), "\(panel.file)") }
        #expect(html.contains("1,049,600 parameters"))
        // Every picture the page shows exists at the size the page gives it.
        let images = html.matches(of: /<img src="([^"]+)" width="([0-9]+)" height="([0-9]+)"/)
        #expect(images.count == panels.count + 3)
        for image in images {
            let source = try ImageSource(url: out.appendingPathComponent(String(image.1)))
            #expect((source.width, source.height) == (Int(image.2)!, Int(image.3)!), "\(image.1)")
        }
        #expect(html.contains("src=\"conv2dtranspose-k2-s4-tanh.png\" width=\"320\" height=\"212\""))
        // Nothing but the sheet: no staging folder left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["first.png", "second.jpg", "sheet"])
    }

    @Test func theSameSeedGivesTheSameBytesAndAnotherSeedOthers() throws {
        let (folder, first, second) = try Self.photos()
        defer { try? FileManager.default.removeItem(at: folder) }
        for (name, seed) in [("a", UInt64(3)), ("b", 3), ("c", 4)] {
            try CheatSheet(first: first, second: second, size: 64, seed: seed).write(to: folder.appendingPathComponent(name))
        }
        let (a, b, c) = (try Self.files(folder.appendingPathComponent("a")), try Self.files(folder.appendingPathComponent("b")),
                         try Self.files(folder.appendingPathComponent("c")))
        #expect(a == b)
        #expect(a["conv2d-k3-relu.png"] != c["conv2d-k3-relu.png"] && a["dense-1-tanh.png"] != c["dense-1-tanh.png"])
        // Layers without weights do not depend on the seed.
        #expect(a["merge-add-rgb.png"] == c["merge-add-rgb.png"])
    }

    @Test func theChannelSumIsTheSeeds() throws {
        let (input, output, parameters) = try Catalogue.channelSum()
        #expect(input == [1, 100, 10000] && output.shape == [1, 2, 2, 1] && output.scalars == [40404, 40404, 40404, 40404] && parameters == 13)
        let counts = Dictionary(uniqueKeysWithValues: try Catalogue.parameterCounts())
        #expect(counts["Conv2D(64, 3x3) on 1 channel"] == 640 && counts["Conv2D(32, 7x7) on 1 channel"] == 1600)
        #expect(counts["Conv2D(16, 3x3) on 3 channels"] == 448 && counts["Conv2D(16, 3x3) on 16 channels"] == 2320)
        #expect(counts["BatchNormalization on 16 channels (32 trainable)"] == 64 && counts["Dense(3) on RGB (the channel axis: a per-pixel colour mix)"] == 12)
        #expect(counts["Flatten(32x32x1), Dense(1024)"] == 1_049_600 && grouped(1_049_600) == "1,049,600")
    }

    @Test func badInputIsRefusedWithNothingLeftBehind() throws {
        let (folder, first, _) = try Self.photos()
        defer { try? FileManager.default.removeItem(at: folder) }
        let missing = folder.appendingPathComponent("missing.jpg"), text = folder.appendingPathComponent("notes.jpg")
        try Data("not an image".utf8).write(to: text)
        #expect { try CheatSheet(first: missing, second: nil) } throws: { ($0 as? ImageError)?.path == missing.path }
        #expect { try CheatSheet(first: first, second: text) } throws: {
            ($0 as? ImageError).map { $0.path == text.path && $0.reason.contains("unsupported format") } ?? false
        }
        let sheet = try CheatSheet(first: first, second: nil, size: 48)
        let nowhere = folder.appendingPathComponent("no/such/folder")
        #expect { try sheet.write(to: nowhere) } throws: { ($0 as? ImageError)?.path == nowhere.path }
        // A folder that holds something else is not replaced.
        let taken = folder.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: taken, withIntermediateDirectories: false)
        try Data("mine".utf8).write(to: taken.appendingPathComponent("notes.txt"))
        #expect { try sheet.write(to: taken) } throws: { ($0 as? ImageError)?.reason.contains("not a cheat sheet") ?? false }
        #expect(try FileManager.default.contentsOfDirectory(atPath: taken.path) == ["notes.txt"])
        // A read-only parent (as a user who may not write there): refused, nothing created.
        if getuid() != 0 {
            let locked = folder.appendingPathComponent("locked")
            try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: false)
            chmod(locked.path, 0o500)
            defer { chmod(locked.path, 0o700) }
            #expect { try sheet.write(to: locked.appendingPathComponent("sheet")) } throws: { ($0 as? ImageError)?.reason.contains("cannot write") ?? false }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["first.png", "notes.jpg", "second.jpg", "taken"])
    }
}
