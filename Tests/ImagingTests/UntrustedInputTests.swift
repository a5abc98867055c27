// Files nobody should trust: formats Tessera does not list, FIFOs, truncated files decoded at the
// same time (each error must be its own), names of the longest length the kernel allows.

import ConvCore
import Foundation
@testable import Imaging
import Synchronization
import Testing

@Suite struct UntrustedInputTests {
    static let unsupported = "unsupported format (Tessera reads \(ImageFormat.readable))"

    /// SVG (even named .png), PPM, PDF and libvips' own format load through loaders nobody chose
    /// (librsvg, poppler, ImageMagick): refused.
    @Test func unlistedFormatsAreRefused() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let svg = #"<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect width="40" height="40" fill="red"/></svg>"#
        let files: [(String, Data)] = [
            ("drawing.svg", Data(svg.utf8)), ("drawing.png", Data(svg.utf8)),
            ("grey.ppm", Data("P5\n4 4\n255\n".utf8) + Data(repeating: 128, count: 16)),
            ("doc.pdf", Data("%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj 3 0 obj<</Type/Page/MediaBox[0 0 40 40]/Parent 2 0 R>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".utf8)),
        ]
        for (name, bytes) in files {
            let url = folder.appendingPathComponent(name)
            try bytes.write(to: url)
            #expect(throws: ImageError(url.path, Self.unsupported), "\(name)") { try ImageSource(url: url) }
        }
    }

    /// Opening a FIFO for reading blocks until a writer comes; the source refuses it at once.
    @Test func aFIFOIsRefusedWithoutBlocking() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("pipe.png")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let answered = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var error: ImageError?
        Thread {
            do { _ = try ImageSource(url: fifo) } catch let e as ImageError { error = e } catch {}
            answered.signal()
        }.start()
        if answered.wait(timeout: .now() + 5) == .timedOut {
            Issue.record("opening a FIFO blocked")
            let writer = open(fifo.path, O_WRONLY) // lets the blocked reader go
            close(writer)
            answered.wait()
        }
        #expect(error == ImageError(fifo.path, "not a regular file (a FIFO)"))
    }

    /// libvips keeps one error buffer for the process; truncated files failing on many threads at
    /// once must each report the reason they report alone.
    @Test func concurrentFailuresKeepTheirOwnReasons() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        var files: [URL] = []
        for n in 0..<24 {
            let suffix = ["jpg", "png", "tif"][n % 3]
            let url = folder.appendingPathComponent("cut\(n).\(suffix)")
            try ImageFile.save(Support.randomImage(width: 300 + n, height: 200, bands: 3, bitDepth: 8, seed: UInt64(n)), bitDepth: 8, to: url)
            let bytes = try Data(contentsOf: url)
            try bytes.prefix(bytes.count * (40 + n) / 100).write(to: url)
            files.append(url)
        }
        @Sendable func reason(_ url: URL) -> String {
            do { _ = try ImageFile.load(url); return "loaded" } catch { return "\(error)" }
        }
        let alone = files.map(reason), cut = files
        #expect(Set(alone).count > 1)
        for (url, r) in zip(files, alone) { #expect(r.hasPrefix(url.path + ": ") && r != "loaded", "\(r)") }
        let wrong = Mutex([String]())
        DispatchQueue.concurrentPerform(iterations: cut.count * 4) { i in
            let r = reason(cut[i % cut.count])
            if r != alone[i % cut.count] { wrong.withLock { $0.append(r) } }
        }
        #expect(wrong.withLock { $0 } == [])
    }

    /// The temporary name of a 255-byte output still fits.
    @Test func longestNamesCanBeWritten() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let name = String(repeating: "é", count: 125) + "x.png" // 255 bytes
        #expect(name.utf8.count == FileName.maxBytes)
        let url = folder.appendingPathComponent(name)
        let image = Support.randomImage(width: 20, height: 10, bands: 3, bitDepth: 8, seed: 1)
        try ImageFile.save(image, bitDepth: 8, to: url)
        #expect(try ImageFile.load(url).pixels == image)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == [name])
        #expect(FileName.prefix("aé", bytes: 2) == "a")
        #expect(FileName.fitting(String(repeating: "b", count: 300), ".txt").utf8.count == 255)
    }
}
