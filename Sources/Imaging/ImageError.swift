// Every problem with an image is one line that names the file and the reason.

public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String

    public init(_ path: String, _ reason: String) {
        // libvips messages may span lines and repeat the path; keep one line.
        let line = reason.split(whereSeparator: \.isNewline).first.map(String.init) ?? reason
        description = "\(path): \(line)"
    }
}
