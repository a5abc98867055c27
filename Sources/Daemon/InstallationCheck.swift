// `tessera check`: what would stop the daemon, found before it starts. The settings are read
// strictly (Settings.load refuses unknown keys and bad values); then every style must load, every
// folder must exist or be creatable and be writable, and the database must take a write.

import Foundation
import JobStore
import Settings
import Styles

/// The problems of an installation, one line each (empty when the daemon can start).
public enum InstallationCheck {
    public static func problems(of settings: Settings) -> [String] {
        var problems: [String] = []
        let registry = StyleRegistry(directory: URL(fileURLWithPath: settings.models))
        let names = registry.names()
        if names.isEmpty { problems.append("\(settings.models): no style model files (*.safetensors) here") }
        for name in names {
            do { _ = try registry.style(name) } catch { problems.append("style \(name): \(error)") }
        }
        for (key, path) in [("inbox", settings.inbox), ("outbox", settings.outbox), ("archive", settings.archive),
                            ("failed", settings.failed), ("work", settings.work)] {
            if let problem = folderProblem(path) { problems.append("\(key): \(problem)") }
        }
        // A missing database is fine when its folder can be made and written (the daemon creates it).
        let database = FileManager.default.fileExists(atPath: settings.database)
            ? SQLiteStore.writeProblem(at: settings.database)
            : folderProblem((settings.database as NSString).deletingLastPathComponent).map { "\(settings.database): \($0)" }
        if let problem = database { problems.append("database: \(problem)") }
        if case let .postgres(url) = settings.store {
            // Connecting migrates: a database the daemon could not use says why here.
            do { _ = try PostgresStore(url: url) } catch { problems.append("store: \(error)") }
        }
        return problems
    }

    /// Why the daemon could not use `path` as a folder: not a folder, not writable, not creatable.
    static func folderProblem(_ path: String) -> String? {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { return "\(path) is not a folder" }
        }
        let probe = "\(path)/.tessera-check-\(getpid())"
        if isFolder.boolValue {
            let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return "\(path) is not writable: \(String(cString: strerror(errno)))" }
            close(fd)
            unlink(probe)
            return nil
        }
        var parent = (path as NSString).deletingLastPathComponent
        while !parent.isEmpty, parent != "/", !FileManager.default.fileExists(atPath: parent) { parent = (parent as NSString).deletingLastPathComponent }
        return folderProblem(parent.isEmpty ? "." : parent).map { _ in "\(path) cannot be created: \(parent.isEmpty ? "." : parent) is not writable" }
    }
}
