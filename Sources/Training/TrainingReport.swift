// var/training/<name>/report.html: the loss curves as an SVG drawn here (training and validation
// loss, one point per logged step, log scale) and, per epoch, a strip of sample tiles (input
// core, prediction, target) rendered from that epoch's checkpoint, so the page can always be
// rebuilt from the database, after a resume too.

import ConvCore
import Foundation
import Imaging
import JobStore
import Styles

struct TrainingReport {
    let directory: URL
    /// The tiles the strips show (the first few validation tiles).
    let samples: TileBatch
    let colour: ColourHandling

    static let sampleCount = 6, scale = 4, gap = 4

    init(directory: URL, samples: TileBatch, colour: ColourHandling) {
        self.directory = directory
        // Spread over the validation tiles, so over the held-out images.
        let count = samples.inputs.shape[0], k = min(Self.sampleCount, count)
        let picked = (0..<k).map { $0 * count / k }
        self.samples = TileBatch(inputs: samples.inputs.batch(picked), targets: samples.targets.batch(picked),
                                 imageInputs: samples.imageInputs.batch(picked), imageTargets: samples.imageTargets.batch(picked))
        self.colour = colour
    }

    var file: URL { directory.appendingPathComponent("report.html") }

    static func sampleName(epoch: Int) -> String { String(format: "samples/epoch-%03d.png", epoch) }

    /// Renders the strips that are missing and rewrites the page.
    @discardableResult
    func write(run: TrainingRun, settings: TrainingSettings, metrics: [TrainingMetric], epochs: [TrainingCheckpoint],
               pool: WorkerPool) throws -> URL {
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("samples"), withIntermediateDirectories: true)
        for checkpoint in epochs {
            let url = directory.appendingPathComponent(Self.sampleName(epoch: checkpoint.epoch))
            if !FileManager.default.fileExists(atPath: url.path) {
                try strip(Model.decode(checkpoint.weights).model, pool: pool, to: url)
            }
        }
        try Data(html(run: run, settings: settings, metrics: metrics, epochs: epochs).utf8).write(to: file, options: .atomic)
        return file
    }

    /// One row per sample: input core, prediction, target, each enlarged `scale` times.
    private func strip(_ model: Model, pool: WorkerPool, to url: URL) throws {
        let m = TileGrid.outputSize, cell = m * Self.scale, gap = Self.gap
        let predicted = colour.imageOutput(try InferencePlan(model).predict(samples.inputs, pool: pool), tiles: samples.imageInputs,
                                           margin: TileGrid.margin)
        let inputCores = samples.imageInputs.centre(m)
        let rows = samples.inputs.shape[0]
        let (width, height) = (3 * cell + 4 * gap, rows * cell + (rows + 1) * gap)
        var picture = Tensor(repeating: 1, shape: [1, height, width, 3])
        for (column, tiles) in [inputCores, predicted, samples.imageTargets].enumerated() {
            let bands = tiles.shape[3]
            picture.withUnsafeMutableScalars { out in
                for r in 0..<rows {
                    for y in 0..<cell {
                        for x in 0..<cell {
                            let from = ((r * m + y / Self.scale) * m + x / Self.scale) * bands
                            let to = (((gap + r * (cell + gap)) + y) * width + gap + column * (cell + gap) + x) * 3
                            for c in 0..<3 { out[to + c] = tiles.scalars[from + min(c, bands - 1)] }
                        }
                    }
                }
            }
        }
        try ImageFile.save(picture, bitDepth: 8, to: url)
    }

    private func html(run: TrainingRun, settings: TrainingSettings, metrics: [TrainingMetric], epochs: [TrainingCheckpoint]) -> String {
        func number(_ x: Double?) -> String { x.map { String(format: "%.5g", $0) } ?? "–" }
        let best = metrics.filter { $0.valLoss != nil }.min { $0.valLoss! < $1.valLoss! }
        var rows = [
            ("style", settings.name), ("run", "\(run.id), \(run.status)"), ("inputs", settings.inputs), ("targets", settings.targets),
            ("colour", "\(colour.input.rawValue) → \(colour.output.rawValue)"),
            ("budget", "\(settings.epochs) epochs × \(settings.stepsPerEpoch) steps × \(settings.batch) tiles"),
            ("optimizer", "Adam, learning rate \(settings.learningRate), \(settings.loss) loss, seed \(settings.seed)\(settings.augment ? ", flips and rotations" : "")"),
            ("logged", "\(metrics.count) steps, last \(metrics.last.map { "\($0.step)" } ?? "–") of \(settings.totalSteps)"),
        ]
        if let best { rows.append(("best validation loss", "\(number(best.valLoss)) at step \(best.step)")) }
        let table = rows.map { "<tr><th>\(escape($0))</th><td>\(escape($1))</td></tr>" }.joined(separator: "\n")
        let strips = epochs.map { c in
            """
            <figure><figcaption>epoch \(c.epoch), step \(c.step): loss \(number(c.loss)), validation loss \(number(c.valLoss))</figcaption>
            <img src="\(Self.sampleName(epoch: c.epoch))" alt="epoch \(c.epoch) samples"></figure>
            """
        }.joined(separator: "\n")
        return """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>Tessera training: \(escape(settings.name))</title>
            <style>body{font-family:sans-serif;margin:2em;max-width:60em}th{text-align:left;padding-right:1em}
            figure{display:inline-block;margin:0 1em 1em 0}figcaption{font-size:90%}img{image-rendering:pixelated}</style></head>
            <body><h1>Training <code>\(escape(settings.name))</code></h1>
            <table>\(table)</table>
            <h2>Loss</h2>
            \(LossChart(metrics: metrics, steps: settings.totalSteps).svg)
            <h2>Samples</h2><p>Each row: the input tile's core, the prediction, the target.</p>
            \(strips)
            </body></html>

            """
    }
}

/// The two loss curves on a log scale against the step.
struct LossChart {
    let metrics: [TrainingMetric]
    let steps: Int

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
            <text x="\(Int(Self.left + plotWidth / 2))" y="\(Int(Self.height - 6))" text-anchor="middle" font-size="12">step</text>
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
