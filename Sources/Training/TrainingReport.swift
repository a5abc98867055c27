// var/training/<name>/report.html: the loss curves as an SVG drawn here (the training loss every
// few steps, the validation loss at each checkpoint, log scale, both axes titled) and, per epoch,
// like pix2pix's page, one held-out image whole (input, the epoch's output, target) and a strip
// of sample tiles (input core, output, target; labelled columns, framed cells), each rendered
// from that epoch's checkpoint, so the page can always be rebuilt from the database, after a
// resume too. While the run is live the page reloads itself; once it has finished it says so.

import ConvCore
import Foundation
import Imaging
import JobStore
import Styles

struct TrainingReport {
    let directory: URL
    /// The tiles the strips show (the first few validation tiles).
    let samples: TileBatch
    let handling: StyleHandling
    /// The pair shown whole each epoch (a held-out one when there are any).
    let whole: (input: URL, target: URL, kind: String)

    static let sampleCount = 6, scale = 4, gap = 4
    /// The long side the whole image is shown at.
    static let wholeSide = 320
    /// Seconds between reloads of a live run's page.
    static let refreshSeconds = 15

    init(directory: URL, samples: TileBatch, handling: StyleHandling, whole: (input: URL, target: URL, kind: String)) {
        self.directory = directory
        // Spread over the validation tiles, so over the held-out images.
        let count = samples.inputs.shape[0], k = min(Self.sampleCount, count)
        let picked = (0..<k).map { $0 * count / k }
        self.samples = TileBatch(inputs: samples.inputs.batch(picked), targets: samples.targets.batch(picked),
                                 imageInputs: samples.imageInputs.batch(picked), imageTargets: samples.imageTargets.batch(picked))
        (self.handling, self.whole) = (handling, whole)
    }

    var colour: ColourHandling { handling.colour }
    var file: URL { directory.appendingPathComponent("report.html") }

    static func sampleName(epoch: Int) -> String { String(format: "samples/epoch-%03d.png", epoch) }
    static func wholeName(epoch: Int) -> String { String(format: "samples/epoch-%03d-image.png", epoch) }
    static let wholeInput = "samples/image-input.png", wholeTarget = "samples/image-target.png"

