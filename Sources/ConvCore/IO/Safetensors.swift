// The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw little-endian data. Reading trusts nothing: bounds,
// dtype, sizes, overlaps and holes are checked before a byte of tensor data is touched.

import Foundation

/// The safetensors format (DESIGN.md §6): an 8-byte header length, a JSON header, raw little-endian tensors.
public enum Safetensors {
    /// The reference implementation's limit; a larger header is an attack, not a model.
    static let maxHeaderBytes = 100_000_000

    /// A file's tensors by name and its string metadata.
    public struct Contents: Sendable {
        public var tensors: [String: Tensor]
        public var metadata: [String: String]
    }

    /// Reads a safetensors file.
    public static func read(_ url: URL) throws -> Contents { try decodeFile(url, decode) }

    /// Decodes a safetensors file, checking header bounds, F32 dtype, shapes and that the tensors tile the data exactly.
    public static func decode(_ data: Data) throws -> Contents {
        let bytes = [UInt8](data.prefix(8))
        guard bytes.count == 8 else { throw ModelError("not a safetensors file: only \(data.count) bytes") }
        let headerLength = bytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(maxHeaderBytes) else {
            throw ModelError("safetensors header length \(headerLength) is over the \(maxHeaderBytes)-byte limit")
        }
        guard headerLength <= UInt64(data.count - 8) else {
            throw ModelError("safetensors header length \(headerLength) runs past the end of the file (\(data.count) bytes)")
        }
        let start = data.startIndex + 8, dataStart = start + Int(headerLength)
        let header: JSONValue
        do { header = try JSONDecoder().decode(JSONValue.self, from: data[start..<dataStart]) } catch {
            throw ModelError("safetensors header is not valid JSON")
        }
        guard case .object(let entries) = header else { throw ModelError("safetensors header is not a JSON object") }
        let dataLength = data.count - 8 - Int(headerLength)

        var metadata: [String: String] = [:]
        var ranges: [(name: String, begin: Int, end: Int, shape: [Int])] = []
        for (name, entry) in entries {
            if name == "__metadata__" {
                guard case .object(let fields) = entry else { throw ModelError("safetensors __metadata__ is not an object") }
                for (k, v) in fields {
                    guard case .string(let s) = v else { throw ModelError("safetensors metadata '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard case .object(let f) = entry, case .string(let dtype)? = f["dtype"],
                  case .array(let shapeValues)? = f["shape"], case .array(let offsets)? = f["data_offsets"],
                  offsets.count == 2 else {
                throw ModelError("tensor '\(name)': header entry needs dtype, shape and data_offsets")
            }
            guard dtype == "F32" else { throw ModelError("tensor '\(name)' has dtype \(dtype); Tessera reads F32 only") }
            let shape = try shapeValues.map { v -> Int in
                guard case .number(let x) = v, x >= 0, x == x.rounded(), x < 1e12 else {
                    throw ModelError("tensor '\(name)': bad shape entry \(v.text)")
                }
                return Int(x)
            }
            let (begin, end) = try (offset(offsets[0], name), offset(offsets[1], name))
            var count = 1
            for d in shape {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, p <= dataLength else { throw ModelError("tensor '\(name)': shape \(shape) is larger than the file") }
                count = p
            }
            guard begin <= end, end <= dataLength else {
                throw ModelError("tensor '\(name)': data_offsets [\(begin), \(end)] run past the data (\(dataLength) bytes)")
            }
            guard end - begin == count * 4 else {
                throw ModelError("tensor '\(name)': shape \(shape) needs \(count * 4) bytes, data_offsets give \(end - begin)")
            }
            ranges.append((name, begin, end, shape))
        }
        ranges.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.begin < a.end {
            throw ModelError("tensors '\(a.name)' and '\(b.name)' overlap")
        }
        // The format indexes every byte: a gap hides data nobody validated.
        var covered = 0
        for r in ranges {
            guard r.begin == covered else { throw ModelError("safetensors data has a hole before tensor '\(r.name)'") }
            covered = r.end
        }
        guard covered == dataLength else { throw ModelError("safetensors data has \(dataLength - covered) unindexed trailing bytes") }

        var tensors: [String: Tensor] = [:]
        for r in ranges {
            let count = (r.end - r.begin) / 4
            var scalars = [Float](repeating: 0, count: count)
            scalars.withUnsafeMutableBytes { dst in
                _ = data.copyBytes(to: dst, from: (dataStart + r.begin)..<(dataStart + r.end))
            }
            for i in 0..<count { scalars[i] = Float(bitPattern: UInt32(littleEndian: scalars[i].bitPattern)) }
            tensors[r.name] = Tensor(shape: r.shape, scalars: scalars)
        }
        return Contents(tensors: tensors, metadata: metadata)
    }

    private static func offset(_ v: JSONValue, _ name: String) throws -> Int {
        guard case .number(let x) = v, x >= 0, x == x.rounded(), x < 1e15 else {
            throw ModelError("tensor '\(name)': bad data offset \(v.text)")
        }
        return Int(x)
    }

    /// Tensors are laid out in the given order; the header keeps that order too.
    public static func encode(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:]) -> Data {
        func quoted(_ s: String) -> String {
            String(decoding: try! JSONEncoder().encode(s), as: UTF8.self)
        }
        var entries: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(quoted($0)):\(quoted(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        for (name, t) in tensors {
            let end = offset + t.count * 4
            entries.append("\(quoted(name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        // Pad with spaces so tensor data starts 8-byte aligned, as the reference writer does.
        while header.count % 8 != 0 { header.append(0x20) }
        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for (_, t) in tensors {
            t.scalars.map { $0.bitPattern.littleEndian }.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        return out
    }

    /// Writes tensors (in the given order) and metadata as a safetensors file.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        try writeAtomically(encode(tensors, metadata: metadata), to: url)
    }
}
