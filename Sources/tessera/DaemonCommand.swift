// `tessera daemon`: the service over the inbox, until SIGTERM or SIGINT.

import ArgumentParser
import Daemon
import Settings
import Foundation
import Logging
import ServiceLifecycle

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Watch inbox/<style>/ folders and stylize every image dropped there into outbox/<style>/.",
        discussion: "Settings (--config, else Config/tessera.yaml, else /etc/tessera/tessera.yaml; each overridden by TESSERA_<KEY>):\n"
            + Settings.keys.map { "  \($0.0): \($0.1)" }.joined(separator: "\n")
    )

    @Option(help: "A YAML settings file (default: Config/tessera.yaml, else /etc/tessera/tessera.yaml, else the embedded defaults).")
    var config: String?

    @Option(help: "Log this level and above: trace, debug, info, notice, warning, error, critical (default: TESSERA_LOG_LEVEL, else info).")
    var logLevel: String?

    @Flag(help: "Run even as root (the service runs as its own user; a daemon as root could be made to read or write anything).")
    var allowRoot = false

    func run() async throws {
        if getuid() == 0 && !allowRoot {
            throw ValidationError("refusing to run as root; run as an unprivileged user (the service's is tessera), or pass --allow-root")
        }
        let levelName = logLevel ?? ProcessInfo.processInfo.environment["TESSERA_LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: levelName.lowercased()) else {
            throw ValidationError("log level '\(levelName)': use trace, debug, info, notice, warning, error or critical")
        }
        let settings = try await Settings.load(path: config)
        let journal = DaemonLogHandler.stderrIsJournal()
        LoggingSystem.bootstrap { _ in DaemonLogHandler(level: level, journal: journal) }
        let logger = Logger(label: "tessera")
        let daemon = try Daemon(settings: settings, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [daemon], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
