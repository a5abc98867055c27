// What every layer provides: its Keras type name, the shape rule, its parameters (Keras names,
// shapes and initializers) and the forward pass. Layers are values built from spec arguments;
// the graph owns the wiring and the parameter tensors.

/// A per-sample shape (no batch axis); nil is a dimension of any size.
typealias Dims = [Int?]

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
    /// This pass's place among the shares of a batch split across threads (nil: the whole batch).
    var share: ShareSlot?
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
    /// The same for one share of a batch split across threads: a layer whose training-mode
    /// gradient depends on the whole batch reduces through `share` (the default ignores it).
    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool, share: ShareSlot?) -> LayerGradients
    /// Only the parameters' gradients, for a layer whose input gradients nobody reads (one that
    /// reads the model's input, in training); nil: the layer has no cheaper way than `backward`.
    func parameterGradients(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor) -> [Tensor]?

    // Positions and cost (LayerGeometry.swift; the defaults there are the safe answers).

    /// Along `axis`, the positions of an input of per-sample dims `input` that outputs `output` read.
    func reach(_ output: ClosedRange<Int>, axis: Axis, input: Dims) -> Reach
    /// Input pixels per output pixel along `axis`.
    func gridStep(_ axis: Axis) -> GridStep
    /// What computing only `output` of the output map reads and runs; nil computes the whole map.
    func windowed(_ output: TileWindow, inputs: [Dims]) -> WindowedForward?
    /// Multiply-adds of one sample, given the per-sample dims the layer reads (its first input)
    /// and writes.
    func multiplyAdds(input: [Int], output: [Int]) -> Int

    // Roles the graph, the plan and the trainer ask about.

    /// The layer is a model input (InputLayer).
    var isModelInput: Bool { get }
    /// At inference the layer passes its input through unchanged (Dropout).
    var isIdentityAtInference: Bool { get }
    /// In training mode the layer's output depends on the whole batch (BatchNormalization).
    var usesBatchStatistics: Bool { get }
    /// In training mode the layer computes whole maps even when the output needs less of them:
    /// its numbers depend on the whole map (batch statistics, a mask drawn per position).
    var trainsOnWholeMaps: Bool { get }

    // What the inference plan fuses (InferencePlan.swift): a convolution, followed by a per-channel
    // affine, followed by an activation.

    /// A convolution the plan packs and runs through its own kernel.
    var convolution: ConvolutionFusion? { get }
    /// At inference y = x * scale + shift per channel (BatchNormalization's moving statistics).
    func inferenceAffine(_ parameters: [Tensor], channels: Int) -> (scale: [Float], shift: [Float])?
    /// The layer applies this activation and nothing else.
    var activationOnly: Activation? { get }
}

/// What the inference plan needs to fold and compile a convolution.
struct ConvolutionFusion {
    let activation: Activation
    let filters: Int
    let useBias: Bool
    /// The kernel axis of the output channels (Keras: 3 for Conv2D, 2 for Conv2DTranspose).
    let outputChannelAxis: Int
    /// The plan's operation for the (possibly folded) kernel, bias and epilogue.
    let compile: (_ kernel: Tensor, _ bias: [Float], _ epilogue: Epilogue) -> InferencePlan.Operation
}

extension Layer {
    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool, share: ShareSlot?) -> LayerGradients {
        backward(inputs, parameters, output: output, gradient: gradient, saved: saved, training: training)
    }
    func parameterGradients(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor) -> [Tensor]? { nil }
    func parameters(_ inputs: [Dims]) throws -> [ParameterSpec] { [] }
    var isModelInput: Bool { false }
    var isIdentityAtInference: Bool { false }
    var usesBatchStatistics: Bool { false }
    var trainsOnWholeMaps: Bool { usesBatchStatistics }
    var convolution: ConvolutionFusion? { nil }
    func inferenceAffine(_ parameters: [Tensor], channels: Int) -> (scale: [Float], shift: [Float])? { nil }
    var activationOnly: Activation? { nil }

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

/// Keras prints shapes as tuples with None for the batch and unknown sizes.
func describe(_ dims: Dims, batch: Bool = true) -> String {
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
