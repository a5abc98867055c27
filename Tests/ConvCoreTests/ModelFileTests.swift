// Model files from strangers: every malformed or hostile file is refused with one line naming
// the file and the reason, and nothing crashes.

import Foundation
import Testing
@testable import ConvCore

@Suite struct ModelFileTests {
    static let specText = #"""
        {"name": "small", "input": {"name": "in", "shape": [null, null, 3]}, "layers": [
          {"name": "c", "type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"},
          {"name": "bn", "type": "BatchNormalization"}]}
        """#

    let directory: URL
    let model: Model
    let valid: Data

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-modelfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        model = try Model(spec: try spec(Self.specText), seed: 7)
        let url = directory.appendingPathComponent("valid.safetensors")
        try model.save(to: url, metadata: ["tessera.style": #"{"input": "rgb", "output": "rgb"}"#])
        valid = try Data(contentsOf: url)
    }

    func load(_ data: Data, _ name: String = "bad.safetensors") -> String {
        let url = directory.appendingPathComponent(name)
        try! data.write(to: url)
        return errorMessage { _ = try Model.load(url) }
    }

    func header(_ data: Data) -> (length: Int, json: String) {
        let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        return (n, String(decoding: data[8..<(8 + n)], as: UTF8.self))
    }

    func withHeaderLength(_ data: Data, _ n: UInt64) -> Data {
        var d = data
        withUnsafeBytes(of: n.littleEndian) { d.replaceSubrange(0..<8, with: $0) }
        return d
    }

    func expectOneLine(_ message: String, mentions words: [String]) {
        #expect(!message.contains("\n"), "\(message)")
        #expect(message.contains("bad.safetensors"), "\(message)")
        for w in words { #expect(message.contains(w), "'\(message)' should mention '\(w)'") }
    }

    @Test func validFileRoundTrips() throws {
        let url = directory.appendingPathComponent("valid.safetensors")
        let (loaded, metadata) = try Model.load(url)
        #expect(metadata["tessera.style"] == #"{"input": "rgb", "output": "rgb"}"#)
        #expect(loaded.weights.map(\.name) == model.weights.map(\.name))
        #expect(zip(loaded.weights, model.weights).allSatisfy { $0.tensor == $1.tensor })
        #expect(header(valid).length % 8 == 0)
    }

    @Test func truncated() {
        expectOneLine(load(valid.prefix(valid.count - 10)), mentions: ["run past"])
        expectOneLine(load(valid.prefix(20)), mentions: ["runs past the end"])
    }

    @Test func emptyAndTiny() {
        expectOneLine(load(Data()), mentions: ["only 0 bytes"])
        expectOneLine(load(Data([1, 2, 3])), mentions: ["only 3 bytes"])
    }

    @Test func headerLengthPastTheEnd() {
        expectOneLine(load(withHeaderLength(valid, UInt64(valid.count))), mentions: ["runs past the end"])
    }

    @Test func fourGigabyteHeader() {
        expectOneLine(load(withHeaderLength(valid, 4 << 30)), mentions: ["4294967296", "limit"])
        expectOneLine(load(withHeaderLength(valid, UInt64.max)), mentions: ["limit"])
    }

    @Test func wrongDtype() {
        let (n, json) = header(valid)
        let f16 = json.replacingOccurrences(of: #""c.kernel":{"dtype":"F32""#, with: #""c.kernel":{"dtype":"F16""#)
        #expect(f16 != json)
        var d = valid
        d.replaceSubrange(8..<(8 + n), with: Array(f16.utf8))
        expectOneLine(load(d), mentions: ["c.kernel", "F16", "F32"])
    }

    @Test func garbageHeader() {
        let (n, _) = header(valid)
        var d = valid
        d.replaceSubrange(8..<(8 + n), with: [UInt8](repeating: 0x41, count: n))
        expectOneLine(load(d), mentions: ["not valid JSON"])
    }

    @Test func overlappingAndHoles() {
        let (n, json) = header(valid)
        // Point the kernel at the bias's bytes: same length claims, overlapping ranges.
        let kernelRange = json.range(of: #""c.kernel":{"dtype":"F32","shape":[3,3,3,4],"data_offsets":[0,432]}"#)
        #expect(kernelRange != nil)
        var shifted = json.replacingOccurrences(of: #""data_offsets":[0,432]"#, with: #""data_offsets":[4,436]"#)
        var d = valid
        d.replaceSubrange(8..<(8 + n), with: Array(shifted.utf8))
        expectOneLine(load(d), mentions: ["overlap"])
        // Trailing bytes no tensor claims.
        expectOneLine(load(valid + Data([0, 0, 0, 0])), mentions: ["unindexed"])
    }

    @Test func shapeMismatchWithTheSpec() throws {
        let other = try Model(spec: try spec(Self.specText.replacingOccurrences(of: #""filters": 4"#, with: #""filters": 8"#)))
        let url = directory.appendingPathComponent("bad.safetensors")
        try Safetensors.write(other.weights, metadata: ["tessera.spec": Self.specText], to: url)
        expectOneLine(errorMessage { _ = try Model.load(url) }, mentions: ["c.kernel", "[3, 3, 3, 8]", "[3, 3, 3, 4]"])
    }

    @Test func nanAndInfiniteWeights() throws {
        for bad in [Float.nan, .infinity] {
            var weights = model.weights
            weights[1].tensor.scalars[2] = bad
            let url = directory.appendingPathComponent("bad.safetensors")
            try Safetensors.write(weights, metadata: ["tessera.spec": Self.specText], to: url)
            expectOneLine(errorMessage { _ = try Model.load(url) }, mentions: ["c.bias", "NaN or infinite"])
        }
    }

    @Test func missingExtraAndUnlabelled() throws {
        let url = directory.appendingPathComponent("bad.safetensors")
        try Safetensors.write(Array(model.weights.dropLast()), metadata: ["tessera.spec": Self.specText], to: url)
        expectOneLine(errorMessage { _ = try Model.load(url) }, mentions: ["missing", "bn.moving_variance"])
        try Safetensors.write(model.weights + [("extra.kernel", Tensor(zeros: [1]))], metadata: ["tessera.spec": Self.specText], to: url)
        expectOneLine(errorMessage { _ = try Model.load(url) }, mentions: ["extra.kernel", "not a parameter"])
        try Safetensors.write(model.weights, to: url)
        expectOneLine(errorMessage { _ = try Model.load(url) }, mentions: ["tessera.spec"])
    }

    @Test func missingFile() {
        let message = errorMessage { _ = try Model.load(directory.appendingPathComponent("nowhere.safetensors")) }
        #expect(message.contains("nowhere.safetensors") && message.contains("cannot read") && !message.contains("\n"))
    }
}
