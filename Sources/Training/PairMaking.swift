// `tessera pairs make`: every photo of a folder through a reference filter into DIR/input and
// DIR/target under the same name (PNG). A photo that cannot be read is reported and skipped.

import Foundation
import Imaging

/// Training pairs made from photos with a reference filter.
public enum PairMaking {
    /// Makes the pairs; returns how many were written. `made` hears each pair's name, `problem`
    /// each photo skipped.
    public static func make(_ filter: ReferenceFilter, from photos: URL, to folder: URL, longSide: Int,
                            made: (String) -> Void = { _ in }, problem: (PairProblem) -> Void) throws -> Int {
        let files = try PairedDataset.imageFiles(in: photos)
        let inputs = folder.appendingPathComponent("input"), targets = folder.appendingPathComponent("target")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: targets, withIntermediateDirectories: true)
        var count = 0
        for (name, group) in Dictionary(grouping: files, by: PairedDataset.baseName).sorted(by: { $0.key < $1.key }) {
            guard group.count == 1, let photo = group.first else {
                group.forEach { problem(PairProblem(file: $0.path, reason: "several photos are named '\(name)'; rename all but one")) }
                continue
            }
            do {
                try filter.makePair(from: photo, longSide: longSide, input: inputs.appendingPathComponent("\(name).png"),
                                    target: targets.appendingPathComponent("\(name).png"))
                count += 1
                made(name)
            } catch let error as ImageError {
                problem(PairProblem(file: error.path, reason: error.reason))
            }
        }
        guard count > 0 else { throw TrainingError("no pairs made from \(photos.path)\(files.isEmpty ? ": the folder has no files" : "")") }
        return count
    }
}
