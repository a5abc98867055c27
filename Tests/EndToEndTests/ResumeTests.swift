// A long job cut short, by kill -9 or by SIGTERM, continues from its last recorded strip after a
// restart (its events say from which), and the output is byte for byte the uninterrupted one's.
// So does a band of a split job: it continues from its own checkpoint, and the output assembled
// from the bands is the unsplit one.
// The regular suite runs a 4000x4000 image; the full fault run (TESSERA_FAULT_FULL=1) adds a
// 20000x5000 one.

import ConvCore
import Foundation
import Imaging
import JobStore
import Testing

@Suite(.serialized, .tags(.slow)) struct ResumeTests {
    typealias Running = DaemonCommandTests.Running

    static let sizes = ProcessInfo.processInfo.environment["TESSERA_FAULT_FULL"] == "1" ? [[4000, 4000], [20000, 5000]] : [[4000, 4000]]

    /// A smooth image with detail in every tile row (compresses well, differs everywhere).
    static func picture(width: Int, height: Int) -> Tensor {
        Tensor(shape: [1, height, width, 3]) { p in
            for y in 0..<height {
                for x in 0..<width {
                    let i = (y * width + x) * 3
                    p[i] = Float((x * 7 + y) % 256) / 255
                    p[i + 1] = Float((y * 5) % 256) / 255
                    p[i + 2] = Float((x ^ y) % 256) / 255
                }
            }
        }
    }

    @Test(arguments: sizes) func aJobCutShortResumesToTheSameBytes(size: [Int]) throws {
        let (width, height) = (size[0], size[1])
        // One thread: slow enough to be caught halfway on a fast machine; every strip recorded.
        let daemon = try Running(settings: ["workers": "1", "threads": "1", "checkpoint_seconds": "0"])
        defer { daemon.stop() }
        let posterize = URL(fileURLWithPath: StylizeCommandTests.identity).deletingLastPathComponent().appendingPathComponent("posterize.safetensors")
        try FileManager.default.copyItem(at: posterize, to: daemon.root.appendingPathComponent("models/posterize.safetensors"))
        daemon.process.terminate()
        daemon.process.waitUntilExit()
        try daemon.start()
        let picture = daemon.root.appendingPathComponent("picture.png")
        try MemoryBudgetTests.writeLarge(picture, width: width, height: height, interlace: false)
        let rows = TileGrid(width: width, height: height).rows
        let store = try daemon.store()

        func drop(_ name: String) throws {
            try FileManager.default.copyItem(at: picture, to: daemon.root.appendingPathComponent(name))
            #expect(rename(daemon.root.appendingPathComponent(name).path, daemon.folder("inbox/posterize/\(name)").path) == 0)
        }
        /// Waits until job `id` has recorded `fraction` of its tile rows (or ended), true if recorded.
        func waitForCheckpoint(_ id: Int64, _ fraction: Double) throws -> Bool {
            let deadline = Date().addingTimeInterval(300)
            while Date() < deadline {
                if let (job, _) = try store.job(id) {
                    if job.resumeTileRows >= Int(Double(rows) * fraction) { return true }
                    if job.status == .done || job.status == .failed { return false }
                }
                usleep(5_000)
            }
            return false
        }

        try drop("whole.png")
        _ = try daemon.waitForJobs(1, timeout: 300)
        try drop("killed.png")
        #expect(try waitForCheckpoint(2, 0.5), "job 2 ended before half of it was recorded")
        kill(daemon.process.processIdentifier, SIGKILL)
        daemon.process.waitUntilExit()
        try daemon.start()
        _ = try daemon.waitForJobs(2, timeout: 300)
        try drop("stopped.png")
        #expect(try waitForCheckpoint(3, 0.25), "job 3 ended before a quarter of it was recorded")
        daemon.process.terminate()
        daemon.process.waitUntilExit()
        #expect(daemon.process.terminationStatus == 0)
        try daemon.start()
        let jobs = try daemon.waitForJobs(3, timeout: 300)
        #expect(jobs.allSatisfy { $0["status"] as? String == "done" }, "\(jobs)")

        let whole = try Data(contentsOf: daemon.folder("outbox/posterize/whole.png"))
        for (id, name) in [(Int64(2), "killed.png"), (3, "stopped.png")] {
            let events = try store.job(id)?.1 ?? []
            let resumed = events.first { $0.kind == "resumed" }?.message ?? ""
            let from = Int(resumed.firstMatch(of: /from tile row ([0-9]+)/)?.1 ?? "") ?? 0
            #expect(from > 0 && from < rows, "job \(id): \(events.map { "\($0.kind): \($0.message)" })")
            print("\(width)x\(height) \(name): \(resumed)")
            #expect(try Data(contentsOf: daemon.folder("outbox/posterize/\(name)")) == whole, "\(name) differs from the uninterrupted output")
        }
        #expect(try daemon.files("work").isEmpty)
    }

    @Test func aBandCutShortResumesAndTheAssembledOutputIsTheUnsplitOne() throws {
        // 4000 x 4000 in bands of about 4 MP (960 rows): four bands (the last 1120 rows), two workers.
        let daemon = try Running(settings: ["workers": "2", "threads": "1", "checkpoint_seconds": "0", "band_megapixels": "4"])
        defer { daemon.stop() }
        let posterize = URL(fileURLWithPath: StylizeCommandTests.identity).deletingLastPathComponent().appendingPathComponent("posterize.safetensors")
        try FileManager.default.copyItem(at: posterize, to: daemon.root.appendingPathComponent("models/posterize.safetensors"))
        let picture = daemon.root.appendingPathComponent("picture.png"), reference = daemon.root.appendingPathComponent("reference.png")
        try MemoryBudgetTests.writeLarge(picture, width: 4000, height: 4000, interlace: false)
        let single = try tessera(["stylize", picture.path, reference.path, "--style", posterize.path, "--threads", "2"])
        #expect(single.status == 0, "\(single.stderr)")
        try FileManager.default.createDirectory(at: daemon.folder("inbox/posterize"), withIntermediateDirectories: true)
        #expect(link(picture.path, daemon.folder("inbox/posterize/picture.png").path) == 0)
        let store = try daemon.store()
        // Killed once a band has recorded half its rows.
        var cut: Job?
        let deadline = Date().addingTimeInterval(120)
        while cut == nil && Date() < deadline {
            cut = try store.jobs(status: .running).first { job in job.bandRows.map { job.resumeTileRows >= $0.lowerBound + $0.count / 2 } ?? false }
            usleep(5_000)
        }
        let band = try #require(cut, "no band recorded half its rows")
        kill(daemon.process.processIdentifier, SIGKILL)
        daemon.process.waitUntilExit()
        let listed = try tessera(["jobs"], environment: ["TESSERA_ROOT": daemon.folder("").path])
        #expect(listed.stdout.contains("(band \(band.band) of job 1)") && listed.stdout.contains("bands left)"), "\(listed.stdout)")
        try daemon.start()
        let finished = Date().addingTimeInterval(300)
        while try store.job(1)?.0.status != .done && Date() < finished { usleep(100_000) }
        let (job, _) = try #require(try store.job(1))
        #expect(job.status == .done && job.bands == 4, "\(job.status) in \(job.bands) bands")
        let events = try store.job(band.id)?.1 ?? []
        #expect(events.filter { $0.kind == "started" }.count == 2, "\(events.map(\.kind))")
        let resumed = events.first { $0.kind == "resumed" }?.message ?? ""
        // From its checkpoint as read before the kill, or a later one recorded before the kill landed.
        let from = Int(resumed.prefixMatch(of: /from tile row ([0-9]+)/)?.1 ?? "") ?? 0
        #expect(from >= band.resumeTileRows && from < band.bandEnd, "\(events.map { "\($0.kind): \($0.message)" })")
        #expect(try Data(contentsOf: daemon.folder("outbox/posterize/picture.png")) == Data(contentsOf: reference), "the assembled output differs")
        let resumedFrom = try #require(try store.bands(of: 1).first { $0.id == band.id })
        print("band \(band.band) (tile rows \(band.bandStart)-\(band.bandEnd - 1)) killed at \(band.resumeTileRows); bands: \(try store.bands(of: 1).map(\.status))")
        #expect(resumedFrom.status == .done)
        let shown = try tessera(["job", "1"], environment: ["TESSERA_ROOT": daemon.folder("").path])
        #expect(shown.stdout.contains("bands:    4 (0 not done)"), "\(shown.stdout)")
        #expect(try daemon.files("work").isEmpty)
        #expect(try daemon.files("archive/posterize") == ["picture.png"])
    }
}
