// What a layer says about positions: which input positions an output position reads, how its
// grid steps, what it must compute for a window of its output, and how many multiply-adds it
// does. The inference plan's tile windows, the region fast path (DESIGN.md §4) and the cost
// counts ask the layers these questions instead of switching on their types. The defaults are
// the safe answers: a layer that says nothing mixes positions (the region path refuses it), is
// computed whole on tile windows, and costs nothing worth counting.

/// A spatial axis of an image map (per sample: height, width, channels).
enum Axis: Int, CaseIterable, Sendable {
    case rows = 0, columns = 1
}

/// What a run of output positions along one axis reads of one input.
enum Reach: Equatable, Sendable {
    /// Possibly every position: the layer mixes positions (Flatten, global pooling, any layer that
    /// does not say otherwise).
    case everything
    /// These positions, not clamped to the input: a reach below 0 or past its end reads padding.
    case positions(ClosedRange<Int>)
    /// No position (outputs of a transposed convolution narrower than its stride).
    case nothing
}

/// Input pixels per output pixel along one axis, as a fraction (a stride, or one over an upsampling).
struct GridStep: Equatable, Sendable {
    var inputPixels: Int, outputPixels: Int
    static let one = GridStep(inputPixels: 1, outputPixels: 1)
}

/// Rows and columns of a layer's full output map.
struct TileWindow: Equatable, Sendable {
    var rows: Range<Int>, cols: Range<Int>

    init(rows: Range<Int>, cols: Range<Int>) { (self.rows, self.cols) = (rows, cols) }

    /// The whole map of per-sample dims (height, width, ...).
    init(whole dims: Dims) { self.init(rows: 0..<dims[0]!, cols: 0..<dims[1]!) }

    func range(_ axis: Axis) -> Range<Int> { axis == .rows ? rows : cols }

    func union(_ other: TileWindow) -> TileWindow {
        TileWindow(rows: min(rows.lowerBound, other.rows.lowerBound)..<max(rows.upperBound, other.rows.upperBound),
                   cols: min(cols.lowerBound, other.cols.lowerBound)..<max(cols.upperBound, other.cols.upperBound))
    }
}

/// How a layer computes a window of its output from windows of its inputs.
struct WindowedForward: Sendable {
    /// The window of each input it reads (within the input).
    let inputs: [TileWindow]
    /// The layer that runs on those windows (the layer itself, or a variant that gives the same
    /// numbers there); nil when the output window is the input window as it is (cropping).
    let layer: (any Layer)?
}

extension Layer {
    func reach(_ output: ClosedRange<Int>, axis: Axis, input: Dims) -> Reach { .everything }
    func gridStep(_ axis: Axis) -> GridStep { .one }
    func windowed(_ output: TileWindow, inputs: [Dims]) -> WindowedForward? { nil }
    func multiplyAdds(input: [Int], output: [Int]) -> Int { 0 }
}

/// The answers of a layer that works pixel by pixel (activations, normalisation, merges, colour
/// spaces, a Dense on the channel axis): each output position reads the same position of every input.
protocol PerPixelLayer: Layer {}

extension PerPixelLayer {
    func reach(_ output: ClosedRange<Int>, axis: Axis, input: Dims) -> Reach { .positions(output) }
    func windowed(_ output: TileWindow, inputs: [Dims]) -> WindowedForward? {
        WindowedForward(inputs: inputs.map { _ in output }, layer: self)
    }
}

/// A layer that slides a kernel over its input (Conv2D, pooling): its reach and grid follow from
/// the kernel size, strides and padding.
protocol SlidingWindowLayer: Layer {
    var kernelSize: (Int, Int) { get }
    var strides: (Int, Int) { get }
    var padding: Padding { get }
}

extension SlidingWindowLayer {
    /// Outputs r read r.lower * s - before ... r.upper * s - before + k - 1.
    func reach(_ output: ClosedRange<Int>, axis: Axis, input: Dims) -> Reach {
        let (k, s) = axis == .rows ? (kernelSize.0, strides.0) : (kernelSize.1, strides.1)
        let before = padding.before(input[axis.rawValue]!, kernel: k, stride: s)
        return .positions((output.lowerBound * s - before)...(output.upperBound * s - before + k - 1))
    }

    func gridStep(_ axis: Axis) -> GridStep { GridStep(inputPixels: axis == .rows ? strides.0 : strides.1, outputPixels: 1) }

    /// The input window `output` reads, clamped to the input; nil when `inside` and it reaches
    /// into the padding.
    func inputWindow(_ output: TileWindow, input: Dims, inside: Bool) -> TileWindow? {
        func axis(_ a: Axis) -> Range<Int>? {
            let r = output.range(a), size = input[a.rawValue]!
            guard case .positions(let p) = reach(r.lowerBound...(r.upperBound - 1), axis: a, input: input) else { return nil }
            if inside && (p.lowerBound < 0 || p.upperBound >= size) { return nil }
            return max(p.lowerBound, 0)..<min(p.upperBound + 1, size)
        }
        guard let rows = axis(.rows), let cols = axis(.columns) else { return nil }
        return TileWindow(rows: rows, cols: cols)
    }
}

func floorDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
