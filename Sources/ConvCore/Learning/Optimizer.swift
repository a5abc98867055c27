// Optimizers with Keras 3's update rules and defaults, and state that saves and restores exactly
// (as tensors, so a resumed run continues bit for bit).

import Foundation

/// Which update rule an optimizer applies.
public enum OptimizerKind: String, Sendable, CaseIterable { case sgd, adam }

/// SGD (with momentum, optionally Nesterov) or Adam, with Keras' defaults and update order.
public struct Optimizer: Sendable {
    public let kind: OptimizerKind
    public var learningRate: Float
    /// SGD.
    public var momentum: Float
    public var nesterov: Bool
    /// Adam.
    public var beta1: Float, beta2: Float, epsilon: Float
    /// Updates applied so far.
    public private(set) var iterations: Int = 0
    /// Per parameter: SGD velocity, or Adam's first and second moments, created on first use.
    var slots: [String: [Float]] = [:]

    /// Keras: SGD(learning_rate=0.01, momentum=0, nesterov=False).
    public static func sgd(learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false) -> Optimizer {
        Optimizer(kind: .sgd, learningRate: learningRate, momentum: momentum, nesterov: nesterov,
                  beta1: 0.9, beta2: 0.999, epsilon: 1e-7)
    }

    /// Keras: Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7).
    public static func adam(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7) -> Optimizer {
        Optimizer(kind: .adam, learningRate: learningRate, momentum: 0, nesterov: false, beta1: beta1, beta2: beta2, epsilon: epsilon)
    }

    /// One update of `value` (parameter `name`) by `gradient`.
    mutating func update(_ name: String, _ value: inout [Float], gradient g: [Float]) {
        switch kind {
        case .sgd:
            guard momentum != 0 else {
                for i in value.indices { value[i] -= learningRate * g[i] }
                return
            }
            var m = slot("\(name).velocity", count: value.count)
            for i in value.indices {
                m[i] = m[i] * momentum - learningRate * g[i]
                value[i] += nesterov ? m[i] * momentum - learningRate * g[i] : m[i]
            }
            slots["\(name).velocity"] = m
        case .adam:
            let step = Float(iterations + 1)
            let alpha = learningRate * (1 - powf(beta2, step)).squareRoot() / (1 - powf(beta1, step))
            var m = slot("\(name).m", count: value.count), v = slot("\(name).v", count: value.count)
            let (beta1, beta2, epsilon) = (beta1, beta2, epsilon)
            value.withUnsafeMutableBufferPointer { value in
                m.withUnsafeMutableBufferPointer { m in
                    v.withUnsafeMutableBufferPointer { v in
                        g.withUnsafeBufferPointer { g in
                            for i in value.indices {
                                m[i] += (g[i] - m[i]) * (1 - beta1)
                                v[i] += (g[i] * g[i] - v[i]) * (1 - beta2)
                                value[i] -= (m[i] * alpha) / (v[i].squareRoot() + epsilon)
                            }
                        }
                    }
                }
            }
            slots["\(name).m"] = m
            slots["\(name).v"] = v
        }
    }

    /// The slot taken out of the table (zeros the first time), so updating it copies nothing.
    private mutating func slot(_ key: String, count: Int) -> [Float] {
        slots.removeValue(forKey: key) ?? [Float](repeating: 0, count: count)
    }

    /// Marks the end of one step (all parameters updated).
    mutating func finishStep() { iterations += 1 }

    // MARK: state

    /// Hyperparameters and step count as text; slots as tensors. Together they restore exactly.
    public var state: (metadata: [String: String], tensors: [(name: String, tensor: Tensor)]) {
        let metadata = [
            "optimizer": kind.rawValue, "learning_rate": Self.exact(learningRate), "momentum": Self.exact(momentum),
            "nesterov": String(nesterov), "beta_1": Self.exact(beta1), "beta_2": Self.exact(beta2),
            "epsilon": Self.exact(epsilon), "iterations": String(iterations),
        ]
        let tensors = slots.keys.sorted().map { ($0, Tensor(shape: [slots[$0]!.count], scalars: slots[$0]!)) }
        return (metadata, tensors)
    }

    /// An optimizer restored from a checkpoint's state.
    public init(state metadata: [String: String], tensors: [String: Tensor]) throws {
        func float(_ key: String) throws -> Float {
            guard let s = metadata[key], let bits = UInt32(s, radix: 16) else { throw ModelError("optimizer state: bad or missing '\(key)'") }
            return Float(bitPattern: bits)
        }
        guard let kind = metadata["optimizer"].flatMap(OptimizerKind.init(rawValue:)) else {
            throw ModelError("optimizer state: unknown optimizer '\(metadata["optimizer"] ?? "")'")
        }
        guard let iterations = metadata["iterations"].flatMap(Int.init), let nesterov = metadata["nesterov"].flatMap(Bool.init) else {
            throw ModelError("optimizer state: bad iterations or nesterov")
        }
        self.init(kind: kind, learningRate: try float("learning_rate"), momentum: try float("momentum"), nesterov: nesterov,
                  beta1: try float("beta_1"), beta2: try float("beta_2"), epsilon: try float("epsilon"))
        self.iterations = iterations
        slots = tensors.mapValues(\.scalars)
    }

    private init(kind: OptimizerKind, learningRate: Float, momentum: Float, nesterov: Bool, beta1: Float, beta2: Float, epsilon: Float) {
        (self.kind, self.learningRate, self.momentum, self.nesterov) = (kind, learningRate, momentum, nesterov)
        (self.beta1, self.beta2, self.epsilon) = (beta1, beta2, epsilon)
    }

    /// Bit pattern in hex: no decimal round trip can change a float.
    private static func exact(_ x: Float) -> String { String(x.bitPattern, radix: 16) }
}
