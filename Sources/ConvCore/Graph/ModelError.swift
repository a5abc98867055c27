// Every problem with a spec, a weights file or an input is one line a user can act on.

public struct ModelError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
