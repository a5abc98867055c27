// The service as an administrator installs it: the unit verifies and is hardened (systemd-analyze,
// from Debian's `systemd` package, which the README's test command installs), every system call
// the daemon and its ExecStartPre make is one the unit's filter allows, and deploy/install.sh
// installs (binary, man page, completions, settings, styles, unit) without a running systemd and
// uninstalls, keeping the data unless --purge.

import Foundation
import Imaging
import Testing

@Suite(.serialized, .tags(.slow)) struct ServiceTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let unit = repository.appendingPathComponent("deploy/tessera.service")
    static let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static func analyze(_ arguments: [String]) throws -> Run? {
        guard let analyze else {
            Issue.record("systemd-analyze is not installed (apt-get install -y systemd)")
            return nil
        }
        return try command(URL(fileURLWithPath: analyze), arguments)
    }

    /// The unit with its commands pointing at the built binary (verify wants them to exist).
    static func builtUnit(in folder: URL) throws -> URL {
        let text = try String(contentsOf: unit, encoding: .utf8).replacingOccurrences(of: "/usr/local/bin/tessera", with: tesseraBinary.path)
        let copy = folder.appendingPathComponent("tessera.service")
        try Data(text.utf8).write(to: copy)
        return copy
    }

    static func scratch() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-service-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func theUnitVerifiesAndItsExposureIsAtMostOnePointFive() throws {
        let folder = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let unit = try Self.builtUnit(in: folder)
        guard let verify = try Self.analyze(["verify", unit.path]), let security = try Self.analyze(["security", "--offline=true", unit.path]) else { return }
        #expect(verify.status == 0 && verify.stderr.isEmpty && verify.stdout.isEmpty, "\(verify.stdout)\(verify.stderr)")
        let exposure = security.stdout.firstMatch(of: /Overall exposure level for tessera\.service: ([0-9.]+)/).flatMap { Double($0.1) }
        #expect(security.status == 0 && exposure != nil && exposure! <= 1.5, "exposure \(exposure ?? -1):\n\(security.stdout)")
        for setting in ["SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes", "ProtectProc=invisible", "ProcSubset=pid",
                        "PrivateUsers=yes", "RemoveIPC=yes", "DevicePolicy=closed", "IPAddressDeny=any", "ExecStartPre="] {
            #expect(try String(contentsOf: unit, encoding: .utf8).contains(setting), "\(setting)")
        }
    }

    /// The names in systemd's group `name` (`@system-service`), groups expanded.
    static func systemCalls(in name: String) throws -> Set<String> {
        guard let listing = try analyze(["syscall-filter"]) else { return [] }
        var groups: [String: [String]] = [:], current = ""
        for line in listing.stdout.split(separator: "\n") {
            let entry = line.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("@") { current = entry } else if !entry.isEmpty && !entry.hasPrefix("#") { groups[current, default: []].append(entry) }
        }
        func expand(_ group: String) -> Set<String> {
            Set((groups[group] ?? []).flatMap { $0.hasPrefix("@") ? expand($0) : [$0] })
        }
        return expand(name)
    }

    /// The system calls in an strace -f log (`PID name(...`).
    static func calls(in log: URL) throws -> Set<String> {
        let text = try String(contentsOf: log, encoding: .utf8)
        return Set(text.split(separator: "\n").compactMap { line in line.firstMatch(of: /^[0-9]+ +([a-z_0-9]+)\(/).map { String($0.1) } })
    }

    /// The daemon through a good and a bad job, a reload and a stop, and `tessera check`, under
    /// strace: each call must be in @system-service (the unit's SystemCallFilter; others would
    /// fail with EPERM).
    @Test func everySystemCallTheServiceMakesIsInItsFilter() throws {
        guard let strace = CrashPointTests.strace else {
            Issue.record("strace is not installed (apt-get install -y strace)")
            return
        }
        let allowed = try Self.systemCalls(in: "@system-service")
        #expect(allowed.count > 300 && allowed.contains("openat") && !allowed.contains("reboot"), "\(allowed.count) calls")
        let daemon = try DaemonCommandTests.Running(start: false)
        defer { daemon.stop() }
        let log = daemon.root.appendingPathComponent("strace.log"), checkLog = daemon.root.appendingPathComponent("check.log")
        let check = try command(URL(fileURLWithPath: strace), ["-f", "-qq", "-o", checkLog.path, tesseraBinary.path, "check"], environment: daemon.environment)
        #expect(check.status == 0, "\(check.stderr)")
        try daemon.start(wrapper: [strace, "-f", "-qq", "-o", log.path])
        try FileManager.default.createDirectory(at: daemon.folder("inbox/identity"), withIntermediateDirectories: true)
        try ImageFile.save(DaemonCommandTests.image(3), bitDepth: 8, to: daemon.root.appendingPathComponent("good.png"))
        try FileManager.default.moveItem(at: daemon.root.appendingPathComponent("good.png"), to: daemon.folder("inbox/identity/good.png"))
        try Data("not a png\n".utf8).write(to: daemon.folder("inbox/identity/bad.png"))
        let jobs = try daemon.waitForJobs(2)
        #expect(jobs.map { $0["status"] as? String ?? "" }.sorted() == ["done", "failed"], "\(jobs)")
        // strace passes no signal on: the daemon (its child) gets them itself.
        let tracer = daemon.process.processIdentifier
        let children = (try? String(contentsOfFile: "/proc/\(tracer)/task/\(tracer)/children", encoding: .utf8)) ?? ""
        let pid = try #require(children.split(separator: " ").compactMap { Int32($0) }.first)
        kill(pid, SIGHUP)
        usleep(500_000)
        kill(pid, SIGTERM)
        daemon.process.waitUntilExit()
        let made = try Self.calls(in: log).union(try Self.calls(in: checkLog))
        #expect(made.contains("inotify_add_watch") && made.contains("renameat2") && made.contains("fsync"), "\(made.sorted())")
        #expect(made.subtracting(allowed).isEmpty, "outside @system-service: \(made.subtracting(allowed).sorted())")
    }

    /// install.sh into a staging folder (DESTDIR), where no systemd runs: it installs everything,
    /// says what to enable and exits 0; --uninstall removes what it installed and keeps the
    /// settings and the data; --uninstall --purge removes those too.
    @Test func installWithoutSystemdThenUninstallThenPurge() throws {
        let destination = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: destination) }
        let script = Self.repository.appendingPathComponent("deploy/install.sh")
        var environment = ProcessInfo.processInfo.environment
        environment["DESTDIR"] = destination.path
        func at(_ path: String) -> String { destination.path + path }
        func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: at(path)) }

        let install = try command(script, ["--binary", tesseraBinary.path], environment: environment)
        #expect(install.status == 0, "\(install.stdout)\(install.stderr)")
        #expect(install.stdout.contains("systemd is not running here") && install.stdout.contains("systemctl enable --now tessera"), "\(install.stdout)")
        let installed = ["/usr/local/bin/tessera", "/usr/local/share/man/man1/tessera.1", "/usr/local/share/bash-completion/completions/tessera",
                         "/usr/local/share/zsh/site-functions/_tessera", "/usr/local/share/fish/vendor_completions.d/tessera.fish",
                         "/usr/local/share/doc/tessera/README.md", "/etc/systemd/system/tessera.service"]
        for path in installed { #expect(exists(path), "\(path) is not installed") }
        let kept = ["/etc/tessera/tessera.yaml", "/var/lib/tessera/models/posterize.safetensors"]
        for path in kept { #expect(exists(path), "\(path) is not installed") }
        let manual = (try? String(contentsOfFile: at("/usr/local/share/man/man1/tessera.1"), encoding: .utf8)) ?? ""
        #expect(manual.contains(".Dt TESSERA 1") && manual.contains("stylize") && manual.contains("archive_days"), "the man page lacks commands or settings")
        let completions = [("bash-completion/completions/tessera", "-F _tessera tessera"), ("zsh/site-functions/_tessera", "#compdef tessera"),
                           ("fish/vendor_completions.d/tessera.fish", "complete -c 'tessera'")]
        for (path, mark) in completions {
            let text = (try? String(contentsOfFile: at("/usr/local/share/\(path)"), encoding: .utf8)) ?? ""
            #expect(text.contains(mark) && text.contains("stylize"), "\(path)")
        }
        let version = try command(URL(fileURLWithPath: at("/usr/local/bin/tessera")), ["--version"])
        #expect(version.status == 0 && !version.stdout.isEmpty)

        // An administrator's edit of the settings survives a reinstall.
        try Data("root: /srv/tessera\n".utf8).write(to: URL(fileURLWithPath: at("/etc/tessera/tessera.yaml")))
        #expect(try command(script, ["--binary", tesseraBinary.path], environment: environment).status == 0)
        #expect((try? String(contentsOfFile: at("/etc/tessera/tessera.yaml"), encoding: .utf8)) == "root: /srv/tessera\n")

        let uninstall = try command(script, ["--uninstall"], environment: environment)
        #expect(uninstall.status == 0 && uninstall.stdout.contains("kept"), "\(uninstall.stdout)\(uninstall.stderr)")
        for path in installed { #expect(!exists(path), "\(path) is left after --uninstall") }
        for path in kept { #expect(exists(path), "\(path) is removed by --uninstall") }

        let purge = try command(script, ["--uninstall", "--purge"], environment: environment)
        #expect(purge.status == 0, "\(purge.stdout)\(purge.stderr)")
        for path in kept + ["/etc/tessera", "/var/lib/tessera"] { #expect(!exists(path), "\(path) is left after --purge") }

        let wrong = try command(script, ["--purge"], environment: environment)
        #expect(wrong.status == 2 && wrong.stderr.contains("--purge goes with --uninstall"))
    }
}
