// Reads a layer's Keras-named arguments with Keras defaults and refuses arguments nobody read,
// so a typo like "filter" is an error instead of a silently ignored setting.

struct LayerArguments {
    let layer: String
    private let values: [String: JSONValue]
    private var used: Set<String> = []

    init(layer: String, values: [String: JSONValue]) {
        self.layer = layer
        self.values = values
    }

    func error(_ message: String) -> ModelError { ModelError("layer '\(layer)': \(message)") }

    mutating func raw(_ key: String) -> JSONValue? {
        used.insert(key)
        if case .null? = values[key] { return nil }
        return values[key]
    }

    mutating func int(_ key: String) throws -> Int {
        guard let v = raw(key) else { throw error("missing argument '\(key)'") }
        return try asInt(v, key)
    }

    mutating func int(_ key: String, default d: Int) throws -> Int {
        guard let v = raw(key) else { return d }
        return try asInt(v, key)
    }

    mutating func double(_ key: String, default d: Double) throws -> Double {
        guard let v = raw(key) else { return d }
        guard case .number(let x) = v, x.isFinite else { throw error("'\(key)' must be a number, got \(v.text)") }
        return x
    }

    mutating func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = raw(key) else { return d }
        guard case .bool(let b) = v else { throw error("'\(key)' must be true or false, got \(v.text)") }
        return b
    }

    mutating func string(_ key: String, default d: String) throws -> String {
        guard let v = raw(key) else { return d }
        guard case .string(let s) = v else { throw error("'\(key)' must be a string, got \(v.text)") }
        return s
    }

    mutating func choice(_ key: String, default d: String, from allowed: [String]) throws -> String {
        let s = try string(key, default: d).lowercased()
        guard allowed.contains(s) else {
            throw error("'\(key)' must be one of \(allowed.joined(separator: ", ")), got \"\(s)\"")
        }
        return s
    }

    /// An int or a pair of ints (Keras kernel_size, strides, pool_size, size).
    mutating func pair(_ key: String) throws -> (Int, Int) {
        guard let v = raw(key) else { throw error("missing argument '\(key)'") }
        return try asPair(v, key)
    }

    mutating func pair(_ key: String, default d: (Int, Int)) throws -> (Int, Int) {
        guard let v = raw(key) else { return d }
        return try asPair(v, key)
    }

    mutating func intList(_ key: String) throws -> [Int] {
        guard let v = raw(key) else { throw error("missing argument '\(key)'") }
        guard case .array(let items) = v else { throw error("'\(key)' must be a list of integers, got \(v.text)") }
        return try items.map { try asInt($0, key) }
    }

    /// Keras cropping/padding: n, [a, b] (symmetric per axis) or [[top, bottom], [left, right]].
    mutating func edges(_ key: String, default d: Int) throws -> (top: Int, bottom: Int, left: Int, right: Int) {
        guard let v = raw(key) else { return (d, d, d, d) }
        switch v {
        case .number:
            let n = try asInt(v, key)
            return (n, n, n, n)
        case .array(let items) where items.count == 2:
            if case .array = items[0] {
                let (t, b) = try asPair(items[0], key), (l, r) = try asPair(items[1], key)
                return (t, b, l, r)
            }
            let h = try asInt(items[0], key), w = try asInt(items[1], key)
            return (h, h, w, w)
        default:
            throw error("'\(key)' must be n, [h, w] or [[top, bottom], [left, right]], got \(v.text)")
        }
    }

    mutating func activation(_ key: String = "activation") throws -> Activation {
        let name = try string(key, default: "linear")
        guard let a = Activation(rawValue: name.lowercased()) else {
            throw error("unknown activation \"\(name)\" (known: \(Activation.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return a
    }

    mutating func initializer(_ key: String, default d: Initializer) throws -> Initializer {
        let name = try string(key, default: d.rawValue)
        guard let i = Initializer(rawValue: name.lowercased()) else {
            throw error("unknown initializer \"\(name)\" (known: \(Initializer.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return i
    }

    /// Throws for any argument no reader asked for.
    func finish(type: String) throws {
        let unknown = Set(values.keys).subtracting(used).sorted()
        if !unknown.isEmpty {
            throw error("\(type) has no argument \(unknown.map { "'\($0)'" }.joined(separator: ", "))")
        }
    }

    private func asInt(_ v: JSONValue, _ key: String) throws -> Int {
        guard case .number(let x) = v, x == x.rounded(), abs(x) < 1e9 else {
            throw error("'\(key)' must be an integer, got \(v.text)")
        }
        return Int(x)
    }

    private func asPair(_ v: JSONValue, _ key: String) throws -> (Int, Int) {
        if case .array(let items) = v {
            guard items.count == 2 else { throw error("'\(key)' must be n or [h, w], got \(v.text)") }
            return (try asInt(items[0], key), try asInt(items[1], key))
        }
        let n = try asInt(v, key)
        return (n, n)
    }
}
