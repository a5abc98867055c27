// An installation's settings: Config/tessera.yaml (or --config) through swift-configuration, each key
// overridable by a TESSERA_* environment variable, and embedded defaults under ./var.

import Configuration
import SystemPackage
import Foundation

/// An installation's folders, database, models and daemon knobs (DESIGN.md §9).
public struct Settings: Sendable {
    public var root: String
    public var database: String
    public var inbox: String
    public var outbox: String
    public var archive: String
    public var failed: String
    /// The daemon's own folder: decoded pixels of images that need random access, and the
    /// finished strips of long jobs.
    public var work: String
    public var models: String
    public var workers: Int
    public var threads: Int
    public var stableSeconds: Double
    public var scanSeconds: Double
    public var maxMegapixels: Int
    public var attempts: Int
    /// Megabytes (MiB) the whole daemon may hold; jobs wait for room and larger ones fail.
    public var memoryBudget: Int
    /// How often a long job records its finished strips (0: after every strip).
    public var checkpointSeconds: Double
    /// The file mode creation mask the daemon sets at start (whatever it inherited).
    public var umask: mode_t
    /// A group the database files are shared with (mode 0640 instead of 0600).
    public var group: String?

    /// Every key, its meaning, for `--help` and the README.
    public static let keys: [(String, String)] = [
        ("root", "folder for the defaults below (./var)"),
        ("database", "SQLite file (<root>/tessera.sqlite)"),
        ("inbox", "inbox root; one folder per style (<root>/inbox)"),
        ("outbox", "outputs, per style (<root>/outbox)"),
        ("archive", "sources of finished jobs, per style (<root>/archive)"),
        ("failed", "sources of failed jobs with <name>.error.txt (<root>/failed)"),
        ("work", "the daemon's scratch files and finished strips of long jobs (<root>/work)"),
        ("models", "folder of style model files (Models)"),
        ("workers", "jobs run at once (2: one decodes and encodes while the other computes)"),
        ("threads", "conv-core threads per job (all cores)"),
        ("stable_seconds", "a new file counts once its size is unchanged this long (1)"),
        ("scan_seconds", "full rescan of the inbox as a safety net (10)"),
        ("max_megapixels", "larger images fail (250)"),
        ("attempts", "tries before a transient failure is final (3)"),
        ("memory_budget", "MiB the daemon may use; jobs wait for room, an image that needs more fails (1024)"),
        ("checkpoint_seconds", "a long job (4 MP and up) records its finished strips this often; a restart continues from them (1)"),
        ("umask", "file mode creation mask set at start, octal (0027: folders 0750, outputs 0640)"),
        ("group", "group the database files are shared with, mode 0640 (none: 0600)"),
    ]

    /// Where settings are looked for without --config: a checkout's own file, then the installed
    /// service's (so the CLI finds the service's database from anywhere).
    public static let searchPath = ["Config/tessera.yaml", "/etc/tessera/tessera.yaml"]

    /// Reads `path` (must exist) or, without one, the first file of `searchPath` present; then the
    /// environment.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> Settings {
        let env = KeyMappingProvider(upstream: EnvironmentVariablesProvider(environmentVariables: environment)) { $0.prepending(["tessera"]) }
        var providers: [any ConfigProvider] = [env]
        let file = path ?? searchPath.first { FileManager.default.fileExists(atPath: $0) }
        if let file {
            guard FileManager.default.fileExists(atPath: file) else { throw SettingsError("\(file): no such configuration file") }
            do { providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(file))) } catch {
                throw SettingsError("\(file): \(error)")
            }
        }
        let config = ConfigReader(providers: providers)
        let root = config.string(forKey: "root", default: "./var")
        func folder(_ key: String, _ name: String) -> String { config.string(forKey: ConfigKey(key), default: "\(root)/\(name)") }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let umaskText = config.string(forKey: "umask", default: "0027")
        var settings = Settings(
            root: root, database: folder("database", "tessera.sqlite"), inbox: folder("inbox", "inbox"),
            outbox: folder("outbox", "outbox"), archive: folder("archive", "archive"), failed: folder("failed", "failed"),
            work: folder("work", "work"),
            models: config.string(forKey: "models", default: "Models"),
            workers: config.int(forKey: "workers", default: 2), threads: config.int(forKey: "threads", default: cores),
            stableSeconds: config.double(forKey: "stable_seconds", default: 1), scanSeconds: config.double(forKey: "scan_seconds", default: 10),
            maxMegapixels: config.int(forKey: "max_megapixels", default: 250), attempts: config.int(forKey: "attempts", default: 3),
            memoryBudget: config.int(forKey: "memory_budget", default: 1024),
            checkpointSeconds: config.double(forKey: "checkpoint_seconds", default: 1),
            umask: 0o027, group: config.string(forKey: "group"))
        guard let mask = mode_t(umaskText, radix: 8), mask <= 0o777 else {
            throw SettingsError("umask: '\(umaskText)' is not an octal mask such as 0027")
        }
        settings.umask = mask
        guard settings.workers >= 1, settings.threads >= 1, settings.attempts >= 1, settings.maxMegapixels >= 1 else {
            throw SettingsError("workers, threads, attempts and max_megapixels must be at least 1")
        }
        guard settings.memoryBudget >= 256 else { throw SettingsError("memory_budget: \(settings.memoryBudget) MiB is too little; at least 256") }
        return settings
    }
}

/// A settings file or value that cannot be used, with the reason.
public struct SettingsError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
