// Several daemons on several hosts sharing one PostgreSQL queue and one folder tree (the `store`
// setting): each host a network namespace with its own hostname, reaching a server of the test's
// own over a veth link (or, where namespaces cannot be made, processes on loopback). A daemon
// killed, a daemon paused past its lease, the server restarted: every file still ends with
// exactly one output, equal to its input (identity style), and one `done`. A 20000 x 20000 image
// is split into bands that the three hosts share, and its output is the one a single process makes.

import ConvCore
import Foundation
@testable import Imaging
import JobStore
import TestSupport
import Testing

@Suite(.serialized, .tags(.slow)) struct ClusterTests {
    /// Three hosts' daemons over one shared root (inbox, outbox, archive, models) and one database.
    final class Cluster {
        let root: URL
        let hosts: [SimulatedHost]
        let server: PostgresServer
        /// The test's own view of the queue, over loopback.
        let store: PostgresStore
        let database: String
        var daemons: [Process]
        let settings: [String: String]
        var inputs: [String: Tensor] = [:]

        init(hosts count: Int = 3, settings: [String: String] = [:]) throws {
            let tag = String(UUID().uuidString.prefix(6)).lowercased()
            hosts = (0..<count).map { SimulatedHost(index: $0, cluster: tag) }
            server = try PostgresServer(listening: hosts.filter(\.isolated).map(\.gateway))
            let url = try server.database()
            database = String(url.split(separator: "/").last!.split(separator: "?")[0])
            store = try PostgresStore(url: url)
            root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-cluster-\(tag)")
            let models = root.appendingPathComponent("models")
            try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
            for style in ["identity", "edges"] {
                try FileManager.default.copyItem(atPath: Self.models.appendingPathComponent("\(style).safetensors").path,
                                                 toPath: models.appendingPathComponent("\(style).safetensors").path)
            }
            self.settings = ["workers": "1", "threads": "1", "stable_seconds": "0.5", "lease_seconds": "3", "heartbeat_seconds": "0.5",
                             "sweep_seconds": "0.5", "scan_seconds": "1"].merging(settings) { $1 }
            daemons = hosts.map { _ in Process() }
            for i in hosts.indices { try start(i) }
            let deadline = Date().addingTimeInterval(30)
            while try alive() < count && Date() < deadline { usleep(100_000) }
        }

        static let models = URL(fileURLWithPath: StylizeCommandTests.identity).deletingLastPathComponent()

        func folder(_ path: String) -> URL { root.appendingPathComponent("var/\(path)") }
        func files(_ path: String) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: folder(path).path).sorted() }
        func log(_ i: Int) -> String { (try? String(contentsOf: root.appendingPathComponent("daemon-\(i).log"), encoding: .utf8)) ?? "" }

        func alive() throws -> Int {
            let summary = try store.summary()
            return summary.daemons.filter { $0.isAlive(at: summary.now, within: 3) }.count
        }

        /// Starts host `i`'s daemon (again).
        func start(_ i: Int) throws {
            var environment = ProcessInfo.processInfo.environment
            environment["TESSERA_ROOT"] = root.appendingPathComponent("var").path
            environment["TESSERA_MODELS"] = root.appendingPathComponent("models").path
            environment["TESSERA_STORE"] = server.url(database, address: hosts[i].gateway)
            for (key, value) in settings { environment["TESSERA_\(key.uppercased())"] = value }
            let command = hosts[i].command([tesseraBinary.path, "daemon"] + (getuid() == 0 ? ["--allow-root"] : []))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
            process.environment = environment
            process.standardError = try appendingHandle(to: root.appendingPathComponent("daemon-\(i).log"))
            try process.run()
            daemons[i] = process
        }

        /// `count` small noisy PNGs made in a staging folder, their pixels kept.
        func stage(_ count: Int) throws -> [URL] {
            let staging = root.appendingPathComponent("staging")
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
            return try (0..<count).map { n in
                let url = staging.appendingPathComponent(String(format: "p%03d.png", n))
                try ImageFile.save(DaemonCommandTests.image(UInt64(5000 + n), width: 120 + n % 40, height: 90), bitDepth: 8, to: url)
                inputs[url.lastPathComponent] = try ImageFile.load(url).pixels
                return url
            }
        }

        /// Moves staged files into the shared inbox, as a user's copy would finish.
        func drop(_ staged: [URL]) throws {
            try FileManager.default.createDirectory(at: folder("inbox/identity"), withIntermediateDirectories: true)
            for url in staged { #expect(rename(url.path, folder("inbox/identity/\(url.lastPathComponent)").path) == 0) }
        }

        func count(_ status: Job.Status) throws -> Int { try store.summary().counts[status] ?? 0 }

        /// Waits until `count` jobs are done (or the time is up).
        func waitUntilDone(_ count: Int, timeout: Double) throws {
            let deadline = Date().addingTimeInterval(timeout)
            while try self.count(.done) < count && Date() < deadline { usleep(100_000) }
        }

        /// Pauses host `i`'s daemon at a moment it runs a job; returns that job (nil if it never had one).
        func pauseWhileRunning(_ i: Int, timeout: Double = 30) throws -> Job? {
            let pid = daemons[i].processIdentifier, deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                kill(pid, SIGSTOP)
                let held = try store.jobs(status: .running, limit: 1000).filter { $0.worker?.hasPrefix("\(hosts[i].name):\(pid)/") == true }
                if let job = held.first { return job }
                kill(pid, SIGCONT)
                usleep(UInt32.random(in: 5_000...40_000))
            }
            return nil
        }

        /// Every dropped file has one output equal to it and is archived; each job is done once; no
        /// temporary file is left (a dead host's go within ten sweeps, 5 s here).
        func expectExactlyOneOutputEach(_ context: String) throws {
            let names = inputs.keys.sorted()
            // A source whose move the database's absence stopped is moved at a later scan (3 scans after its job).
            let deadline = Date().addingTimeInterval(10)
            while try files("outbox/identity").count > names.count || !files("inbox/identity").isEmpty, Date() < deadline { usleep(200_000) }
            let (outbox, archive) = (try files("outbox/identity"), try files("archive/identity"))
            #expect(outbox == names, "\(context): outbox: \(Set(outbox).symmetricDifference(names).sorted())")
            #expect(archive == names, "\(context): archive: \(Set(archive).symmetricDifference(names).sorted())")
            #expect(try files("inbox/identity").isEmpty, "\(context): inbox")
            for (name, pixels) in inputs { #expect(try ImageFile.load(folder("outbox/identity/\(name)")).pixels == pixels, "\(context): \(name)") }
            let jobs = try store.jobs(limit: 10_000)
            #expect(jobs.count == names.count && jobs.allSatisfy { $0.status == .done }, "\(context): \(jobs.count) jobs")
            for job in jobs {
                let done = try store.job(job.id)?.1.filter { $0.kind == "done" }.count
                #expect(done == 1, "\(context): job \(job.id) done \(done ?? 0) times")
            }
        }

        func stop() {
            for process in daemons where process.isRunning {
                kill(process.processIdentifier, SIGCONT)
                process.terminate()
                process.waitUntilExit()
            }
            hosts.forEach { $0.remove() }
            try? FileManager.default.removeItem(at: root)
        }
    }

    @Test func threeHostsShareTheQueueAndAKilledDaemonsJobsAreRunByTheOthers() throws {
        let cluster = try Cluster()
        defer { cluster.stop() }
        #expect(try cluster.alive() == 3, "\((0..<3).map(cluster.log).joined())")
        let staged = try cluster.stage(300)
        let started = Date()
        try cluster.drop(staged)
        try cluster.waitUntilDone(60, timeout: 60)
        let held = try #require(try cluster.pauseWhileRunning(0), "host 0 never ran a job")
        kill(cluster.daemons[0].processIdentifier, SIGKILL)
        let killed = Date().timeIntervalSince1970
        cluster.daemons[0].waitUntilExit()
        try cluster.waitUntilDone(300, timeout: 180)
        print("cluster: 300 files over 3 hosts (one killed after \(Int(killed - started.timeIntervalSince1970)) s) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s; hosts isolated: \(cluster.hosts.map(\.isolated))")
        try cluster.expectExactlyOneOutputEach("after a SIGKILL")
        let (job, events) = try #require(try cluster.store.job(held.id))
        let recovered = try #require(events.first { $0.kind == "recovered" }, "\(events.map(\.kind))")
        // Its lease (3 s) runs out, and the next sweep (every 0.5 s) gives it back: within lease + sweep, and a little.
        #expect(recovered.at - killed < 3 + 0.5 + 1.5, "recovered \(recovered.at - killed) s after the kill")
        #expect(job.worker?.hasPrefix("\(cluster.hosts[0].name):\(cluster.daemons[0].processIdentifier)/") == false, "\(job.worker ?? "")")
        let workers = Set(try cluster.store.jobs(limit: 1000).compactMap { $0.worker?.split(separator: "/").first })
        #expect(workers.count == 3, "\(workers)") // every host did some of the work
        // `tessera status` from any host: the killed daemon is lost, the others alive, with their tiles/s.
        let status = try tessera(["status", "--json"], environment: ["TESSERA_STORE": cluster.server.url(cluster.database), "TESSERA_LEASE_SECONDS": "3",
                                                                     "TESSERA_HEARTBEAT_SECONDS": "0.5", "TESSERA_ROOT": cluster.folder("").path])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any], "\(status.stderr)")
        let daemons = (report["daemons"] as? [[String: Any]]) ?? []
        let victim = "\(cluster.hosts[0].name):\(cluster.daemons[0].processIdentifier)"
        #expect(daemons.count == 3 && daemons.allSatisfy { ($0["state"] as? String) == (($0["id"] as? String) == victim ? "lost" : "alive") }, "\(daemons)")
        #expect(daemons.filter { ($0["tiles_per_second"] as? Double ?? 0) > 0 }.count >= 2, "\(daemons)")
    }

    @Test func aDaemonPausedPastItsLeaseCannotPublishLate() throws {
        let cluster = try Cluster()
        defer { cluster.stop() }
        try cluster.drop(try cluster.stage(40))
        try cluster.waitUntilDone(5, timeout: 60)
        let held = try #require(try cluster.pauseWhileRunning(0), "host 0 never ran a job")
        // Paused well past its lease: the sweeper gives the job to another daemon, which finishes it.
        let deadline = Date().addingTimeInterval(30)
        while try cluster.store.job(held.id)?.0.status != .done && Date() < deadline { usleep(100_000) }
        #expect(try cluster.store.job(held.id)?.0.status == .done)
        kill(cluster.daemons[0].processIdentifier, SIGCONT)
        try cluster.waitUntilDone(40, timeout: 60)
        usleep(2_000_000) // the resumed daemon's late attempt ends meanwhile
        try cluster.expectExactlyOneOutputEach("after a pause past the lease")
        let said = cluster.log(0).split(separator: "\n").filter { $0.contains("job \(held.id)") }
        print("paused daemon on job \(held.id): \(said)")
        #expect(said.contains { $0.contains("its lease ran out") }, "the resumed daemon: \(said)")
        #expect(cluster.daemons[0].isRunning)
    }

    @Test func theDatabaseRestartedMidRunLosesAndDoublesNothing() throws {
        let cluster = try Cluster()
        defer { cluster.stop() }
        try cluster.drop(try cluster.stage(150))
        try cluster.waitUntilDone(30, timeout: 60)
        try cluster.server.restart(pause: 2)
        try cluster.waitUntilDone(150, timeout: 180)
        try cluster.expectExactlyOneOutputEach("after a restart of the database")
        #expect(cluster.daemons.allSatisfy { $0.isRunning })
    }

    @Test func aHugeImageIsSplitIntoBandsThatTheHostsShare() throws {
        let cluster = try Cluster(settings: ["band_megapixels": "50", "max_megapixels": "500"])
        defer { cluster.stop() }
        // 20000 x 20000 (400 MP) from a photo, enlarged by libvips: bands of 2496 rows, 8 per image (the
        // last one 2528).
        let staging = cluster.root.appendingPathComponent("staging")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        let huge = staging.appendingPathComponent("huge.png")
        let photo = EvalCommandTests.repository.appendingPathComponent("Tests/EndToEndTests/Fixtures/photos/jxl-003.jpg")
        let small = try ImageSource(url: photo)
        let enlarged = try command(URL(fileURLWithPath: "/usr/bin/vips"), ["resize", photo.path, huge.path + "[compression=1]", "\(20000 / Double(small.width))",
                                                                            "--vscale", "\(20000 / Double(small.height))"])
        #expect(enlarged.status == 0, "\(enlarged.stderr)")
        // The single-process output of the shipped style, through the same renderer a daemon runs.
        let reference = staging.appendingPathComponent("reference.png")
        let single = try tessera(["stylize", huge.path, reference.path, "--style", Cluster.models.appendingPathComponent("edges.safetensors").path,
                                  "--threads", "2", "--max-megapixels", "500"])
        #expect(single.status == 0, "\(single.stderr)")
        let started = Date()
        for style in ["identity", "edges"] {
            try FileManager.default.createDirectory(at: cluster.folder("inbox/\(style)"), withIntermediateDirectories: true)
            #expect(link(huge.path, cluster.folder("inbox/\(style)/huge.png").path) == 0)
        }
        let deadline = Date().addingTimeInterval(600)
        while try cluster.store.jobs(limit: 100).filter({ $0.band == 0 && $0.status == .done }).count < 2 && Date() < deadline { usleep(500_000) }
        let seconds = Date().timeIntervalSince(started)
        let logs = (0..<3).map(cluster.log).joined()
        let jobs = try cluster.store.jobs(limit: 100)
        let parents = jobs.filter { $0.band == 0 }, bands = jobs.filter { $0.band > 0 }
        #expect(parents.count == 2 && parents.allSatisfy { $0.status == .done && $0.bands == 8 }, "\(parents.map { ($0.status, $0.bands) })\n\(logs)")
        #expect(bands.count == 16 && bands.allSatisfy { $0.status == .done }, "\(bands.map(\.status))")
        let hosts = Set(bands.compactMap { $0.worker?.split(separator: "/").first })
        #expect(hosts.count == 3, "bands ran on \(hosts)")
        // Peak memory per daemon: bounded by a band (its output is 150 MB of 8-bit samples; a
        // daemon measured 300 MB), not by the image (1.2 GB of 8-bit samples). Reading a band far
        // down the image once held every row above it: 1.2-1.3 GB per daemon.
        let peaks = cluster.daemons.map { peakResidentMegabytes(of: $0.processIdentifier) }
        print("bands: 2 jobs of 20000 x 20000 in 8 bands each over 3 hosts in \(String(format: "%.1f", seconds)) s; peak RSS per daemon \(peaks) MB; bands per host \(Dictionary(grouping: bands) { $0.worker?.split(separator: "/").first ?? "" }.mapValues(\.count))")
        #expect(peaks.allSatisfy { $0 > 0 && $0 < 600 }, "\(peaks)")
        #expect(try samePixels(cluster.folder("outbox/identity/huge.png"), huge), "identity: the output is not the input")
        #expect(try samePixels(cluster.folder("outbox/edges/huge.png"), reference), "edges: the bands' output is not the single process's")
        let leftInWork = try cluster.files("work")
        #expect(leftInWork.isEmpty, "\(leftInWork)")
        #expect(try cluster.files("archive/identity") == ["huge.png"] && cluster.files("archive/edges") == ["huge.png"])
    }

    /// A daemon's peak resident memory (VmHWM), in MB.
    private func peakResidentMegabytes(of pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1024
    }

    /// Whether two images have the same size and samples, compared 256 rows at a time.
    private func samePixels(_ a: URL, _ b: URL) throws -> Bool {
        let (x, y) = (try ImageSource(url: a, pixelLimit: 500_000_000), try ImageSource(url: b, pixelLimit: 500_000_000))
        guard (x.width, x.height, x.bands) == (y.width, y.height, y.bands) else { return false }
        let (rx, ry) = (RowReader(x), RowReader(y)), count = 256 * x.width * x.bands
        var (p, q) = ([Float](repeating: 0, count: count), [Float](repeating: 0, count: count))
        for first in stride(from: 0, to: x.height, by: 256) {
            let rows = first..<min(first + 256, x.height)
            try p.withUnsafeMutableBufferPointer { try rx.read(rows: rows, into: $0.baseAddress!) }
            try q.withUnsafeMutableBufferPointer { try ry.read(rows: rows, into: $0.baseAddress!) }
            if p != q { return false }
        }
        return true
    }
}
