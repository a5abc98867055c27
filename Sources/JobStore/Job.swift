// A job: one source image through one style, as the `jobs` table holds it.

import GRDB

public struct Job: Codable, Sendable, Equatable, FetchableRecord, TableRecord {
    public static let databaseTableName = "jobs"

    public enum Status: String, Codable, Sendable, CaseIterable {
        case queued, running, done, failed, canceled
    }

    public var id: Int64
    public var source: String
    public var name: String
    public var style: String
    public var size: Int64
    public var mtime: Double
    public var digest: String
    public var origin: String
    public var status: Status
    public var priority: Int
    public var attempts: Int
    public var error: String?
    public var output: String?
    public var tilesTotal: Int
    public var tilesDone: Int
    public var worker: String?
    public var cancelRequested: Bool
    public var createdAt: Double
    public var notBefore: Double
    public var startedAt: Double?
    public var finishedAt: Double?

    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}

/// One line of a job's history.
public struct JobEvent: Codable, Sendable, FetchableRecord, TableRecord {
    public static let databaseTableName = "job_events"
    public var id: Int64
    public var jobId: Int64
    public var at: Double
    public var kind: String
    public var message: String
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}

/// A file found or submitted, ready to become a job.
public struct NewJob: Sendable {
    public var source: String
    public var style: String
    public var size: Int64
    public var mtime: Double
    public var digest: String
    public var origin: String
    public var priority: Int

    public init(source: String, style: String, size: Int64, mtime: Double, digest: String, origin: String, priority: Int = 0) {
        (self.source, self.style, self.size, self.mtime, self.digest, self.origin, self.priority) = (source, style, size, mtime, digest, origin, priority)
    }
}