    /// Renders what is missing (the whole pair once, each epoch's strip and image) and rewrites
    /// the page; `exported`: the run has finished and this is its style (file, checkpoint step).
    @discardableResult
    func write(run: TrainingRun, settings: TrainingSettings, metrics: [TrainingMetric], epochs: [TrainingCheckpoint],
               exported: (file: URL, step: Int)?, pool: WorkerPool) throws -> URL {
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("samples"), withIntermediateDirectories: true)
        for (from, name) in [(whole.input, Self.wholeInput), (whole.target, Self.wholeTarget)] {
            let url = directory.appendingPathComponent(name)
            if !FileManager.default.fileExists(atPath: url.path) { try Self.shrink(from, to: url) }
        }
        for checkpoint in epochs {
            let strip = directory.appendingPathComponent(Self.sampleName(epoch: checkpoint.epoch))
            let image = directory.appendingPathComponent(Self.wholeName(epoch: checkpoint.epoch))
            if FileManager.default.fileExists(atPath: strip.path) && FileManager.default.fileExists(atPath: image.path) { continue }
            let model = try Model.decode(checkpoint.weights).model
            try self.strip(model, pool: pool, to: strip)
            try stylizeWhole(model, threads: pool.threads, to: image)
        }
        let page = html(run: run, settings: settings, metrics: metrics, epochs: epochs, exported: exported)
        try Data(page.utf8).write(to: file, options: .atomic)
        return file
    }

    /// The image at `wholeSide` pixels on its long side (never enlarged), as an 8-bit PNG.
    private static func shrink(_ url: URL, to output: URL) throws {
        let source = try ImageSource(url: url)
        let shown = max(source.width, source.height) > wholeSide ? try source.resized(longSide: wholeSide) : source
        try ImageFile.save(Tensor(shape: [1, shown.height, shown.width, shown.bands], scalars: try shown.readAll()), bitDepth: 8, to: output)
    }

    /// The shown input stylized by `model` as the finished style would do it (working size,
    /// colour handling), through a style file of its own next to the page.
    private func stylizeWhole(_ model: Model, threads: Int, to url: URL) throws {
        let modelFile = directory.appendingPathComponent(".epoch-model.safetensors")
        defer { try? FileManager.default.removeItem(at: modelFile) }
        try model.save(to: modelFile, metadata: [Model.styleMetadataKey: handling.json])
        try Stylizer(style: try Style.load(modelFile), threads: threads)
            .stylize(directory.appendingPathComponent(Self.wholeInput), to: url, replacing: true)
    }

    /// One row per sample: input core, prediction, target, each enlarged `scale` times and framed
    /// on a grey ground (a white or black tile stays visible).
    private func strip(_ model: Model, pool: WorkerPool, to url: URL) throws {
        let m = TileGrid.outputSize, cell = m * Self.scale, gap = Self.gap
        let predicted = colour.imageOutput(try InferencePlan(model).predict(samples.inputs, pool: pool), tiles: samples.imageInputs,
                                           margin: TileGrid.margin)
        let inputCores = samples.imageInputs.centre(m)
        let rows = samples.inputs.shape[0]
        let (width, height) = (3 * cell + 4 * gap, rows * cell + (rows + 1) * gap)
        var picture = Tensor(repeating: 0.75, shape: [1, height, width, 3])
        for (column, tiles) in [inputCores, predicted, samples.imageTargets].enumerated() {
            let bands = tiles.shape[3]
            picture.withUnsafeMutableScalars { out in
                for r in 0..<rows {
                    let (top, left) = (gap + r * (cell + gap), gap + column * (cell + gap))
                    for y in -1...cell {
                        for x in -1...cell {
                            let to = ((top + y) * width + left + x) * 3
                            let frame = y < 0 || x < 0 || y == cell || x == cell
                            let from = frame ? 0 : ((r * m + y / Self.scale) * m + x / Self.scale) * bands
                            for c in 0..<3 { out[to + c] = frame ? 0.35 : tiles.scalars[from + min(c, bands - 1)] }
                        }
                    }
                }
            }
        }
        try ImageFile.save(picture, bitDepth: 8, to: url)
    }

    private func html(run: TrainingRun, settings: TrainingSettings, metrics: [TrainingMetric], epochs: [TrainingCheckpoint],
                      exported: (file: URL, step: Int)?) -> String {
        func number(_ x: Double?) -> String { x.map { String(format: "%.5g", $0) } ?? "–" }
        let best = metrics.filter { $0.valLoss != nil }.min { $0.valLoss! < $1.valLoss! }
        let status = exported.map { "finished: the style is step \($0.step)'s checkpoint, \($0.file.path)" }
            ?? "running (this page reloads every \(Self.refreshSeconds) s)"
        var rows = [
            ("style", settings.name), ("run", "\(run.id)"), ("status", status), ("inputs", settings.inputs), ("targets", settings.targets),
            ("colour", "\(colour.input.rawValue) → \(colour.output.rawValue)\(handling.workingSize.map { ", network at \($0) px" } ?? "")"),
            ("budget", "\(settings.epochs) epochs × \(settings.stepsPerEpoch) steps × \(settings.batch) tiles"),
            ("optimizer", "Adam, learning rate \(settings.learningRate), \(settings.loss) loss, seed \(settings.seed)\(settings.augment ? ", flips and rotations" : "")"),
            ("logged", "\(metrics.count) points (training loss every \(settings.lossInterval == 1 ? "step" : "\(settings.lossInterval) steps"), validation at checkpoints), last step \(metrics.last.map { "\($0.step)" } ?? "–") of \(settings.totalSteps)"),
        ]
        if let best { rows.append(("best validation loss", "\(number(best.valLoss)) at step \(best.step)")) }
        let table = rows.map { "<tr><th>\(escape($0))</th><td>\(escape($1))</td></tr>" }.joined(separator: "\n")
        let name = escape(whole.input.lastPathComponent)
        let sections = epochs.reversed().map { c in
            """
            <section><h3>Epoch \(c.epoch), step \(c.step): loss \(number(c.loss)), validation loss \(number(c.valLoss))</h3>
            <div class="row">
            <figure><figcaption>input</figcaption><img src="\(Self.wholeInput)" alt="input \(name)"></figure>
            <figure><figcaption>output, epoch \(c.epoch)</figcaption><img src="\(Self.wholeName(epoch: c.epoch))" alt="output of epoch \(c.epoch)"></figure>
            <figure><figcaption>target</figcaption><img src="\(Self.wholeTarget)" alt="target \(name)"></figure>
            <figure class="tiles"><figcaption><span>input</span><span>output</span><span>target</span></figcaption>
            <img src="\(Self.sampleName(epoch: c.epoch))" alt="epoch \(c.epoch) sample tiles"></figure>
            </div></section>
            """
        }.joined(separator: "\n")
        let cell = TileGrid.outputSize * Self.scale
        return """
            <!doctype html>
            <html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            \(exported == nil ? "<meta http-equiv=\"refresh\" content=\"\(Self.refreshSeconds)\">" : "")
            <title>Tessera training: \(escape(settings.name))</title>
            <style>body{font-family:sans-serif;margin:2em;max-width:90em}th{text-align:left;padding-right:1em;vertical-align:top}
            .row{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}figure{margin:0}
            figcaption{font-size:90%;margin-bottom:.3em}figure img{border:1px solid #555;display:block;max-width:100%}
            .tiles img{image-rendering:pixelated;border:none}
            .tiles figcaption span{display:inline-block;width:\(cell)px;margin-left:\(Self.gap)px;text-align:center}
            section{border-top:1px solid #ccc;margin-top:1em}h3{font-size:100%}</style></head>
            <body><h1>Training <code>\(escape(settings.name))</code></h1>
            <table>\(table)</table>
            <h2>Loss</h2>
            \(LossChart(metrics: metrics, steps: settings.totalSteps, loss: settings.loss.rawValue).svg)
            <h2>Epochs, latest first</h2>
            <p>Each epoch's checkpoint on the \(whole.kind) image \(name), whole (input, output, target), and on sample tiles
            of the validation set: each row the input tile's core, the output, the target, enlarged \(Self.scale) times.</p>
            \(sections)
            </body></html>

            """
    }
}

