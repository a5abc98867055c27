// The daemon stays inside its memory budget: a job waits while the running ones hold too much, an
// image that could never fit fails with the reason, and images that need random access are decoded
// into the work folder, not into memory. The full fault run (TESSERA_FAULT_FULL=1) measures peak
// RSS over 200+ megapixel interlaced PNGs and progressive, rotated JPEGs, two workers at once.

import CVips
import ConvCore
import Foundation
import Imaging
import Testing

@Suite(.serialized, .tags(.slow)) struct MemoryBudgetTests {
    typealias Running = DaemonCommandTests.Running

    static func drop(_ daemon: Running, _ name: String, _ write: (URL) throws -> Void) throws {
        let staged = daemon.root.appendingPathComponent(name)
        try write(staged)
        #expect(rename(staged.path, daemon.folder("inbox/identity/\(name)").path) == 0)
    }

    @Test func anImageThatCouldNeverFitFailsWithTheReason() throws {
        // 256 MiB leave 128 for jobs; a 2600x2600 WebP is held whole by its decoder and encoder.
        let daemon = try Running(settings: ["memory_budget": "256"])
        defer { daemon.stop() }
        try Self.drop(daemon, "big.webp") { try Self.writeLarge($0, width: 2600, height: 2600, interlace: false) }
        try Self.drop(daemon, "small.webp") { try ImageFile.save(ResumeTests.picture(width: 300, height: 200), bitDepth: 8, to: $0) }
        let jobs = try daemon.waitForJobs(2)
        #expect(Set(jobs.compactMap { $0["status"] as? String }) == ["done", "failed"], "\(jobs)")
        #expect(try daemon.files("failed/identity") == ["big.webp", "big.webp.error.txt"])
        let reason = try String(contentsOf: daemon.folder("failed/identity/big.webp.error.txt"), encoding: .utf8)
        #expect(reason.contains("big.webp: needs about") && reason.contains("budget of 256 MB") && reason.contains("memory_budget"), "\(reason)")
        #expect(try daemon.files("outbox/identity") == ["small.webp"])
    }

    @Test func aJobWaitsForMemoryAndEveryJobFinishes() throws {
        // 384 MiB leave 256 for jobs; each of these WebPs needs about 135 MB: one waits for the other.
        let daemon = try Running(settings: ["memory_budget": "384", "workers": "2"])
        defer { daemon.stop() }
        // Made first and moved in together, so the jobs overlap (made one by one, each could
        // finish before the next arrives).
        let staged = (0..<3).map { daemon.root.appendingPathComponent("w\($0).webp") }
        for file in staged { try Self.writeLarge(file, width: 2000, height: 2000, interlace: false) }
        for file in staged { #expect(rename(file.path, daemon.folder("inbox/identity/\(file.lastPathComponent)").path) == 0) }
        let jobs = try daemon.waitForJobs(3)
        #expect(jobs.allSatisfy { $0["status"] as? String == "done" }, "\(jobs)")
        let store = try daemon.store()
        let waits = try (1...3).flatMap { try store.job(Int64($0))?.1 ?? [] }.filter { $0.kind == "waiting" }
        #expect(!waits.isEmpty && waits.allSatisfy { $0.message.contains("needs") && $0.message.contains("of 256 MB") }, "\(waits)")
        #expect(try daemon.files("work").isEmpty)
    }

    /// PNG's chunk checksum (CRC-32, as zlib computes it).
    static func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var c: UInt32 = 0xffff_ffff
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 == 1 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    @Test func bombsAreRefusedFromTheirHeaderAlone() throws {
        let daemon = try Running()
        defer { daemon.stop() }
        // A PNG that says 60000x60000 (3.6 gigapixels) in a valid IHDR, with a few bytes of data.
        let be = { (v: UInt32) in [UInt8((v >> 24) & 255), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            be(UInt32(data.count)) + Array(type.utf8) + data + be(Self.crc32(Array(type.utf8) + data))
        }
        let png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] + chunk("IHDR", be(60000) + be(60000) + [8, 2, 0, 0, 0])
            + chunk("IDAT", [0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]) + chunk("IEND", [])
        try Self.drop(daemon, "bomb.png") { try Data(png).write(to: $0) }
        // A real JPEG whose frame header is changed to say 65000x65000.
        try Self.drop(daemon, "bomb.jpg") { url in
            try ImageFile.save(ResumeTests.picture(width: 64, height: 48), bitDepth: 8, to: url)
            var jpeg = [UInt8](try Data(contentsOf: url))
            let sof = (0..<(jpeg.count - 9)).first { jpeg[$0] == 0xff && jpeg[$0 + 1] == 0xc0 }!
            jpeg.replaceSubrange((sof + 5)..<(sof + 9), with: [0xfd, 0xe8, 0xfd, 0xe8])
            try Data(jpeg).write(to: url)
        }
        let started = Date()
        let jobs = try daemon.waitForJobs(2)
        print("two bombs refused in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        #expect(jobs.allSatisfy { $0["status"] as? String == "failed" }, "\(jobs)")
        for name in ["bomb.png", "bomb.jpg"] {
            let reason = try String(contentsOf: daemon.folder("failed/identity/\(name).error.txt"), encoding: .utf8)
            #expect(reason.contains("megapixels, over the limit of 250 megapixels"), "\(reason)")
        }
        #expect(Self.peakRSS(daemon.process.processIdentifier) < 200 * 1024)
    }

    /// A large picture made by libvips (streamed: a small one enlarged), saved as `url`'s suffix
    /// says. Never whole in this process's memory: every test shares the process, and another
    /// measures its peak.
    static func writeLarge(_ url: URL, width: Int, height: Int, interlace: Bool, orientation: Int32 = 1) throws {
        let small = ResumeTests.picture(width: width / 10, height: height / 10)
        let bytes = small.scalars.map { UInt8(($0 * 255).rounded()) }
        let image = bytes.withUnsafeBytes { vips_image_new_from_memory_copy($0.baseAddress, $0.count, Int32(width / 10), Int32(height / 10), 3, VIPS_FORMAT_UCHAR)! }
        defer { tessera_vips_unref(image) }
        image.pointee.Type = VIPS_INTERPRETATION_sRGB
        var large: UnsafeMutablePointer<VipsImage>?
        #expect(tessera_vips_resize_to(image, &large, Int32(width), Int32(height)) == 0)
        defer { tessera_vips_unref(large!) }
        vips_image_set_int(large!, "orientation", orientation)
        let saved = switch url.pathExtension {
        case "png": tessera_vips_pngsave(large!, url.path, interlace ? 1 : 0)
        case "webp": tessera_vips_webpsave(large!, url.path, 90, 0)
        default: tessera_vips_jpegsave(large!, url.path, 85, interlace ? 1 : 0)
        }
        #expect(saved == 0, "\(String(cString: vips_error_buffer()))")
    }

    /// A process's peak resident memory so far, in KiB.
    static func peakRSS(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return Int(status.firstMatch(of: /VmHWM:\s+([0-9]+) kB/)?.1 ?? "") ?? 0
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["TESSERA_FAULT_FULL"] == "1"),
          arguments: [["adam7-a.png", "adam7-b.png"], ["progressive6-a.jpg", "progressive6-b.jpg"], ["progressive6-a.jpg", "adam7-a.png"],
                      ["baseline6-a.jpg", "baseline6-b.jpg"]])
    func peakMemoryStaysInTheBudgetWithHugeImages(names: [String]) throws {
        let daemon = try Running(settings: ["workers": "2"])
        defer { daemon.stop() }
        for name in names {
            let interlace = !name.hasPrefix("baseline"), png = name.hasSuffix(".png")
            try Self.drop(daemon, name) {
                try Self.writeLarge($0, width: png ? 14142 : 15000, height: png ? 14142 : 15000, interlace: interlace, orientation: png ? 1 : 6)
            }
        }
        var peak = 0
        let deadline = Date().addingTimeInterval(600)
        while Date() < deadline, (try? daemon.files("archive/identity").count) ?? 0 < names.count {
            peak = max(peak, Self.peakRSS(daemon.process.processIdentifier))
            usleep(200_000)
        }
        peak = max(peak, Self.peakRSS(daemon.process.processIdentifier))
        print("peak RSS \(peak / 1024) MiB for \(names.joined(separator: " + ")) (budget 1024 MiB)")
        #expect(try daemon.files("archive/identity") == names.sorted())
        #expect(peak > 0 && peak <= 1024 * 1024, "peak RSS \(peak / 1024) MiB")
        #expect(try daemon.files("work").isEmpty)
    }
}
