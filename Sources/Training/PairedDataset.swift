// Paired folders: an input image and a target image of the same base name, aligned pixel for
// pixel. Pairs that cannot be used are reported (file and reason) and skipped.

import ConvCore
import Crypto
import Foundation
import Imaging
import JobStore

/// One image's colour bands (alpha dropped: networks never see it), 16 bits per sample.
struct PairImage: Sendable {
    let width: Int, height: Int, bands: Int
    let samples: [UInt16]

    init(width: Int, height: Int, bands: Int, samples: [UInt16]) {
        (self.width, self.height, self.bands, self.samples) = (width, height, bands, samples)
    }

    /// An opened image, resized to long side `longSide` when given (a working-size style's).
    init(_ opened: ImageSource, longSide: Int?) throws {
        let source = try longSide.map { try opened.resized(longSide: $0) } ?? opened
        let pixels = Tensor(shape: [1, source.height, source.width, source.bands], scalars: try source.readAll())
        (height, width) = (pixels.shape[1], pixels.shape[2])
        let all = pixels.shape[3]
        bands = all == 2 || all == 4 ? all - 1 : all
        var samples = [UInt16](repeating: 0, count: width * height * bands)
        for p in 0..<(width * height) {
            for c in 0..<bands { samples[p * bands + c] = UInt16((pixels.scalars[p * all + c] * 65535).rounded()) }
        }
        self.samples = samples
    }
}

struct Pair: Sendable {
    let name: String
    let input: PairImage
    let target: PairImage
    /// The files it was read from (the report shows a held-out pair whole).
    let files: (input: URL, target: URL)
}

/// A pair that was skipped: the file and the reason.
public struct PairProblem: Sendable, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}

struct PairedDataset: Sendable {
    let pairs: [Pair]
    /// SHA-256 over every pair's names and bytes, in name order: which data a style learnt from.
    let digest: String

    /// Reads every pair, resized to long side `longSide` when given; `problem` hears about each
    /// one skipped. Throws when none is usable.
    init(inputs: URL, targets: URL, longSide: Int? = nil, problem: (PairProblem) -> Void) throws {
        let inputFiles = try Self.imageFiles(in: inputs), targetFiles = try Self.imageFiles(in: targets)
        var byName: [String: URL] = [:]
        for (name, files) in Dictionary(grouping: targetFiles, by: Self.baseName) {
            if files.count > 1 {
                files.forEach { problem(PairProblem(file: $0.path, reason: "several targets are named '\(name)'; rename all but one")) }
            } else {
                byName[name] = files[0]
            }
        }
        var pairs: [Pair] = []
        var matched = Set<String>()
        for (name, files) in Dictionary(grouping: inputFiles, by: Self.baseName).sorted(by: { $0.key < $1.key }) {
            guard files.count == 1 else {
                files.forEach { problem(PairProblem(file: $0.path, reason: "several inputs are named '\(name)'; rename all but one")) }
                continue
            }
            let input = files[0]
            guard let target = byName[name] else {
                problem(PairProblem(file: input.path, reason: "no target named '\(name).*' in \(targets.path)"))
                continue
            }
            matched.insert(name)
            do {
                // Sizes are compared before resizing: resizing would hide a misaligned pair.
                let (inputImage, targetImage) = try (ImageSource(url: input), ImageSource(url: target))
                guard inputImage.width == targetImage.width, inputImage.height == targetImage.height else {
                    problem(PairProblem(file: target.path, reason: "\(targetImage.width)x\(targetImage.height), but its input \(input.lastPathComponent) is \(inputImage.width)x\(inputImage.height)"))
                    continue
                }
                let a = try PairImage(inputImage, longSide: longSide), b = try PairImage(targetImage, longSide: longSide)
                guard a.width >= TileGrid.inputSize, a.height >= TileGrid.inputSize else {
                    problem(PairProblem(file: input.path, reason: "\(a.width)x\(a.height) is smaller than one \(TileGrid.inputSize)x\(TileGrid.inputSize) tile"))
                    continue
                }
                pairs.append(Pair(name: name, input: a, target: b, files: (input, target)))
            } catch let error as ImageError {
                problem(PairProblem(file: error.path, reason: error.reason))
            }
        }
        for (name, target) in byName.sorted(by: { $0.key < $1.key }) where !matched.contains(name) {
            problem(PairProblem(file: target.path, reason: "no input named '\(name).*' in \(inputs.path)"))
        }
        guard !pairs.isEmpty else {
            throw TrainingError(inputFiles.isEmpty && targetFiles.isEmpty
                ? "no images in \(inputs.path) and \(targets.path)"
                : "no usable pairs in \(inputs.path) and \(targets.path)")
        }
        self.pairs = pairs
        digest = try Self.digest(of: pairs.map(\.name), byName: byName, inputs: inputFiles)
    }

    /// Visible regular files; a missing folder is an error.
    static func imageFiles(in folder: URL) throws -> [URL] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw TrainingError("\(folder.path): no such folder")
        }
        return try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: [.isRegularFileKey])
            // A link to a photo counts as the photo (a split of a corpus is a folder of links).
            .filter { !$0.lastPathComponent.hasPrefix(".") && (try? $0.resolvingSymlinksInPath().resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    static func baseName(_ url: URL) -> String { url.deletingPathExtension().lastPathComponent }

    private static func digest(of names: [String], byName targets: [String: URL], inputs: [URL]) throws -> String {
        let inputByName = Dictionary(inputs.map { (baseName($0), $0) }, uniquingKeysWith: { a, _ in a })
        var hash = SHA256()
        for name in names {
            hash.update(data: Data(name.utf8))
            hash.update(data: try Data(contentsOf: inputByName[name]!))
            hash.update(data: try Data(contentsOf: targets[name]!))
        }
        return ContentDigest.hex(hash.finalize())
    }
}

/// A training run that cannot start or continue, with the reason.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
