// `tessera cheatsheet`: what every layer does to a picture, in every colour space. Each panel is
// an untrained ConvCore model (Keras' default initializers, drawn from the seed) run on one or two
// photos; the PNGs and an index.html are written into a folder that appears whole or not at all.

import ConvCore
import Foundation
import Imaging

/// A rendered cheat sheet: every panel's picture, ready to be written with its page.
public struct CheatSheet: Sendable {
    /// A panel and the picture it made ([1, h, w, 1 or 3], clamped to [0, 1]).
    struct Rendered: Sendable {
        let panel: Panel
        let picture: Tensor
        let parameters: Int
    }

    let photos: (first: Tensor, second: Tensor, crop: Tensor)
    let names: (first: String, second: String)
    let rendered: [Rendered]
    let channelSum: (input: [Float], output: Tensor, parameters: Int)
    let parameterExamples: [(String, Int)]
    public let seed: UInt64

    /// Renders the sheet for the photo at `first` (and `second`, else `first` mirrored), both
    /// scaled so the long side is `size` pixels; untrained weights come from `seed`.
    public init(first: URL, second: URL?, size: Int = 256, seed: UInt64 = 0) throws {
        guard (16...4096).contains(size) else { throw ImageError(first.path, "--size \(size): use 16 to 4096 pixels") }
        let a = try ImageSource(url: first).resized(longSide: size)
        let photo = try Self.rgb(a)
        let other = try second.map { try Self.rgb(try ImageSource(url: $0).resized(width: a.width, height: a.height)) } ?? Self.mirrored(photo)
        let (h, w) = (photo.shape[1], photo.shape[2])
        let n = Catalogue.crop, side = min(n, h, w)
        let (top, left) = Self.busiestWindow(photo, side: side)
        let crop = Tensor(shape: [1, n, n, 3]) { p in
            for y in 0..<side {
                for x in 0..<side {
                    let from = ((top + y) * w + left + x) * 3
                    for c in 0..<3 { p[(y * n + x) * 3 + c] = photo.scalars[from + c] }
                }
            }
        }
        photos = (photo, other, crop)
        names = (first.lastPathComponent, second?.lastPathComponent ?? "\(first.lastPathComponent), mirrored")
        self.seed = seed
        var rendered: [Rendered] = []
        for (n, panel) in try Catalogue.panels(height: h, width: w).enumerated() {
            let model = try Model(spec: panel.spec, seed: seed &+ UInt64(n))
            let inputs = switch panel.input {
            case .photo: [photo]
            case .both: [photo, other]
            case .crop: [crop]
            }
            var out = try model.predict(inputs)[0]
            let count = out.count
            out.withUnsafeMutableScalars { p in for i in 0..<count { p[i] = p[i].isNaN ? 0 : min(max(p[i], 0), 1) } }
            rendered.append(Rendered(panel: panel, picture: out, parameters: model.summary.totalParams))
        }
        self.rendered = rendered
        channelSum = try Catalogue.channelSum()
        parameterExamples = try Catalogue.parameterCounts()
    }

    /// The top-left corner of the `side`-square window (on a 16-pixel grid) whose luminance varies
    /// most: the crop worth flattening, not a flat patch of sky.
    private static func busiestWindow(_ photo: Tensor, side: Int) -> (Int, Int) {
        let (h, w) = (photo.shape[1], photo.shape[2])
        var best = (variance: -1.0, top: 0, left: 0)
        for top in stride(from: 0, through: h - side, by: 16) {
            for left in stride(from: 0, through: w - side, by: 16) {
                var sum = 0.0, squares = 0.0
                for y in top..<(top + side) {
                    for x in left..<(left + side) {
                        let i = (y * w + x) * 3
                        let l = Double(ColourConversion.luminance(photo.scalars[i], photo.scalars[i + 1], photo.scalars[i + 2]))
                        (sum, squares) = (sum + l, squares + l * l)
                    }
                }
                let count = Double(side * side), variance = squares / count - (sum / count) * (sum / count)
                if variance > best.variance { best = (variance, top, left) }
            }
        }
        return (best.top, best.left)
    }

    /// The photo as RGB in [0, 1], [1, h, w, 3] (grey repeated, alpha dropped).
    private static func rgb(_ source: ImageSource) throws -> Tensor {
        let all = try source.readAll(), (w, h, bands, c) = (source.width, source.height, source.bands, source.colourBands)
        return Tensor(shape: [1, h, w, 3]) { p in
            for i in 0..<(w * h) { for ch in 0..<3 { p[i * 3 + ch] = all[i * bands + (c == 1 ? 0 : ch)] } }
        }
    }

    private static func mirrored(_ t: Tensor) -> Tensor {
        let (h, w) = (t.shape[1], t.shape[2])
        return Tensor(shape: t.shape) { p in
            for y in 0..<h { for x in 0..<w { for c in 0..<3 { p[(y * w + x) * 3 + c] = t.scalars[(y * w + w - 1 - x) * 3 + c] } } }
        }
    }

    /// Writes every panel's PNG and index.html into `folder`: built in a hidden folder beside it
    /// and renamed into place, so a failure leaves nothing half-written (an earlier sheet there is
    /// replaced only once the new one is whole). Returns the number of pictures.
    @discardableResult
    public func write(to folder: URL) throws -> Int {
        let fm = FileManager.default, parent = folder.deletingLastPathComponent()
        var isFolder: ObjCBool = false
        guard fm.fileExists(atPath: parent.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw ImageError(folder.path, "its parent folder does not exist")
        }
        if fm.fileExists(atPath: folder.path, isDirectory: &isFolder) {
            let contents = (try? fm.contentsOfDirectory(atPath: folder.path)) ?? []
            guard isFolder.boolValue, contents.isEmpty || contents.contains("index.html") else {
                throw ImageError(folder.path, "exists and is not a cheat sheet (no index.html); choose another --out")
            }
        }
        let staging = parent.appendingPathComponent(".\(folder.lastPathComponent).tessera-\(getpid())")
        try? fm.removeItem(at: staging)
        do {
            try fm.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch {
            throw ImageError(folder.path, "cannot write here: \(String(cString: strerror(errno)))")
        }
        do {
            try ImageFile.save(photos.first, bitDepth: 8, to: staging.appendingPathComponent("photo.png"))
            try ImageFile.save(photos.second, bitDepth: 8, to: staging.appendingPathComponent("second.png"))
            try ImageFile.save(photos.crop, bitDepth: 8, to: staging.appendingPathComponent("crop.png"))
            for r in rendered { try ImageFile.save(r.picture, bitDepth: 8, to: staging.appendingPathComponent(r.panel.file + ".png")) }
            try Data(SheetPage(sheet: self).html.utf8).write(to: staging.appendingPathComponent("index.html"))
            let old = parent.appendingPathComponent(".\(folder.lastPathComponent).tessera-old-\(getpid())")
            if fm.fileExists(atPath: folder.path) { try fm.moveItem(at: folder, to: old) }
            try fm.moveItem(at: staging, to: folder)
            try? fm.removeItem(at: old)
        } catch {
            try? fm.removeItem(at: staging)
            if let e = error as? ImageError { throw ImageError(folder.path, e.reason) }
            throw ImageError(folder.path, "cannot write: \(error.localizedDescription)")
        }
        return rendered.count + 3
    }
}
