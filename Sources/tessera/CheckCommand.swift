// `tessera check`: the settings as the daemon would read them, and what would stop it.

import ArgumentParser
import Daemon
import Foundation
import JobStore
import Settings

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the settings, styles, folders and database; print the effective settings.",
        discussion: """
            Prints every setting with its value and where it came from (the settings file, a
            TESSERA_* variable or the default), then one line on stderr for each problem: a bad key
            or value, a style that does not load, a folder that cannot be written or created, a
            database that cannot be written. Exits 1 if there is any (the service runs it before
            starting the daemon).
            """
    )

    @OptionGroup var store: StoreOptions

    func run() async throws {
        let settings = try await store.settings()
        let values: [String: String] = [
            "root": settings.root, "database": settings.database, "store": "\(settings.store)",
            "lease_seconds": "\(settings.leaseSeconds)", "heartbeat_seconds": "\(settings.heartbeatSeconds)", "sweep_seconds": "\(settings.sweepSeconds)", "inbox": settings.inbox, "outbox": settings.outbox,
            "archive": settings.archive, "failed": settings.failed, "work": settings.work, "models": settings.models,
            "workers": "\(settings.workers)", "threads": "\(settings.threads)", "stable_seconds": "\(settings.stableSeconds)",
            "scan_seconds": "\(settings.scanSeconds)", "watch": settings.watch.rawValue, "poll_seconds": "\(settings.pollSeconds)",
            "max_megapixels": "\(settings.maxMegapixels)", "attempts": "\(settings.attempts)",
            "memory_budget": "\(settings.memoryBudget)", "checkpoint_seconds": "\(settings.checkpointSeconds)",
            "after": settings.after.rawValue, "archive_days": settings.archiveDays.map { "\($0)" } ?? "-",
            "umask": String(format: "%04o", settings.umask), "group": settings.group ?? "-",
        ]
        print(table(["key", "value", "from"], Settings.keys.map { key, _ in [key, values[key] ?? "-", settings.origins[key] ?? "default"] }))
        let problems = try await onOwnThread { InstallationCheck.problems(of: settings) }
        for problem in problems { warn(problem) }
        if !problems.isEmpty { throw ExitCode.failure }
    }
}
