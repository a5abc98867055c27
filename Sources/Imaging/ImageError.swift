// Every problem with an image is one line that names the file and the reason.

public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }

    public init(_ path: String, _ reason: String) {
        self.path = path
        // libvips messages may span lines and repeat the path; keep one line.
        self.reason = reason.split(whereSeparator: \.isNewline).first.map(String.init) ?? reason
    }
}