/// The two loss curves on a log scale against the step.
struct LossChart {
    let metrics: [TrainingMetric]
    let steps: Int
    /// The loss function's name, for the y axis title.
    let loss: String

    static let (width, height, left, right, top, bottom) = (640.0, 320.0, 60.0, 20.0, 20.0, 40.0)

    var svg: String {
        let values = metrics.flatMap { [$0.loss, $0.valLoss].compactMap { $0 } }.filter { $0 > 0 }
        let low = floor(log10(values.min() ?? 0.001)), high = max(ceil(log10(values.max() ?? 1)), low + 1)
        let plotWidth = Self.width - Self.left - Self.right, plotHeight = Self.height - Self.top - Self.bottom
        func x(_ step: Int) -> Double { Self.left + plotWidth * Double(step) / Double(max(steps, 1)) }
        func y(_ value: Double) -> Double { Self.top + plotHeight * (high - log10(max(value, 1e-30))) / (high - low) }
        func line(_ key: KeyPath<TrainingMetric, Double?>, _ colour: String, _ name: String) -> String {
            let points = metrics.compactMap { m in m[keyPath: key].map { String(format: "%.1f,%.1f", x(m.step), y($0)) } }
            return "<polyline class=\"\(name)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>"
        }
        // Validation points are few (one per checkpoint): each gets a dot.
        let markers = metrics.compactMap { m in
            m.valLoss.map { String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#ff7f0e\"/>", x(m.step), y($0)) }
        }.joined(separator: "\n")
        var grid: [String] = []
        for decade in stride(from: low, through: high, by: 1) {
            let at = y(pow(10, decade))
            grid.append(String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", Self.left, Self.width - Self.right, at, at))
            grid.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"12\">1e%d</text>", Self.left - 6, at + 4, Int(decade)))
        }
        for k in 0...4 {
            let step = steps * k / 4
            grid.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">%d</text>", x(step), Self.height - Self.bottom + 16, step))
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(Self.width))" height="\(Int(Self.height))" viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))">
            \(grid.joined(separator: "\n"))
            <text x="\(Int(Self.left + plotWidth / 2))" y="\(Int(Self.height - 6))" text-anchor="middle" font-size="13">training step</text>
            <text transform="rotate(-90)" x="\(-Int(Self.top + plotHeight / 2))" y="14" text-anchor="middle" font-size="13">\(loss) loss (log scale)</text>
            \(markers)
            \(line(\.loss, "#1f77b4", "training"))
            \(line(\.valLoss, "#ff7f0e", "validation"))
            <text x="\(Int(Self.width - Self.right - 150))" y="\(Int(Self.top + 14))" font-size="12" fill="#1f77b4">training loss</text>
            <text x="\(Int(Self.width - Self.right - 150))" y="\(Int(Self.top + 30))" font-size="12" fill="#ff7f0e">validation loss</text>
            </svg>
            """
    }
}

private func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        .replacingOccurrences(of: "\"", with: "&quot;")
}

extension Tensor {
    /// The samples `indices` of the batch.
    func batch(_ indices: [Int]) -> Tensor {
        let per = shape.dropFirst().reduce(1, *)
        return Tensor(shape: [indices.count] + shape.dropFirst(), scalars: indices.flatMap { scalars[($0 * per)..<(($0 + 1) * per)] })
    }

    /// [n, h, w, c] -> the central [n, size, size, c].
    func centre(_ size: Int) -> Tensor {
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let (oy, ox) = ((h - size) / 2, (w - size) / 2)
        var out = [Float]()
        out.reserveCapacity(n * size * size * c)
        for b in 0..<n {
            for y in 0..<size {
                let start: Int = ((b * h + oy + y) * w + ox) * c
                out += scalars[start..<(start + size * c)]
            }
        }
        return Tensor(shape: [n, size, size, c], scalars: out)
    }
}
