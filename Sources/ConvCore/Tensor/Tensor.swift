// A dense Float32 tensor in row-major order with the last axis fastest: NHWC for images, so the
// channels of one pixel are contiguous (what SIMD over channels wants) and a batch of tiles is
// one buffer (what batching wants).

/// A dense Float32 tensor, row-major with the last axis fastest: NHWC for image batches.
public struct Tensor: Sendable, Equatable {
    /// Dimensions, batch first. An image batch is [n, h, w, c].
    public private(set) var shape: [Int]
    /// Elements, `shape.reduce(1, *)` of them, last axis fastest. Other modules write them through
    /// `init(shape:writing:)` or `withUnsafeMutableScalars`, which keep the count fixed.
    public internal(set) var scalars: [Float]

    /// A tensor of `shape` holding `scalars` (as many as the shape needs).
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == scalars.count,
                     "shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    /// A tensor whose every scalar `body` writes: the buffer starts uninitialised (no zero fill
    /// before a kernel overwrites it all).
    public init(shape: [Int], writing body: (UnsafeMutablePointer<Float>) throws -> Void) rethrows {
        let count = shape.reduce(1, *)
        self.init(shape: shape, scalars: try [Float](unsafeUninitializedCapacity: count) { buffer, written in
            try body(buffer.baseAddress!)
            written = count
        })
    }

    /// Runs `body` on the scalars in place (`count` of them, last axis fastest).
    public mutating func withUnsafeMutableScalars<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    }

    /// A tensor with every element `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }

    /// The same scalars seen with another shape of the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// Largest absolute difference to `other`; infinity when the shapes differ.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        guard shape == other.shape else { return .infinity }
        var worst: Float = 0
        for i in scalars.indices {
            let d = abs(scalars[i] - other.scalars[i])
            if !(d <= worst) { worst = d.isNaN ? .infinity : d }
        }
        return worst
    }
}

extension Tensor {
    /// Samples `range` of the batch (first) axis.
    func batchSlice(_ range: Range<Int>) -> Tensor {
        let per = shape.dropFirst().reduce(1, *)
        return Tensor(shape: [range.count] + shape.dropFirst(), scalars: Array(scalars[(range.lowerBound * per)..<(range.upperBound * per)]))
    }

    /// Views a rank-4 NHWC tensor's dimensions.
    var nhwc: (n: Int, h: Int, w: Int, c: Int) {
        precondition(rank == 4, "expected an NHWC tensor, got shape \(shape)")
        return (shape[0], shape[1], shape[2], shape[3])
    }
}
