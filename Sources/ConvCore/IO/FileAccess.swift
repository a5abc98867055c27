// Reading and writing files the same way everywhere: errors carry the file's path in one line.

import Foundation

/// Decodes a file's bytes, memory-mapped (a huge hostile file costs address space, not memory),
/// prefixing any error with the file's path.
func decodeFile<T>(_ url: URL, _ decode: (Data) throws -> T) throws -> T {
    let data: Data
    do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
        throw ModelError("\(url.path): cannot read: \(ModelSpec.reason(error))")
    }
    do { return try decode(data) } catch let e as ModelError { throw ModelError("\(url.path): \(e.description)") }
}

/// Writes through a temporary file in the same folder and renames it, so readers never see half a file.
func writeAtomically(_ data: Data, to url: URL) throws {
    do { try data.write(to: url, options: .atomic) } catch {
        throw ModelError("\(url.path): cannot write: \(ModelSpec.reason(error))")
    }
}
