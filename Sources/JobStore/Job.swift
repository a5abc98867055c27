// A job: one source image through one style, as the `jobs` table holds it.

import Foundation
import GRDB

/// One source image through one style, as the `jobs` table holds it.
public struct Job: Codable, Sendable, Equatable, FetchableRecord, TableRecord {
    public static let databaseTableName = "jobs"

    /// A job's place in the state machine: queued -> running -> done | failed | canceled (failed and canceled can be retried).
    public enum Status: String, Codable, Sendable, CaseIterable {
        case queued, running, done, failed, canceled
    }

    /// How the file came: dropped into the inbox (the daemon moves it out when the job ends) or
    /// submitted where it is (left in place).
    public enum Origin: String, Codable, Sendable {
        case inbox, submit
    }

    public var id: Int64
    public var source: String
    public var name: String
    public var style: String
    public var size: Int64
    public var mtime: Double
    public var device: Int64
    public var inode: Int64
    public var digest: String
    public var origin: Origin
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
    /// Where the source is being moved (archive/ or failed/), reserved before the move so a
    /// crash in between finishes the same move at the next start.
    public var destination: String?
    /// Tile rows of the output a cut-short attempt finished and kept in its work file, and what
    /// they were made with (a later attempt continues from them only if it makes the same).
    public var resumeTileRows: Int
    public var resumeKey: String?
    /// When the daemon removed the source (`after: delete`, or archive retention).
    public var sourceRemovedAt: Double?
    /// The token of the latest claim, and until when it holds unless its worker renews it.
    public var leaseToken: String?
    public var leaseExpiresAt: Double?
    /// A huge image's job is split into bands of tile rows that any worker may take (see
    /// `JobStore.split`): a band names its job and its rows; the job counts the bands not done yet.
    public var parentId: Int64? = nil
    /// The band's number from 1 (0: a job of its own, not a band).
    public var band = 0
    /// The band's tile rows, `bandStart ..< bandEnd`.
    public var bandStart = 0
    public var bandEnd = 0
    /// How many bands the job was split into (0: not split), and how many are not done yet.
    public var bands = 0
    public var bandsPending = 0

    /// The lease a running job's worker holds.
    public var lease: Lease? { leaseToken.map { Lease(job: id, token: $0) } }

    /// The tile rows of a band, or nil for a job of its own.
    public var bandRows: Range<Int>? { band > 0 ? bandStart..<bandEnd : nil }

    /// The source file as it was when queued.
    public var identity: FileIdentity {
        FileIdentity(device: UInt64(bitPattern: device), inode: UInt64(bitPattern: inode), size: size, mtime: mtime)
    }

    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase

    /// Seconds until a running job is done at its rate so far (nil before its first tiles).
    public func secondsLeft(at now: Double) -> Double? {
        guard let startedAt, tilesDone > 0, tilesTotal > 0 else { return nil }
        return (now - startedAt) * Double(tilesTotal - tilesDone) / Double(tilesDone)
    }

    /// The columns the store's queries filter and sort on.
    public enum Columns {
        public static let id = Column("id"), status = Column("status"), style = Column("style"), priority = Column("priority")
        public static let notBefore = Column("not_before"), output = Column("output"), origin = Column("origin"), source = Column("source")
    }
}

extension Job.Status: DatabaseValueConvertible {}
extension Job.Origin: DatabaseValueConvertible {}

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
    public var identity: FileIdentity
    public var digest: String
    public var origin: Job.Origin
    public var priority: Int
    /// Queue it only if this says `source` is still the file, asked in the enqueue's transaction.
    /// For what a daemon found in a shared inbox: another daemon may have finished the file's job
    /// and moved the file meanwhile, and the key (which has the path) would no longer hold it
    /// back. A row that still has the inbox path blocks the insert, and a row's file is renamed
    /// before the row is updated, so either the insert conflicts or this finds the file gone.
    public var stillInPlace: (@Sendable () -> Bool)?

    /// A job for a file whose identity and digest are known already.
    public init(source: String, style: String, identity: FileIdentity, digest: String, origin: Job.Origin, priority: Int = 0) {
        (self.source, self.style, self.identity, self.digest, self.origin, self.priority) = (source, style, identity, digest, origin, priority)
    }

    /// The job for the regular file at `path` as it is now (a symbolic link followed: the caller
    /// named it): its identity and content digest, read without blocking on a FIFO.
    public init(file path: String, style: String, origin: Job.Origin, priority: Int = 0) throws {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw JobStoreError("\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var s = stat()
        guard fstat(fd, &s) == 0 else { throw JobStoreError("\(path): \(String(cString: strerror(errno)))") }
        guard (s.st_mode & S_IFMT) == S_IFREG else { throw JobStoreError("\(path): not a regular file") }
        self.init(source: path, style: style, identity: FileIdentity(s), digest: try ContentDigest.of(descriptor: fd, path: path),
                  origin: origin, priority: priority)
    }
}

/// The file of a `stillInPlace` job was no longer at its path: nothing was queued.
public struct SourceMoved: Error {}
