// Which job queue an installation uses: its SQLite file, or the PostgreSQL database its `store`
// setting names.

import JobStore
import Settings

extension Settings {
    /// The installation's job queue, opened for writing (the daemon, `submit`, `cancel`, `retry`)
    /// and migrated; with `reading`, an existing SQLite file is opened read-only (the listings).
    public func openStore(reading: Bool = false) throws -> any JobStore {
        switch store {
        case let .sqlite(path): return reading ? try SQLiteStore(readingAt: path) : try SQLiteStore(path: path, group: group)
        case let .postgres(url): return try PostgresStore(url: url)
        }
    }
}
