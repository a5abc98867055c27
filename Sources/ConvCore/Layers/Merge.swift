// Layers that combine several inputs of one shape element by element (Add, Subtract, Multiply,
// Average, Maximum, Minimum), and Concatenate, which joins them along an axis.

enum MergeOperation: Sendable { case add, subtract, multiply, average, maximum, minimum }

protocol ElementwiseMerge: PerPixelLayer {
    static var operation: MergeOperation { get }
    init(name: String)
}

extension ElementwiseMerge {
    init(name: String, arguments a: inout LayerArguments) throws { self.init(name: name) }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        if Self.operation == .subtract {
            guard inputs.count == 2 else { throw failure("takes exactly 2 inputs, got \(inputs.count)") }
        } else {
            guard inputs.count >= 2 else { throw failure("takes at least 2 inputs, got \(inputs.count)") }
        }
        var out = inputs[0]
        for d in inputs.dropFirst() {
            guard d.count == out.count, zip(d, out).allSatisfy({ $0 == nil || $1 == nil || $0 == $1 }) else {
                throw failure("input shapes \(inputs.map { describe($0) }.joined(separator: " and ")) differ")
            }
            out = zip(out, d).map { $0 ?? $1 }
        }
        return out
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        var y = inputs[0]
        for x in inputs.dropFirst() {
            for i in y.scalars.indices {
                let a = y.scalars[i], b = x.scalars[i]
                switch Self.operation {
                case .add, .average: y.scalars[i] = a + b
                case .subtract: y.scalars[i] = a - b
                case .multiply: y.scalars[i] = a * b
                case .maximum: y.scalars[i] = max(a, b)
                case .minimum: y.scalars[i] = min(a, b)
                }
            }
        }
        if Self.operation == .average {
            let s = 1 / Float(inputs.count)
            for i in y.scalars.indices { y.scalars[i] *= s }
        }
        return y
    }

    /// Maximum and Minimum send the gradient to the first input holding the chosen value.
    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        var grads = inputs.map { Tensor(zeros: $0.shape) }
        for i in gradient.scalars.indices {
            let d = gradient.scalars[i]
            switch Self.operation {
            case .add: for k in grads.indices { grads[k].scalars[i] = d }
            case .average: for k in grads.indices { grads[k].scalars[i] = d / Float(inputs.count) }
            case .subtract: grads[0].scalars[i] = d; grads[1].scalars[i] = -d
            case .multiply:
                for k in grads.indices {
                    var others = d
                    for j in inputs.indices where j != k { others *= inputs[j].scalars[i] }
                    grads[k].scalars[i] = others
                }
            case .maximum, .minimum:
                let k = inputs.firstIndex { $0.scalars[i] == output.scalars[i] } ?? 0
                grads[k].scalars[i] = d
            }
        }
        return LayerGradients(inputs: grads, parameters: [])
    }
}

struct Add: ElementwiseMerge { static let typeName = "Add"; static let operation = MergeOperation.add; let name: String }
struct Subtract: ElementwiseMerge { static let typeName = "Subtract"; static let operation = MergeOperation.subtract; let name: String }
struct Multiply: ElementwiseMerge { static let typeName = "Multiply"; static let operation = MergeOperation.multiply; let name: String }
struct Average: ElementwiseMerge { static let typeName = "Average"; static let operation = MergeOperation.average; let name: String }
struct Maximum: ElementwiseMerge { static let typeName = "Maximum"; static let operation = MergeOperation.maximum; let name: String }
struct Minimum: ElementwiseMerge { static let typeName = "Minimum"; static let operation = MergeOperation.minimum; let name: String }

struct Concatenate: Layer {
    static let typeName = "Concatenate"
    let name: String
    /// Keras axis: -1 is the last; 1 is the first per-sample axis (0 would be the batch).
    let axis: Int

    init(name: String, arguments a: inout LayerArguments) throws {
        self.name = name
        axis = try a.int("axis", default: -1)
        guard axis != 0 else { throw a.error("cannot concatenate along the batch axis") }
    }

    /// The per-sample axis index for inputs of `rank` per-sample dimensions.
    private func sampleAxis(rank: Int) throws -> Int {
        let i = axis < 0 ? rank + axis : axis - 1
        guard i >= 0, i < rank else { throw failure("axis \(axis) is out of range for rank \(rank + 1) inputs") }
        return i
    }

    private var joinsChannels: Bool { axis == -1 || axis == 3 }

    /// Joined along the channels, each output pixel reads the same pixel of every input.
    func reach(_ output: ClosedRange<Int>, axis: Axis, input: Dims) -> Reach {
        joinsChannels && input.count == 3 ? .positions(output) : .everything
    }

    func windowed(_ output: TileWindow, inputs: [Dims]) -> WindowedForward? {
        joinsChannels && inputs[0].count == 3 ? WindowedForward(inputs: inputs.map { _ in output }, layer: self) : nil
    }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        guard inputs.count >= 2 else { throw failure("takes at least 2 inputs, got \(inputs.count)") }
        let rank = inputs[0].count
        let k = try sampleAxis(rank: rank)
        var out = inputs[0]
        for d in inputs.dropFirst() {
            let compatible = d.count == rank && (0..<rank).allSatisfy { $0 == k || d[$0] == nil || out[$0] == nil || d[$0] == out[$0] }
            guard compatible else {
                throw failure("input shapes \(inputs.map { describe($0) }.joined(separator: " and ")) differ outside axis \(axis)")
            }
            for j in 0..<rank where j != k { out[j] = out[j] ?? d[j] }
            out[k] = out[k].flatMap { a in d[k].map { a + $0 } }
        }
        return out
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        let k = try sampleAxis(rank: inputs[0].rank - 1) + 1
        // Outer = product of axes before k; each input contributes blocks of (its axis size x inner).
        let outer = inputs[0].shape[..<k].reduce(1, *)
        let inner = inputs[0].shape[(k + 1)...].reduce(1, *)
        var shape = inputs[0].shape
        shape[k] = inputs.reduce(0) { $0 + $1.shape[k] }
        let row = shape[k] * inner
        return Tensor(shape: shape) { out in
            var offset = 0
            for x in inputs {
                let block = x.shape[k] * inner
                x.scalars.withUnsafeBufferPointer { xp in
                    for o in 0..<outer { copyFloats(block, from: xp.baseAddress! + o * block, to: out + o * row + offset) }
                }
                offset += block
            }
        }
    }

    /// Each input gets back its own slice of the gradient.
    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        let k = (try? sampleAxis(rank: inputs[0].rank - 1)).map { $0 + 1 } ?? 1
        let outer = inputs[0].shape[..<k].reduce(1, *)
        let inner = inputs[0].shape[(k + 1)...].reduce(1, *)
        var grads = inputs.map { [Float](repeating: 0, count: $0.count) }
        var position = 0
        for o in 0..<outer {
            for (j, x) in inputs.enumerated() {
                let block = x.shape[k] * inner
                grads[j].replaceSubrange((o * block)..<((o + 1) * block), with: gradient.scalars[position..<(position + block)])
                position += block
            }
        }
        return LayerGradients(inputs: zip(inputs, grads).map { Tensor(shape: $0.shape, scalars: $1) }, parameters: [])
    }
}
