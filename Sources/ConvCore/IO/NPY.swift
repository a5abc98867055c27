// NumPy .npy files holding float32 arrays (C order, little-endian), versions 1.0 to 3.0: the
// exchange format for golden tests and `tessera model run`.

import Foundation

/// NumPy `.npy` files of float32 tensors (version 1 to 3 headers, C order), the golden tests' exchange format.
public enum NPY {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// Reads a float32 `.npy` file.
    public static func read(_ url: URL) throws -> Tensor { try decodeFile(url, decode) }

    /// Decodes a float32 `.npy` file, refusing other dtypes, Fortran order and truncated data.
    public static func decode(_ data: Data) throws -> Tensor {
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw ModelError("not a .npy file") }
        let major = bytes[6]
        let lengthBytes = major == 1 ? 2 : 4
        guard (1...3).contains(major), bytes.count >= 8 + lengthBytes else { throw ModelError(".npy version \(major) is not supported") }
        let headerLength = (0..<lengthBytes).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        let start = 8 + lengthBytes
        guard headerLength <= data.count - start else { throw ModelError(".npy header runs past the end of the file") }
        let base = data.startIndex
        guard let header = String(data: data[(base + start)..<(base + start + headerLength)], encoding: .utf8) else {
            throw ModelError(".npy header is not text")
        }
        guard let descr = field("descr", in: header) else { throw ModelError(".npy header has no descr") }
        guard descr == "'<f4'" else { throw ModelError(".npy dtype \(descr) is not float32 ('<f4')") }
        guard field("fortran_order", in: header) == "False" else { throw ModelError(".npy array is in Fortran order; save it C-ordered") }
        guard let shapeText = field("shape", in: header), shapeText.hasPrefix("("), shapeText.hasSuffix(")") else {
            throw ModelError(".npy header has no shape")
        }
        let shape = try shapeText.dropFirst().dropLast().split(separator: ",").map { part -> Int in
            guard let d = Int(part.trimmingCharacters(in: .whitespaces)), d >= 0, d < 1 << 40 else {
                throw ModelError(".npy shape \(shapeText) is not a tuple of sizes")
            }
            return d
        }
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= data.count else { throw ModelError(".npy shape \(shape) is larger than the file") }
            count = product
        }
        let payload = data.count - start - headerLength
        guard payload == count * 4 else {
            throw ModelError(".npy shape \(shape) needs \(count * 4) bytes of data, the file has \(payload)")
        }
        var scalars = [Float](repeating: 0, count: count)
        scalars.withUnsafeMutableBytes { _ = data.copyBytes(to: $0, from: (base + start + headerLength)..<data.endIndex) }
        for i in 0..<count { scalars[i] = Float(bitPattern: UInt32(littleEndian: scalars[i].bitPattern)) }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// The value text of `'key': value` in the header dictionary.
    private static func field(_ key: String, in header: String) -> String? {
        guard let k = header.range(of: "'\(key)':") else { return nil }
        var rest = header[k.upperBound...].drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        rest = rest.prefix { $0 != "," && $0 != "}" }
        return rest.trimmingCharacters(in: .whitespaces)
    }

    /// Encodes a tensor as a version 1 `.npy` file.
    public static func encode(_ t: Tensor) -> Data {
        let shape = t.shape.count == 1 ? "(\(t.shape[0]),)" : "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        // Version 1.0 pads the header with spaces and a newline to a 64-byte boundary.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data(magic + [1, 0])
        withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: Array(header.utf8))
        t.scalars.map { $0.bitPattern.littleEndian }.withUnsafeBytes { out.append(contentsOf: $0) }
        return out
    }

    /// Writes a tensor as a `.npy` file.
    public static func write(_ t: Tensor, to url: URL) throws {
        try writeAtomically(encode(t), to: url)
    }
}
