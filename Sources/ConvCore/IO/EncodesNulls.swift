// JSON reports whose every key is present: Swift's synthesized Encodable leaves out an optional
// property that is nil, and scripts reading `--json` output want the key with null instead.

/// Encodes every stored property under its name, a nil one as null.
public protocol EncodesNulls: Encodable {}

extension EncodesNulls {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: PropertyKey.self)
        for child in Mirror(reflecting: self).children {
            guard let label = child.label, let value = child.value as? any Encodable else { continue }
            // An Optional encodes itself as null when nil.
            try container.encode(EncodableValue(value), forKey: PropertyKey(stringValue: label))
        }
    }
}

private struct PropertyKey: CodingKey {
    let stringValue: String
    init(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

private struct EncodableValue: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}
