// The sheet's page: self-contained HTML (no network, no script), sections in the catalogue's
// order, panels in a grid that reflows from one column on a phone to many on a desktop, images
// lazy-loaded and shown pixel for pixel when enlarged.

import ConvCore
import Foundation

struct SheetPage {
    let sheet: CheatSheet

    var html: String {
        var body = ""
        for section in Section.allCases {
            body += "<section id=\"\(section.rawValue)\">\n<h2>\(escape(section.heading))</h2>\n<p>\(escape(section.explanation))</p>\n"
            if section == .channelSum {
                body += channelSumTable + parameterTable
            } else {
                body += "<div class=\"grid\">\n"
                if section == .merging {
                    body += figure("photo.png", sheet.photos.first, "First photo", sheet.names.first)
                    body += figure("second.png", sheet.photos.second, "Second photo", sheet.names.second)
                }
                if section == .dense { body += figure("crop.png", sheet.photos.crop, "32x32 crop", "the input of Flatten, Dense(1024), Reshape") }
                for r in sheet.rendered where r.panel.section == section {
                    let p = r.panel
                    let colour = p.colour.map { " in \($0.title)" } ?? ""
                    body += figure(p.file + ".png", r.picture, "\(p.layer)\(colour)", "\(p.details); \(grouped(r.parameters)) parameters")
                }
                body += "</div>\n"
            }
            body += "</section>\n"
        }
        let contents = Section.allCases.map { "<a href=\"#\($0.rawValue)\">\(escape($0.heading))</a>" }.joined(separator: " · ")
        return """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Tessera layer cheat sheet</title>
        <style>
        body { font: 16px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 1rem; max-width: 84rem; color: #1b1b1b; background: #f4f4f1; }
        h1 { font-size: 1.6rem; margin: .5rem 0; } h2 { font-size: 1.3rem; margin: 2rem 0 .3rem; border-bottom: 2px solid #bbb; }
        nav { margin-bottom: 1rem; } nav a { color: #0b5394; }
        .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); gap: .8rem; }
        figure { margin: 0; background: #fff; border: 1px solid #ccc; border-radius: 4px; padding: .4rem; }
        figure img { display: block; width: 100%; height: auto; image-rendering: pixelated; background: repeating-conic-gradient(#ddd 0 25%, #fff 0 50%) 0 0 / 16px 16px; }
        figcaption { font-size: .85rem; margin-top: .3rem; } figcaption b { display: block; font-size: .95rem; }
        table { border-collapse: collapse; margin: .6rem 0 1rem; background: #fff; } td, th { border: 1px solid #bbb; padding: .25rem .6rem; text-align: right; } th { background: #e8e8e4; } td:first-child, th:first-child { text-align: left; }
        </style>
        </head>
        <body>
        <h1>What each layer does to a picture</h1>
        <p>Every picture below is an untrained Tessera ConvCore layer (Keras' default initializers, seed \(sheet.seed)) run on \(escape(sheet.names.first)), \(sheet.photos.first.shape[2])x\(sheet.photos.first.shape[1]) pixels. Made by <code>tessera cheatsheet</code>.</p>
        <nav>\(contents)</nav>
        \(body)</body>
        </html>

        """
    }

    private func figure(_ file: String, _ picture: Tensor, _ title: String, _ caption: String) -> String {
        let (h, w) = (picture.shape[1], picture.shape[2])
        return "<figure><img src=\"\(file)\" width=\"\(w)\" height=\"\(h)\" loading=\"lazy\" alt=\"\(escape(title))\">"
            + "<figcaption><b>\(escape(title))</b>\(escape(caption)); \(w)x\(h)</figcaption></figure>\n"
    }

    private var channelSumTable: String {
        let (input, output, parameters) = sheet.channelSum
        let rows = (0..<2).map { y in "<tr><th>row \(y)</th>" + (0..<2).map { x in "<td>\(Int(output.scalars[y * 2 + x]))</td>" }.joined() + "</tr>" }
        return """
        <table><tr><th>input channel</th><th>R</th><th>G</th><th>B</th></tr><tr><td>every pixel of the 3x3 image</td>\(input.map { "<td>\(Int($0))</td>" }.joined())</tr></table>
        <table><tr><th>2x2 output</th><th>column 0</th><th>column 1</th></tr>\(rows.joined())</table>
        <p>Conv2D(1, 2x2) on 3 channels: \(parameters) parameters.</p>

        """
    }

    private var parameterTable: String {
        var rows = ""
        for (name, count) in sheet.parameterExamples { rows += "<tr><td>\(escape(name))</td><td>\(grouped(count))</td></tr>" }
        return "<h2>Parameter counts</h2>\n<table><tr><th>layer</th><th>parameters</th></tr>\(rows)</table>\n"
    }
}


/// 1049600 as "1,049,600", whatever the locale.
func grouped(_ n: Int) -> String {
    var digits = String(n), out = ""
    while digits.count > 3 { out = "," + digits.suffix(3) + out; digits.removeLast(3) }
    return digits + out
}

private func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
