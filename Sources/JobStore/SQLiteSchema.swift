// The SQLite schema (DESIGN.md §8), one named migration per change. Only writers migrate.
// PostgresSchema.swift holds the same tables for a shared queue.

import GRDB

enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: jobs, events, styles, daemons, training") { db in
            try db.create(table: "jobs") { t in
                jobColumns(t)
                t.uniqueKey(["source", "size", "mtime", "digest"])
            }
            try db.create(table: "job_events") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("job_id", .integer).notNull().indexed().references("jobs", onDelete: .cascade)
                t.column("at", .double).notNull()
                t.column("kind", .text).notNull()
                t.column("message", .text).notNull()
            }
            // Tiles finished per minute, for `tessera status`: one row per job and strip batch.
            try db.create(table: "progress_samples") { t in
                t.column("at", .double).notNull().indexed()
                t.column("tiles", .integer).notNull()
            }
            try db.create(table: "styles") { t in
                t.primaryKey("name", .text)
                t.column("file", .text).notNull()
                t.column("digest", .text).notNull()
                t.column("metrics", .text)
                t.column("registered_at", .double).notNull()
            }
            try db.create(table: "daemons") { t in
                t.primaryKey("id", .text) // host:pid
                t.column("pid", .integer).notNull()
                t.column("host", .text).notNull()
                t.column("started_at", .double).notNull()
                t.column("heartbeat_at", .double).notNull()
                t.column("stopped_at", .double)
            }
            try db.create(table: "training_runs") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("name", .text).notNull().indexed()
                t.column("settings", .text).notNull()
                t.column("status", .text).notNull()
                t.column("created_at", .double).notNull()
            }
            try db.create(table: "checkpoints") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("run_id", .integer).notNull().indexed().references("training_runs", onDelete: .cascade)
                t.column("epoch", .integer).notNull()
                t.column("step", .integer).notNull()
                t.column("loss", .double).notNull()
                t.column("weights", .blob).notNull()
                t.column("optimizer", .blob).notNull()
                t.column("created_at", .double).notNull()
            }
            try db.create(table: "training_metrics") { t in
                t.column("run_id", .integer).notNull().indexed().references("training_runs", onDelete: .cascade)
                t.column("step", .integer).notNull()
                t.column("loss", .double)
                t.column("val_loss", .double)
            }
        }
        // The best checkpoint is chosen by validation loss; epoch ends are kept for the report.
        migrator.registerMigration("v2: checkpoint validation loss and epoch ends") { db in
            try db.alter(table: "checkpoints") { t in
                t.add(column: "val_loss", .double)
                t.add(column: "epoch_end", .boolean).notNull().defaults(to: false)
            }
            try db.alter(table: "training_runs") { t in t.add(column: "finished_at", .double) }
        }
        // The same file may be queued once per style (submit looked for any job of the file).
        migrator.registerMigration("v3: one job per file and style") { db in
            try db.create(table: "jobs_v3") { t in
                jobColumns(t)
                t.uniqueKey(["source", "style", "size", "mtime", "digest"])
            }
            try db.execute(sql: "INSERT INTO jobs_v3 SELECT * FROM jobs")
            try db.drop(table: "jobs")
            try db.rename(table: "jobs_v3", to: "jobs")
        }
        // A job is about one file (device and inode), not a name: a different file under the
        // same name is a job of its own; the source's move out of the inbox is reserved first.
        migrator.registerMigration("v4: file identity and reserved destination") { db in
            try db.create(table: "jobs_v4") { t in
                jobColumns(t)
                t.column("device", .integer).notNull().defaults(to: 0)
                t.column("inode", .integer).notNull().defaults(to: 0)
                t.column("destination", .text)
                t.uniqueKey(["source", "style", "device", "inode", "size", "mtime", "digest"])
            }
            let columns = try db.columns(in: "jobs").map { "\"\($0.name)\"" }.joined(separator: ", ")
            try db.execute(sql: "INSERT INTO jobs_v4 (\(columns)) SELECT \(columns) FROM jobs")
            try db.drop(table: "jobs")
            try db.rename(table: "jobs_v4", to: "jobs")
        }
        // A long job's finished strips are kept in a work file; the count the file holds for sure
        // (fsynced) and what it was made with (style, size, format) let the next attempt continue.
        migrator.registerMigration("v5: resume mid-image") { db in
            try db.alter(table: "jobs") { t in
                t.add(column: "resume_tile_rows", .integer).notNull().defaults(to: 0)
                t.add(column: "resume_key", .text)
            }
        }
        // `after: delete` and archive retention remove sources; the job keeps the path it had and
        // says when, and a removed source is never settled again.
        migrator.registerMigration("v6: removed sources") { db in
            try db.alter(table: "jobs") { t in t.add(column: "source_removed_at", .double) }
        }
        // A claim is a lease: its token guards every write about the running job.
        migrator.registerMigration("v7: leases and daemon versions") { db in
            try db.alter(table: "jobs") { t in
                t.add(column: "lease_token", .text)
                t.add(column: "lease_expires_at", .double)
            }
            try db.alter(table: "daemons") { t in t.add(column: "version", .text) }
        }
        // Tiles per daemon for `tessera status`: each sample names the daemon of the job's worker.
        migrator.registerMigration("v8: progress samples by daemon") { db in
            try db.alter(table: "progress_samples") { t in t.add(column: "daemon", .text) }
        }
        // Huge images split into bands that any worker takes: a band is a job row of its own
        // (leases, retries and the sweeper apply as to any job) naming its job and tile rows; the
        // file's key gains the band number, since every band is of the same file.
        migrator.registerMigration("v9: bands") { db in
            try db.create(table: "jobs_v9") { t in
                jobColumns(t)
                t.column("device", .integer).notNull().defaults(to: 0)
                t.column("inode", .integer).notNull().defaults(to: 0)
                t.column("destination", .text)
                t.column("resume_tile_rows", .integer).notNull().defaults(to: 0)
                t.column("resume_key", .text)
                t.column("source_removed_at", .double)
                t.column("lease_token", .text)
                t.column("lease_expires_at", .double)
                t.column("parent_id", .integer).indexed().references("jobs", onDelete: .cascade)
                t.column("band", .integer).notNull().defaults(to: 0)
                t.column("band_start", .integer).notNull().defaults(to: 0)
                t.column("band_end", .integer).notNull().defaults(to: 0)
                t.column("bands", .integer).notNull().defaults(to: 0)
                t.column("bands_pending", .integer).notNull().defaults(to: 0)
                t.uniqueKey(["source", "style", "device", "inode", "size", "mtime", "digest", "band"])
            }
            let columns = try db.columns(in: "jobs").map { "\"\($0.name)\"" }.joined(separator: ", ")
            try db.execute(sql: "INSERT INTO jobs_v9 (\(columns)) SELECT \(columns) FROM jobs")
            try db.drop(table: "jobs")
            try db.rename(table: "jobs_v9", to: "jobs")
        }
        return migrator
    }

    /// The columns of `jobs` as of v3 (every migration that rebuilds the table starts from them).
    private static func jobColumns(_ t: TableDefinition) {
        t.autoIncrementedPrimaryKey("id")
        t.column("source", .text).notNull()
        t.column("name", .text).notNull()
        t.column("style", .text).notNull()
        t.column("size", .integer).notNull()
        t.column("mtime", .double).notNull()
        t.column("digest", .text).notNull()
        t.column("origin", .text).notNull() // inbox | submit
        t.column("status", .text).notNull().defaults(to: "queued").indexed()
        t.column("priority", .integer).notNull().defaults(to: 0)
        t.column("attempts", .integer).notNull().defaults(to: 0)
        t.column("error", .text)
        t.column("output", .text)
        t.column("tiles_total", .integer).notNull().defaults(to: 0)
        t.column("tiles_done", .integer).notNull().defaults(to: 0)
        t.column("worker", .text)
        t.column("cancel_requested", .boolean).notNull().defaults(to: false)
        t.column("created_at", .double).notNull()
        t.column("not_before", .double).notNull().defaults(to: 0)
        t.column("started_at", .double)
        t.column("finished_at", .double)
    }
}
