// `tessera model ...` as users run it: the built binary, its output and exit codes.

import Foundation
import Testing

/// The `tessera` binary beside the test runner in the build folder.
let tesseraBinary: URL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("tessera")

let convCoreFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("ConvCoreTests/Fixtures")

struct Run {
    let status: Int32
    let stdout: String
    let stderr: String
}

func tessera(_ arguments: [String], environment: [String: String]? = nil, directory: URL? = nil) throws -> Run {
    try command(tesseraBinary, arguments, environment: environment, directory: directory)
}

/// A handle that appends to `log` (made if missing): where a daemon under test writes its stderr.
func appendingHandle(to log: URL) throws -> FileHandle {
    if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
    let handle = try FileHandle(forWritingTo: log)
    try handle.seekToEnd()
    return handle
}

/// Runs `executable` to its end and returns its exit status and output.
func command(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil, directory: URL? = nil) throws -> Run {
    let p = Process()
    p.executableURL = executable
    p.arguments = arguments
    if let environment { p.environment = environment }
    if let directory { p.currentDirectoryURL = directory }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

extension Tag {
    /// Tests that run the daemon or train: seconds to minutes each (`swift test --skip` them for a quick run).
    @Tag static var slow: Self
}

@Suite struct ModelCommandTests {
    @Test func binaryIsBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: tesseraBinary.path), "\(tesseraBinary.path)")
    }

    @Test func helpAndVersion() throws {
        let help = try tessera(["--help"])
        #expect(help.status == 0 && help.stdout.contains("model"))
        let version = try tessera(["--version"])
        #expect(version.status == 0 && version.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }

    @Test func summaryTableAndJSON() throws {
        let spec = convCoreFixtures.appendingPathComponent("conv_pool.json").path
        let table = try tessera(["model", "summary", spec])
        #expect(table.status == 0)
        #expect(table.stdout.contains("mc1 (Conv2D)") && table.stdout.contains("448") && table.stdout.contains("Total params:"))
        let json = try tessera(["model", "summary", spec, "--json"])
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let layers = try #require(object["layers"] as? [[String: Any]])
        let mc1 = try #require(layers.first { $0["name"] as? String == "mc1" })
        #expect(mc1["params"] as? Int == 448 && mc1["type"] as? String == "Conv2D")
        #expect((mc1["output_shape"] as? [Any])?.count == 4)
        #expect(object["total_params"] is Int && object["trainable_params"] is Int)
    }

    @Test func runWritesKerasOutput() throws {
        let golden = convCoreFixtures.appendingPathComponent("golden")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-run-\(UUID().uuidString).npy")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try tessera(["model", "run", convCoreFixtures.appendingPathComponent("unet_crop.json").path,
                             "--weights", golden.appendingPathComponent("unet_crop.safetensors").path,
                             "--input", golden.appendingPathComponent("unet_crop.input.npy").path, "--output", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let mine = try Data(contentsOf: out), keras = try Data(contentsOf: golden.appendingPathComponent("unet_crop.output.npy"))
        // Same header; values within 1e-4 (float32 little-endian after the 128-byte header).
        #expect(mine.count == keras.count)
        let a = mine.dropFirst(128).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let b = keras.dropFirst(128).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(a.count == 3 * 16 * 16 * 3 && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-4 })
    }

    @Test func errorsAreOneLineAndExitNonZero() throws {
        let golden = convCoreFixtures.appendingPathComponent("golden")
        let missing = try tessera(["model", "summary", "/nonexistent/spec.json"])
        #expect(missing.status != 0 && missing.stderr.contains("/nonexistent/spec.json"))
        #expect(missing.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1)
        let mismatch = try tessera(["model", "run", convCoreFixtures.appendingPathComponent("conv_pool.json").path,
                                    "--weights", golden.appendingPathComponent("unet_crop.safetensors").path,
                                    "--input", golden.appendingPathComponent("unet_crop.input.npy").path, "--output", "/tmp/never.npy"])
        #expect(mismatch.status != 0 && mismatch.stderr.contains("unet_crop.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never.npy"))
    }

    @Test func initWritesALoadableModelFileAndNeverOverwrites() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-init-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: out) }
        let spec = convCoreFixtures.appendingPathComponent("unet_crop.json").path
        let first = try tessera(["model", "init", spec, out.path, "--seed", "3", "--style", #"{"input": "rgb", "output": "rgb"}"#])
        #expect(first.status == 0, "\(first.stderr)")
        let written = try Data(contentsOf: out)
        let summary = try tessera(["model", "summary", out.path, "--json"])
        #expect(summary.status == 0 && summary.stdout.contains("\"total_params\""))
        let again = try tessera(["model", "init", spec, out.path])
        #expect(again.status != 0 && again.stderr.contains("never overwrites"))
        #expect(again.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1)
        #expect(try Data(contentsOf: out) == written)
    }
}
