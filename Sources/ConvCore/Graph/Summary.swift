// The Keras-style summary: one row per layer with its output shape, parameter count and inputs.

import Foundation

/// The Keras-style summary of a model: a row per layer and the parameter totals.
public struct Summary: Sendable, Codable, Equatable {
    /// One layer's line: name, type, output shape, parameters and inputs.
    public struct Row: Sendable, Codable, Equatable {
        public let name: String
        public let type: String
        /// Batch first, as Keras prints it; null is any size.
        public let outputShape: [Int?]
        public let params: Int
        public let connectedTo: [String]

        enum CodingKeys: String, CodingKey {
            case name, type, outputShape = "output_shape", params, connectedTo = "connected_to"
        }
    }

    public let name: String
    public let layers: [Row]
    public let totalParams: Int
    public let trainableParams: Int
    public var nonTrainableParams: Int { totalParams - trainableParams }

    enum CodingKeys: String, CodingKey {
        case name, layers, totalParams = "total_params", trainableParams = "trainable_params"
    }

    init(_ graph: ModelGraph) {
        name = graph.name
        layers = graph.nodes.map { node in
            Row(name: node.name, type: node.typeName, outputShape: [nil] + node.outputDims,
                params: node.parameters.reduce(0) { $0 + $1.shape.reduce(1, *) },
                connectedTo: node.inputs.map { graph.nodes[$0].name })
        }
        totalParams = graph.nodes.flatMap(\.parameters).reduce(0) { $0 + $1.shape.reduce(1, *) }
        trainableParams = graph.nodes.flatMap(\.parameters).filter(\.trainable).reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    /// The table people read.
    public var table: String {
        let header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        let rows = layers.map { r in
            [r.name + " (" + r.type + ")", describe(Array(r.outputShape.dropFirst())),
             Self.grouped(r.params), r.connectedTo.isEmpty ? "-" : r.connectedTo.joined(separator: ", ")]
        }
        let widths = (0..<4).map { c in ([header] + rows).map { $0[c].count }.max()! + 2 }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined().trimmingCharacters(in: .whitespaces)
        }
        let rule = String(repeating: "=", count: widths.reduce(0, +))
        var out = ["Model: \"\(name)\"", rule, line(header), rule]
        out += rows.map(line)
        out += [rule,
                "Total params: \(Self.grouped(totalParams))",
                "Trainable params: \(Self.grouped(trainableParams))",
                "Non-trainable params: \(Self.grouped(nonTrainableParams))"]
        return out.joined(separator: "\n")
    }

    /// 1,049,600: thousands separated as Keras prints them.
    public static func grouped(_ n: Int) -> String {
        var s = String(n), out = ""
        while s.count > 3 { out = "," + s.suffix(3) + out; s.removeLast(3) }
        return s + out
    }
}

extension Model {
    public var summary: Summary { Summary(graph) }
}
