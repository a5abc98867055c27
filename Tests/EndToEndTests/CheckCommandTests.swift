// `tessera check` finds what would stop the daemon, one line each, and exits non-zero: a bad key,
// a bad value, a corrupt model file, an unwritable folder, a database that cannot be written.

import Foundation
import JobStore
import Testing

@Suite(.serialized) struct CheckCommandTests {
    static func installation() throws -> (root: URL, config: URL) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("models"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: StylizeCommandTests.identity, toPath: root.appendingPathComponent("models/identity.safetensors").path)
        let config = root.appendingPathComponent("tessera.yaml")
        try Data("root: \(root.path)/var\nmodels: \(root.path)/models\n".utf8).write(to: config)
        return (root, config)
    }

    static func check(_ config: URL, environment: [String: String] = [:], wrapper: [String] = []) throws -> Run {
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("TESSERA_") { env[key] = nil }
        env.merge(environment) { $1 }
        guard let runner = wrapper.first else { return try tessera(["check", "--config", config.path], environment: env) }
        return try command(URL(fileURLWithPath: runner), Array(wrapper.dropFirst()) + [tesseraBinary.path, "check", "--config", config.path], environment: env)
    }

    @Test func aGoodInstallationPassesAndSaysWhereEachValueCameFrom() throws {
        let (root, config) = try Self.installation()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = try Self.check(config, environment: ["TESSERA_WORKERS": "3"])
        #expect(run.status == 0 && run.stderr.isEmpty, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(lines.contains(["workers", "3", "TESSERA_WORKERS"]))
        #expect(lines.contains(["models", "\(root.path)/models", config.path]))
        #expect(lines.contains(["memory_budget", "1024", "default"]))
    }

    @Test func eachProblemIsOneLineAndTheExitCodeSaysSo() throws {
        let (root, config) = try Self.installation()
        defer { try? FileManager.default.removeItem(at: root) }
        let base = try String(contentsOf: config, encoding: .utf8)
        func expectProblem(_ yaml: String, environment: [String: String] = [:], _ expected: String) throws {
            try Data((base + yaml).utf8).write(to: config)
            let run = try Self.check(config, environment: environment)
            #expect(run.status != 0, "\(yaml): \(run.stdout)")
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains(expected), "\(yaml): \(run.stderr)")
        }
        try expectProblem("workrs: 4\n", "\(config.path): unknown key 'workrs'")
        try expectProblem("threads: abc\n", "\(config.path): threads: 'abc' is not a whole number")
        try expectProblem("workers: [1, 2]\n", "workers: not a single value")
        try expectProblem("", environment: ["TESSERA_STABLE_SECONDS": "-5"], "TESSERA_STABLE_SECONDS: stable_seconds: '-5'")
        // A corrupt model file.
        let broken = root.appendingPathComponent("models/broken.safetensors")
        try Data(try Data(contentsOf: URL(fileURLWithPath: StylizeCommandTests.identity)).prefix(100)).write(to: broken)
        try expectProblem("", "style broken: ")
        try FileManager.default.removeItem(at: broken)
        // A folder that cannot be made: its parent is a file.
        try Data("x".utf8).write(to: root.appendingPathComponent("plain-file"))
        try expectProblem("outbox: \(root.path)/plain-file/outbox\n", "outbox: \(root.path)/plain-file/outbox cannot be created")
    }

    @Test func aDatabaseThatCannotBeWrittenIsFound() throws {
        let (root, config) = try Self.installation()
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try SQLiteStore(path: "\(root.path)/var/tessera.sqlite")
        if getuid() == 0 {
            // Root writes anything: the check runs as nobody, who may read the database but not write it.
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { Issue.record("needs setpriv"); return }
            for path in [root.path, "\(root.path)/var", "\(root.path)/models"] { chmod(path, 0o755) }
            for file in try FileManager.default.contentsOfDirectory(atPath: "\(root.path)/var") { chmod("\(root.path)/var/\(file)", 0o644) }
            chmod(config.path, 0o644)
            chmod("\(root.path)/models/identity.safetensors", 0o644)
            let run = try Self.check(config, wrapper: ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            #expect(run.status != 0)
            #expect(run.stderr.contains("database: \(root.path)/var/tessera.sqlite: cannot be written"), "\(run.stderr)")
            #expect(run.stderr.contains("inbox: \(root.path)/var/inbox cannot be created"), "\(run.stderr)")
        } else {
            chmod("\(root.path)/var/tessera.sqlite", 0o444)
            let run = try Self.check(config)
            #expect(run.status != 0 && run.stderr.contains("database: \(root.path)/var/tessera.sqlite: cannot be written"), "\(run.stderr)")
        }
    }
}
