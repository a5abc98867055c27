// Global max/average pooling: one value per channel whatever the image size, which is how a
// model accepts any input size where Flatten cannot. keepdims false gives (channels).

protocol GlobalPooling2D: Layer {
    static var kind: PoolKind { get }
    var keepDims: Bool { get }
    init(name: String, keepDims: Bool)
}

extension GlobalPooling2D {
    init(name: String, arguments a: inout LayerArguments) throws {
        self.init(name: name, keepDims: try a.bool("keepdims", default: false))
    }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let c = try image(inputs).c
        return keepDims ? [1, 1, c] : [c]
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        let x = inputs[0]
        let (n, h, w, c) = x.nhwc
        var out = [Float](repeating: Self.kind == .max ? -.infinity : 0, count: n * c)
        for b in 0..<n {
            for p in 0..<(h * w) {
                let base = (b * h * w + p) * c
                for ch in 0..<c {
                    let v = x.scalars[base + ch]
                    out[b * c + ch] = Self.kind == .max ? max(out[b * c + ch], v) : out[b * c + ch] + v
                }
            }
        }
        if Self.kind == .average { let s = 1 / Float(h * w); for i in out.indices { out[i] *= s } }
        return Tensor(shape: keepDims ? [n, 1, 1, c] : [n, c], scalars: out)
    }

    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        let x = inputs[0]
        let (n, h, w, c) = x.nhwc
        var dx = Tensor(zeros: x.shape)
        for b in 0..<n {
            for ch in 0..<c {
                let d = gradient.scalars[b * c + ch]
                if Self.kind == .max {
                    var at = b * h * w * c + ch
                    for p in 0..<(h * w) where x.scalars[(b * h * w + p) * c + ch] > x.scalars[at] { at = (b * h * w + p) * c + ch }
                    dx.scalars[at] = d
                } else {
                    for p in 0..<(h * w) { dx.scalars[(b * h * w + p) * c + ch] = d / Float(h * w) }
                }
            }
        }
        return LayerGradients(inputs: [dx], parameters: [])
    }
}

struct GlobalMaxPooling2D: GlobalPooling2D {
    static let typeName = "GlobalMaxPooling2D"
    static let kind = PoolKind.max
    let name: String
    let keepDims: Bool
    init(name: String, keepDims: Bool) { (self.name, self.keepDims) = (name, keepDims) }
}

struct GlobalAveragePooling2D: GlobalPooling2D {
    static let typeName = "GlobalAveragePooling2D"
    static let kind = PoolKind.average
    let name: String
    let keepDims: Bool
    init(name: String, keepDims: Bool) { (self.name, self.keepDims) = (name, keepDims) }
}
