// Training runs, their checkpoints and metrics (DESIGN.md §8). A checkpoint and the metric row
// logged with it are written in one transaction, so a run resumed after a crash logs every step
// once. Only epoch ends, the best and the latest checkpoint are kept.

import Foundation
import GRDB

/// One `tessera train` run: its settings and whether it finished.
public struct TrainingRun: Codable, Sendable, FetchableRecord {
    /// Whether the run is still going (and can be resumed) or has finished.
    public enum Status: String, Codable, Sendable, DatabaseValueConvertible {
        case running, finished
    }

    public var id: Int64
    public var name: String
    /// The run's settings as JSON, what `--resume` continues with.
    public var settings: String
    public var status: Status
    public var createdAt: Double
    public var finishedAt: Double?
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}

/// A trainer's exact state at one step, with its losses.
public struct TrainingCheckpoint: Codable, Sendable, FetchableRecord {
    public var id: Int64
    public var runId: Int64
    public var epoch: Int
    public var step: Int
    public var loss: Double
    public var valLoss: Double?
    public var epochEnd: Bool
    public var weights: Data
    public var optimizer: Data
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}

/// The losses logged at one step.
public struct TrainingMetric: Codable, Sendable, Equatable, FetchableRecord {
    public var step: Int
    public var loss: Double?
    public var valLoss: Double?
    /// A metric row.
    public init(step: Int, loss: Double?, valLoss: Double?) { (self.step, self.loss, self.valLoss) = (step, loss, valLoss) }
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}

extension SQLiteStore {
    /// Starts a run of `name` with its settings (JSON).
    public func startTrainingRun(name: String, settings: String) throws -> TrainingRun {
        try database.write { db in
            try db.execute(sql: "INSERT INTO training_runs (name, settings, status, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [name, settings, TrainingRun.Status.running, Self.now])
            return try TrainingRun.fetchOne(db, sql: "SELECT * FROM training_runs WHERE id = ?", arguments: [db.lastInsertedRowID])!
        }
    }

    /// The latest run of `name`, finished or not.
    public func latestTrainingRun(name: String) throws -> TrainingRun? {
        try database.read { db in
            try TrainingRun.fetchOne(db, sql: "SELECT * FROM training_runs WHERE name = ? ORDER BY id DESC LIMIT 1", arguments: [name])
        }
    }

    /// Marks a run finished: it can no longer be resumed.
    public func finishTrainingRun(_ id: Int64) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE training_runs SET status = ?, finished_at = ? WHERE id = ?",
                           arguments: [TrainingRun.Status.finished, Self.now, id])
        }
    }

    /// Saves a checkpoint with the metric row logged at its step (`recentLoss`: the training
    /// loss since the last logged point), and drops the mid-epoch checkpoints that are neither
    /// the best nor this one.
    public func saveCheckpoint(run: Int64, epoch: Int, step: Int, epochEnd: Bool, loss: Double, recentLoss: Double?, valLoss: Double?,
                               weights: Data, optimizer: Data) throws {
        try database.write { db in
            try db.execute(sql: """
                INSERT INTO checkpoints (run_id, epoch, step, loss, val_loss, epoch_end, weights, optimizer, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [run, epoch, step, loss, valLoss, epochEnd, weights, optimizer, Self.now])
            let latest = db.lastInsertedRowID
            try db.execute(sql: "INSERT INTO training_metrics (run_id, step, loss, val_loss) VALUES (?, ?, ?, ?)",
                           arguments: [run, step, recentLoss, valLoss])
            let best = try Int64.fetchOne(db, sql: Self.bestCheckpointSQL(columns: "id"), arguments: [run])
            try db.execute(sql: "DELETE FROM checkpoints WHERE run_id = ? AND NOT epoch_end AND id != ? AND id != ?",
                           arguments: [run, latest, best ?? latest])
        }
    }

    /// Logs the training loss at a step between checkpoints.
    public func logLoss(run: Int64, step: Int, loss: Double) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO training_metrics (run_id, step, loss) VALUES (?, ?, ?)", arguments: [run, step, loss])
        }
    }

    /// Forgets the points logged after `step` (a run resumed from its checkpoint there logs them again).
    public func forgetMetrics(run: Int64, after step: Int) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM training_metrics WHERE run_id = ? AND step > ?", arguments: [run, step])
        }
    }

    /// The checkpoint a resumed run continues from.
    public func latestCheckpoint(run: Int64) throws -> TrainingCheckpoint? {
        try database.read { db in
            try TrainingCheckpoint.fetchOne(db, sql: "SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step DESC, id DESC LIMIT 1",
                                            arguments: [run])
        }
    }

    /// The checkpoint with the lowest validation loss (the earliest of equals).
    public func bestCheckpoint(run: Int64) throws -> TrainingCheckpoint? {
        try database.read { db in try TrainingCheckpoint.fetchOne(db, sql: Self.bestCheckpointSQL(columns: "*"), arguments: [run]) }
    }

    /// The checkpoints at epoch ends, in order.
    public func epochCheckpoints(run: Int64) throws -> [TrainingCheckpoint] {
        try database.read { db in
            try TrainingCheckpoint.fetchAll(db, sql: "SELECT * FROM checkpoints WHERE run_id = ? AND epoch_end ORDER BY step", arguments: [run])
        }
    }

    /// A run's logged losses in step order.
    public func trainingMetrics(run: Int64) throws -> [TrainingMetric] {
        try database.read { db in
            try TrainingMetric.fetchAll(db, sql: "SELECT step, loss, val_loss FROM training_metrics WHERE run_id = ? ORDER BY step",
                                        arguments: [run])
        }
    }

    /// Adds or replaces one style in the served list (a newly trained one).
    public func register(style: StyleRecord) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO styles (name, file, digest, metrics, registered_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [style.name, style.file, style.digest, style.metrics, Self.now])
        }
    }

    private static func bestCheckpointSQL(columns: String) -> String {
        "SELECT \(columns) FROM checkpoints WHERE run_id = ? AND val_loss IS NOT NULL ORDER BY val_loss, step LIMIT 1"
    }
}
