// The PostgreSQL schema: the SQLite schema's tables as of its v7 (leases, daemon versions), one
// numbered migration per change after that. Daemons on several hosts may start at once, so a
// migration runs under an advisory lock and records itself in the same transaction.

import Logging
import PostgresNIO

enum PostgresSchema {
    /// The advisory lock keys: one per kind of exclusive work across the cluster.
    enum LockKey: Int64 { case migration = 7_370_001, sweeper, outputs, destinations }

    /// The migrations in order; each runs once, in a transaction.
    static let migrations: [(name: String, sql: [String])] = [
        ("v7: jobs, events, styles, daemons, leases", [
            // The store's clock: leases and heartbeats compare times written by different hosts.
            "CREATE FUNCTION tessera_now() RETURNS float8 LANGUAGE sql VOLATILE AS $$ SELECT extract(epoch FROM clock_timestamp())::float8 $$",
            """
            CREATE TABLE jobs (
                id bigserial PRIMARY KEY, source text NOT NULL, name text NOT NULL, style text NOT NULL,
                size bigint NOT NULL, mtime float8 NOT NULL, digest text NOT NULL, origin text NOT NULL,
                status text NOT NULL DEFAULT 'queued', priority bigint NOT NULL DEFAULT 0, attempts bigint NOT NULL DEFAULT 0,
                error text, output text, tiles_total bigint NOT NULL DEFAULT 0, tiles_done bigint NOT NULL DEFAULT 0,
                worker text, cancel_requested boolean NOT NULL DEFAULT false, created_at float8 NOT NULL,
                not_before float8 NOT NULL DEFAULT 0, started_at float8, finished_at float8,
                device bigint NOT NULL DEFAULT 0, inode bigint NOT NULL DEFAULT 0, destination text,
                resume_tile_rows bigint NOT NULL DEFAULT 0, resume_key text, source_removed_at float8,
                lease_token text, lease_expires_at float8,
                -- Without device and inode: every NFS client numbers the shared tree's device its own way.
                UNIQUE (source, style, size, mtime, digest)
            )
            """,
            "CREATE INDEX jobs_claim ON jobs (priority DESC, id) WHERE status = 'queued'",
            "CREATE INDEX jobs_status ON jobs (status)",
            """
            CREATE TABLE job_events (
                id bigserial PRIMARY KEY, job_id bigint NOT NULL REFERENCES jobs ON DELETE CASCADE,
                at float8 NOT NULL, kind text NOT NULL, message text NOT NULL
            )
            """,
            "CREATE INDEX job_events_job ON job_events (job_id)",
            "CREATE TABLE progress_samples (at float8 NOT NULL, tiles bigint NOT NULL)",
            "CREATE INDEX progress_samples_at ON progress_samples (at)",
            "CREATE TABLE styles (name text PRIMARY KEY, file text NOT NULL, digest text NOT NULL, metrics text, registered_at float8 NOT NULL)",
            """
            CREATE TABLE daemons (
                id text PRIMARY KEY, pid bigint NOT NULL, host text NOT NULL, version text,
                started_at float8 NOT NULL, heartbeat_at float8 NOT NULL, stopped_at float8
            )
            """,
        ]),
        // Tiles per daemon for `tessera status`: each sample names the daemon of the job's worker.
        ("v8: progress samples by daemon", ["ALTER TABLE progress_samples ADD COLUMN daemon text"]),
        // Huge images split into bands that any daemon takes (see SQLiteSchema's v9).
        ("v9: bands", [
            """
            ALTER TABLE jobs ADD COLUMN parent_id bigint REFERENCES jobs ON DELETE CASCADE, ADD COLUMN band bigint NOT NULL DEFAULT 0,
                ADD COLUMN band_start bigint NOT NULL DEFAULT 0, ADD COLUMN band_end bigint NOT NULL DEFAULT 0,
                ADD COLUMN bands bigint NOT NULL DEFAULT 0, ADD COLUMN bands_pending bigint NOT NULL DEFAULT 0
            """,
            "ALTER TABLE jobs DROP CONSTRAINT jobs_source_style_size_mtime_digest_key",
            "ALTER TABLE jobs ADD CONSTRAINT jobs_file_band UNIQUE (source, style, size, mtime, digest, band)",
            "CREATE INDEX jobs_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL",
        ]),
    ]

    /// Brings the database to the latest schema.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { db in
            try await db.query("SELECT pg_advisory_xact_lock(\(LockKey.migration.rawValue))", logger: logger)
            try await db.query("CREATE TABLE IF NOT EXISTS tessera_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                               logger: logger)
            var applied = Set<String>()
            for try await name in try await db.query("SELECT name FROM tessera_migrations", logger: logger).decode(String.self) {
                applied.insert(name)
            }
            for migration in migrations where !applied.contains(migration.name) {
                for statement in migration.sql { try await db.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                try await db.query("INSERT INTO tessera_migrations (name) VALUES (\(migration.name))", logger: logger)
            }
        }
    }
}
