// An installation's settings: Config/tessera.yaml (or --config) through swift-configuration, each key
// overridable by a TESSERA_* environment variable, and embedded defaults under ./var.

import Configuration
import SystemPackage
import Foundation

/// An installation's folders, database, models and daemon knobs (DESIGN.md §9).
public struct Settings: Sendable {
    public var root: String
    /// The SQLite file: the job queue unless `store` names another, and always the training runs.
    public var database: String
    /// Where the job queue is: the SQLite file, or a PostgreSQL database several daemons share.
    public var store: StoreAddress
    /// On a shared queue: how long a claim holds without renewal, how often a daemon renews its
    /// claims, and how often the cluster's sweeper looks for claims that ran out.
    public var leaseSeconds: Double
    public var heartbeatSeconds: Double
    public var sweepSeconds: Double
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
    /// How the inbox is watched: inotify (local disks) or by listing it (network file systems).
    public var watch: WatchMode
    /// With `watch: poll`, how often the inbox is listed.
    public var pollSeconds: Double
    public var maxMegapixels: Int
    /// An image of more than twice this many megapixels is split into bands of about this size
    /// that any worker of the queue may take (0: never split; the default on one host's SQLite
    /// file, where a band's decoding of the rows above it only costs time).
    public var bandMegapixels: Int
    public var attempts: Int
    /// Megabytes (MiB) the whole daemon may hold; jobs wait for room and larger ones fail.
    public var memoryBudget: Int
    /// How often a long job records its finished strips (0: after every strip).
    public var checkpointSeconds: Double
    /// What becomes of an inbox file whose job is done (a failed one always goes to failed/).
    public var after: AfterDone
    /// Days a source stays in archive/ after its job (nil: for ever).
    public var archiveDays: Double?
    /// The file mode creation mask the daemon sets at start (whatever it inherited).
    public var umask: mode_t
    /// A group the database files are shared with (mode 0640 instead of 0600).
    public var group: String?

    /// Every key, its meaning, for `--help` and the README.
    public static let keys: [(String, String)] = [
        ("root", "folder for the defaults below (./var)"),
        ("database", "SQLite file (<root>/tessera.sqlite)"),
        ("store", "the job queue: sqlite:PATH, or postgres://user:password@host:port/database (?sslmode=disable|prefer|require) that several daemons share (the database file)"),
        ("lease_seconds", "a running job's claim holds this long unless its daemon renews it; then another daemon runs it (60)"),
        ("heartbeat_seconds", "a daemon renews its claims this often (10)"),
        ("sweep_seconds", "claims that ran out are looked for this often (15; one daemon of a shared queue at a time)"),
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
        ("watch", "inotify (local disks) or poll (NFS and other network file systems, whose other clients' writes inotify does not see) (inotify)"),
        ("poll_seconds", "with watch: poll, the inbox is listed this often; a file counts once two listings at least max(stable_seconds, poll_seconds) apart saw the same size and mtime (2)"),
        ("max_megapixels", "larger images fail (250)"),
        ("band_megapixels", "an image of more than twice this size is split into bands of about this many megapixels that any worker, on any host, may take; its output is assembled from them (the work folder must then be shared); 0 never splits (50 with a PostgreSQL store, else 0)"),
        ("attempts", "tries before a transient failure is final (3)"),
        ("memory_budget", "MiB the daemon may use; jobs wait for room, an image that needs more fails (1024)"),
        ("checkpoint_seconds", "a long job (4 MP and up) records its finished strips this often; a restart continues from them (1)"),
        ("after", "what becomes of an inbox file once its job is done: archive (moved to archive/<style>/) or delete (archive)"),
        ("archive_days", "sources are removed from archive/ this many days after their job (none: kept)"),
        ("umask", "file mode creation mask set at start, octal (0027: folders 0750, outputs 0640)"),
        ("group", "group the database files are shared with, mode 0640 (none: 0600)"),
    ]

    /// Where settings are looked for without --config: a checkout's own file, then the installed
    /// service's (so the CLI finds the service's database from anywhere).
    public static let searchPath = ["Config/tessera.yaml", "/etc/tessera/tessera.yaml"]

    /// Where each key's value came from: the settings file, a `TESSERA_*` variable or the default.
    public private(set) var origins: [String: String] = [:]

