// Every problem with an image is one line that names the file and the reason.

/// An image that cannot be read or written: the file and the reason, as one line.
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }

    /// An error about the file at `path`.
    public init(_ path: String, _ reason: String) {
        self.path = path
        // libvips messages may span lines and repeat the path; keep one line.
        self.reason = reason.split(whereSeparator: \.isNewline).first.map(String.init) ?? reason
    }
}
