// What every layer provides: its Keras type name, the shape rule, its parameters (Keras names,
// shapes and initializers) and the forward pass. Layers are values built from spec arguments;
// the graph owns the wiring and the parameter tensors.

/// A per-sample shape (no batch axis); nil is a dimension of any size.
public typealias Dims = [Int?]

struct ParameterSpec: Sendable, Equatable {
    let name: String
    let shape: [Int]
    let initializer: Initializer
    let trainable: Bool
}

/// Per-call state of a forward pass.
struct ForwardContext {
    var training: Bool
    /// Dropout masks in training mode.
    var generator: SeededGenerator
    /// Non-trainable parameters a layer replaced during this call (BatchNormalization's moving
    /// statistics in training mode), by index into the layer's parameters.
    var updatedParameters: [Int: Tensor] = [:]
    /// What a layer keeps for its backward pass that its inputs cannot give back (Dropout's mask).
    var saved: Tensor?
}

/// Gradients of the loss with respect to a layer's inputs and each of its parameters (zeros for
/// non-trainable ones).
struct LayerGradients {
    var inputs: [Tensor]
    var parameters: [Tensor]
}

protocol Layer: Sendable {
    static var typeName: String { get }
    var name: String { get }
    init(name: String, arguments: inout LayerArguments) throws
    /// Checks the input shapes and returns the output shape.
    func outputShape(_ inputs: [Dims]) throws -> Dims
    /// The parameters for these (already checked) input shapes, in Keras order.
    func parameters(_ inputs: [Dims]) throws -> [ParameterSpec]
    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor
    /// Given the forward pass's inputs, output and saved state, and the gradient of the output.
    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients
}

extension Layer {
    func parameters(_ inputs: [Dims]) throws -> [ParameterSpec] { [] }

    func failure(_ message: String) -> ModelError {
        ModelError("layer '\(name)' (\(Self.typeName)): \(message)")
    }

    /// The one input of a single-input layer.
    func single(_ inputs: [Dims]) throws -> Dims {
        guard inputs.count == 1 else { throw failure("takes 1 input, got \(inputs.count)") }
        return inputs[0]
    }

    /// The one input of an image layer: (height, width, channels).
    func image(_ inputs: [Dims]) throws -> (h: Int?, w: Int?, c: Int?) {
        let d = try single(inputs)
        guard d.count == 3 else {
            throw failure("needs an image input (height, width, channels), got \(describe(d))")
        }
        return (d[0], d[1], d[2])
    }

    /// A dimension that parameters depend on must be known.
    func known(_ d: Int?, _ what: String) throws -> Int {
        guard let d else { throw failure("the \(what) must be known to size the weights") }
        return d
    }
}

/// The bias gradient: the output gradient summed over every position but the last axis.
func biasGradient(_ dz: Tensor) -> Tensor {
    let c = dz.shape.last!
    var db = [Float](repeating: 0, count: c)
    for p in 0..<(dz.count / max(c, 1)) { for ch in 0..<c { db[ch] += dz.scalars[p * c + ch] } }
    return Tensor(shape: [c], scalars: db)
}

/// A kernel [kh, kw, a, b] as [kh, kw, b, a]: each tap's matrix transposed, so a loop that sums
/// over a can run along contiguous memory instead (the shape of the vectorizable inner loops).
func swappingLastTwoAxes(_ kernel: Tensor) -> Tensor {
    let (a, b) = (kernel.shape[2], kernel.shape[3]), taps = kernel.shape[0] * kernel.shape[1]
    var out = [Float](repeating: 0, count: kernel.count)
    for t in 0..<taps {
        for i in 0..<a { for j in 0..<b { out[(t * b + j) * a + i] = kernel.scalars[(t * a + i) * b + j] } }
    }
    return Tensor(shape: [kernel.shape[0], kernel.shape[1], b, a], scalars: out)
}

/// Keras prints shapes as tuples with None for the batch and unknown sizes.
public func describe(_ dims: Dims, batch: Bool = true) -> String {
    let parts = (batch ? ["None"] : []) + dims.map { $0.map(String.init) ?? "None" }
    return "(" + parts.joined(separator: ", ") + (parts.count == 1 ? ",)" : ")")
}

/// The layer types a spec may name, by Keras class name.
let layerTypes: [String: any Layer.Type] = {
    let all: [any Layer.Type] = [
        InputLayer.self, Conv2D.self, Conv2DTranspose.self, Dense.self, Flatten.self, Reshape.self,
        MaxPooling2D.self, AveragePooling2D.self, GlobalMaxPooling2D.self, GlobalAveragePooling2D.self,
        BatchNormalization.self, Dropout.self, Concatenate.self,
        Add.self, Subtract.self, Multiply.self, Average.self, Maximum.self, Minimum.self,
        Cropping2D.self, ZeroPadding2D.self, UpSampling2D.self, ActivationLayer.self,
        RGBToHSV.self, HSVToRGB.self, RGBToYCbCr.self, YCbCrToRGB.self, RGBToLuminance.self,
    ]
    return Dictionary(uniqueKeysWithValues: all.map { ($0.typeName, $0) })
}()