    /// Reads `path` (must exist) or, without one, the first file of `searchPath` present; then the
    /// environment. Unknown keys in the file, values of the wrong type and values out of range are
    /// refused with one line naming the file or variable, the key and the value.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> Settings {
        let file = path ?? searchPath.first { FileManager.default.fileExists(atPath: $0) }
        var fileReader: ConfigReader?
        if let file {
            guard FileManager.default.fileExists(atPath: file) else { throw SettingsError("\(file): no such configuration file") }
            do { fileReader = ConfigReader(provider: try await FileProvider<YAMLSnapshot>(filePath: FilePath(file))) } catch {
                throw SettingsError("\(file): \(error)")
            }
            let known = Set(keys.map(\.0))
            for key in try topLevelKeys(file) where !known.contains(key) {
                throw SettingsError("\(file): unknown key '\(key)' (known: \(keys.map(\.0).joined(separator: ", ")))")
            }
        }
        var origins: [String: String] = [:]
        /// The key's text and where it came from, or nil when neither file nor environment sets it.
        func raw(_ key: String) throws -> (text: String, from: String)? {
            let variable = "TESSERA_\(key.uppercased())"
            if let value = environment[variable] { return (value, variable) }
            guard let fileReader, let file else { return nil }
            do {
                return (try fileReader.requiredString(forKey: ConfigKey(key)), file)
            } catch {
                if "\(error)".contains("Missing required") { return nil }
                throw SettingsError("\(file): \(key): not a single value (a list or a section); give one value")
            }
        }
        func value<T>(_ key: String, _ fallback: T, _ parse: (String) -> T?, _ expected: String) throws -> T {
            guard let (text, from) = try raw(key) else {
                origins[key] = "default"
                return fallback
            }
            guard let parsed = parse(text.trimmingCharacters(in: .whitespaces)) else {
                throw SettingsError("\(from): \(key): '\(text)' is not \(expected)")
            }
            origins[key] = from
            return parsed
        }
        func string(_ key: String, _ fallback: String) throws -> String { try value(key, fallback, { $0.isEmpty ? nil : $0 }, "a name or path") }
        func count(_ key: String, _ fallback: Int, atLeast minimum: Int = 1) throws -> Int {
            try value(key, fallback, { Int($0).flatMap { $0 >= minimum ? $0 : nil } }, "a whole number of at least \(minimum)")
        }
        func seconds(_ key: String, _ fallback: Double, zero: Bool = false) throws -> Double {
            try value(key, fallback, { Double($0).flatMap { $0.isFinite && ($0 > 0 || zero && $0 == 0) ? $0 : nil } },
                      zero ? "a number of seconds, 0 or more" : "a number of seconds above 0")
        }
        let root = try string("root", "./var")
        func folder(_ key: String, _ name: String) throws -> String { try string(key, "\(root)/\(name)") }
        let database = try folder("database", "tessera.sqlite")
        let store = try value("store", StoreAddress.sqlite(path: database), StoreAddress.init(parsing:),
                              "sqlite:PATH or a postgres://user:password@host:port/database URL")
        var settings = Settings(
            root: root, database: database, store: store, leaseSeconds: try seconds("lease_seconds", 60),
            heartbeatSeconds: try seconds("heartbeat_seconds", 10), sweepSeconds: try seconds("sweep_seconds", 15), inbox: try folder("inbox", "inbox"),
            outbox: try folder("outbox", "outbox"), archive: try folder("archive", "archive"), failed: try folder("failed", "failed"),
            work: try folder("work", "work"), models: try string("models", "Models"),
            workers: try count("workers", 2), threads: try count("threads", ProcessInfo.processInfo.activeProcessorCount),
            stableSeconds: try seconds("stable_seconds", 1, zero: true), scanSeconds: try seconds("scan_seconds", 10),
            watch: try value("watch", .inotify, WatchMode.init(rawValue:), "inotify or poll"), pollSeconds: try seconds("poll_seconds", 2),
            maxMegapixels: try count("max_megapixels", 250), bandMegapixels: try count("band_megapixels", store.isShared ? 50 : 0, atLeast: 0), attempts: try count("attempts", 3),
            memoryBudget: try count("memory_budget", 1024, atLeast: 256),
            checkpointSeconds: try seconds("checkpoint_seconds", 1, zero: true),
            after: try value("after", .archive, AfterDone.init(rawValue:), "archive or delete"),
            archiveDays: try value("archive_days", nil, { text -> Double?? in
                guard let days = Double(text), days.isFinite, days > 0 else { return nil }
                return .some(days)
            }, "a number of days above 0"),
            umask: try value("umask", 0o027, { mode_t($0, radix: 8).flatMap { $0 <= 0o777 ? $0 : nil } }, "an octal mask such as 0027"),
            group: try raw("group").map { $0.text })
        origins["group"] = try raw("group")?.from ?? "default"
        guard settings.heartbeatSeconds < settings.leaseSeconds else {
            throw SettingsError("heartbeat_seconds (\(settings.heartbeatSeconds)) must be below lease_seconds (\(settings.leaseSeconds)): claims would run out between renewals")
        }
        settings.origins = origins
        return settings
    }

    /// The keys at the top level of a YAML settings file (lines that start with `key:`).
    private static func topLevelKeys(_ file: String) throws -> [String] {
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch { throw SettingsError("\(file): cannot read: \(error.localizedDescription)") }
        return text.split(separator: "\n").compactMap { line in
            line.firstMatch(of: /^([A-Za-z_][A-Za-z0-9_.-]*)\s*:/).map { String($0.1) }
        }
    }
}

/// Where the job queue is kept.
public enum StoreAddress: Sendable, Equatable, CustomStringConvertible {
    /// A SQLite file: one host's daemon and its CLI.
    case sqlite(path: String)
    /// A PostgreSQL database (its URL) that daemons on several hosts share.
    case postgres(url: String)

    /// Whether daemons on several hosts may share it.
    public var isShared: Bool { if case .postgres = self { true } else { false } }

    /// `sqlite:PATH` or a `postgres://` (`postgresql://`) URL.
    public init?(parsing text: String) {
        if text.hasPrefix("sqlite:"), text.count > 7 {
            self = .sqlite(path: String(text.dropFirst(7)))
        } else if let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? "") {
            self = .postgres(url: text)
        } else {
            return nil
        }
    }

    /// The address as messages show it: a PostgreSQL URL without its password.
    public var description: String {
        switch self {
        case let .sqlite(path): return "sqlite:\(path)"
        case let .postgres(url):
            guard var parts = URLComponents(string: url), parts.password != nil else { return url }
            parts.password = "***"
            return parts.string ?? "postgres"
        }
    }
}

/// How the daemon finds new files in the inbox.
public enum WatchMode: String, Sendable {
    /// Events from the kernel: at once, but only for writes made on this host.
    case inotify
    /// Listing the folders every `poll_seconds`: sees files written by any host of a shared folder.
    case poll
}

/// What the daemon does with an inbox file whose job is done.
public enum AfterDone: String, Sendable {
    /// Moved to archive/<style>/ (and removed from there after `archive_days`, if set).
    case archive
    /// Removed once the output is safely written.
    case delete
}

/// A settings file or value that cannot be used, with the reason.
public struct SettingsError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
