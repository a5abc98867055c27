// `tessera cheatsheet` as a user runs it: a sheet from one photo, and one line for each bad input.

import Foundation
import Imaging
import Testing

@Suite struct CheatsheetCommandTests {
    @Test func aSheetFromOnePhotoAndOneLinePerBadInput() throws {
        let (folder, photo) = try StylizeCommandTests.folderWithPhoto()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("sheet")
        let made = try tessera(["cheatsheet", photo.path, "--out", out.path, "--size", "96"])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.stderr.contains("index.html: 61 pictures"))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("conv2d-k7-tanh.png").path))
        let missing = folder.appendingPathComponent("gone.jpg").path
        for (arguments, expected) in [([missing, "--out", out.path], "gone.jpg: no such file"),
                                      ([photo.path, "--out", folder.appendingPathComponent("no/where").path], "no/where: its parent folder does not exist")] {
            let run = try tessera(["cheatsheet"] + arguments)
            #expect(run.status != 0)
            #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.contains(expected), "\(run.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(".") }.isEmpty)
    }
}
