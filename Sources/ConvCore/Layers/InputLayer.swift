// A model input: its per-sample shape, with nil for sizes fixed only at run time.

struct InputLayer: PerPixelLayer {
    static let typeName = "InputLayer"
    let name: String
    let shape: Dims

    init(name: String, arguments a: inout LayerArguments) throws {
        self.name = name
        guard let v = a.raw("shape"), case .array(let items) = v, !items.isEmpty else {
            throw a.error("an input needs \"shape\": a list of sizes (null for any size)")
        }
        shape = try items.map { item in
            switch item {
            case .null: return nil
            case .number(let x) where x == x.rounded() && x >= 1 && x < 1e9: return Int(x)
            default: throw a.error("input shape sizes must be positive integers or null, got \(item.text)")
            }
        }
    }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        guard inputs.isEmpty else { throw failure("an input layer takes no inputs") }
        return shape
    }

    var isModelInput: Bool { true }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        preconditionFailure("the graph feeds input layers directly")
    }

    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        LayerGradients(inputs: [], parameters: [])
    }
}
