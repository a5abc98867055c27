// The styles a Tessera installation serves: every `*.safetensors` in the models folder, by base
// name. Wherever a style is named, a path to a model file works too.

import ConvCore
import Foundation

/// The styles of a models folder, by name; paths to model files work wherever a name does.
public struct StyleRegistry: Sendable {
    public let directory: URL

    /// The registry of this folder.
    public init(directory: URL) { self.directory = directory }

    /// Style names in the folder, sorted.
    public func names() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") }
            .map { String($0.dropLast(".safetensors".count)) }.sorted()
    }

    /// The model file of a style named `nameOrPath`, or `nameOrPath` itself (absolute) when it
    /// is a path: anything with a slash or ending in `.safetensors`. The one rule for naming a
    /// style, wherever one is named (`--style`, `train --from`, inbox folders).
    public func file(_ nameOrPath: String) throws -> URL {
        if nameOrPath.hasSuffix(".safetensors") || nameOrPath.contains("/") {
            return URL(fileURLWithPath: nameOrPath).standardizedFileURL
        }
        let file = directory.appendingPathComponent("\(nameOrPath).safetensors")
        guard FileManager.default.fileExists(atPath: file.path) else {
            let known = names()
            throw ModelError("unknown style '\(nameOrPath)' (\(known.isEmpty ? "no styles in \(directory.path)" : "known: \(known.joined(separator: ", "))"))")
        }
        return file
    }

    /// A style by name, or by the path of a model file.
    public func style(_ nameOrPath: String) throws -> Style {
        let file = try file(nameOrPath)
        let isPath = nameOrPath.hasSuffix(".safetensors") || nameOrPath.contains("/")
        return try Style.load(file, name: isPath ? nil : nameOrPath)
    }
}
