// Every problem with a spec, a weights file or an input is one line a user can act on.

/// A spec, weights file or input the conv core cannot use, with a one-line reason.
public struct ModelError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    /// An error with this reason.
    public init(_ description: String) { self.description = description }
}
