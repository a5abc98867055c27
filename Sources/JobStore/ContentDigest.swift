// Content digests as the store keeps them (jobs, styles, training data): SHA-256 in lowercase hex.

import Crypto
import Foundation

/// The SHA-256 digests that identify files (jobs, styles, training data).
public enum ContentDigest {
    /// SHA-256 of a file's content, streamed.
    public static func of(file path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw JobStoreError("\(path): cannot read") }
        defer { try? handle.close() }
        var hash = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hash.update(data: chunk) }
        return hex(hash.finalize())
    }

    /// A finished digest in lowercase hex.
    public static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
