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

    /// SHA-256 of the file open at `descriptor`, read from its start (the offset is not moved).
    public static func of(descriptor: Int32, path: String) throws -> String {
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
            guard n >= 0 else { throw JobStoreError("\(path): cannot read: \(String(cString: strerror(errno)))") }
            guard n > 0 else { break }
            buffer.withUnsafeBytes { hash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            offset += off_t(n)
        }
        return hex(hash.finalize())
    }

    /// A finished digest in lowercase hex.
    public static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
