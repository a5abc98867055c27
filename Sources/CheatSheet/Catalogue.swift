// Every panel of the sheet, in page order, as ConvCore specs over a photo of the given size.

import ConvCore

enum Catalogue {
    static let merges = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]
    static let activations = ["linear", "relu", "sigmoid", "softplus", "tanh"]
    /// The fully connected panel's crop side.
    static let crop = 32

    /// The panels for a photo of `height` x `width`.
    static func panels(height h: Int, width w: Int) throws -> [Panel] {
        var panels: [Panel] = []
        func panel(_ section: Section, _ file: String, _ layer: String, _ colour: ColourView?, _ details: String,
                   _ input: PanelInput = .photo, _ build: (inout SpecBuilder) -> Void) throws {
            var b = SpecBuilder()
            if input == .both {
                b.input("a", [h, w, 3])
                b.input("b", [h, w, 3])
            } else {
                b.input("photo", input == .crop ? [crop, crop, 3] : [h, w, 3])
            }
            build(&b)
            panels.append(Panel(section: section, file: file, layer: layer, colour: colour, details: details, input: input, spec: try b.spec(file)))
        }

        for merge in merges {
            for view in ColourView.allCases {
                try panel(.merging, "merge-\(merge.lowercased())-\(view.rawValue)", merge, view, "photo and second photo", .both) { b in
                    let a = b.addIf(view.into, inputs: ["a"]), c = b.addIf(view.into, inputs: ["b"])
                    b.add(merge, inputs: [a, c])
                    _ = b.addIf(view.back)
                }
            }
        }
        for pooling in ["MaxPooling2D", "AveragePooling2D"] {
            for view in ColourView.allCases {
                try panel(.pooling, "\(pooling.lowercased())-\(view.rawValue)", pooling, view, "pool 2x2, stride 2; shown enlarged 2x") { b in
                    _ = b.addIf(view.into)
                    b.add(pooling, ["pool_size": 2])
                    b.add("UpSampling2D", ["size": 2])
                    _ = b.addIf(view.back)
                }
            }
        }
        for activation in activations {
            try panel(.dense, "dense-1-\(activation)", "Dense", .luminance, "1 unit on the channel axis, \(activation)") { b in
                b.add("RGBToLuminance")
                b.add("Dense", ["units": 1, "activation": activation])
            }
        }
        try panel(.dense, "flatten-dense-1024", "Flatten, Dense(1024), Reshape", .luminance, "32x32 crop, fully connected, sigmoid", .crop) { b in
            b.add("RGBToLuminance")
            b.add("Flatten")
            b.add("Dense", ["units": crop * crop, "activation": "sigmoid"])
            b.add("Reshape", ["target_shape": [crop, crop, 1]])
        }
        for (kernel, list) in [(3, activations), (7, Array(activations.dropFirst()))] {
            for activation in list {
                try panel(.convolution, "conv2d-k\(kernel)-\(activation)", "Conv2D", .rgb, "3 filters, kernel \(kernel), stride 1, same, \(activation)") { b in
                    b.add("Conv2D", ["filters": 3, "kernel_size": kernel, "padding": "same", "activation": activation])
                }
            }
        }
        for (first, second) in [("relu", "relu"), ("relu", "tanh"), ("tanh", "relu"), ("tanh", "tanh")] {
            try panel(.convolution, "conv2d-k3-\(first)-k3-\(second)", "Conv2D, Conv2D", .rgb, "two kernel-3 layers, 3 filters each, \(first) then \(second)") { b in
                b.add("Conv2D", ["filters": 3, "kernel_size": 3, "padding": "same", "activation": first])
                b.add("Conv2D", ["filters": 3, "kernel_size": 3, "padding": "same", "activation": second])
            }
        }
        for (kernel, stride, activation) in [(2, 2, "relu"), (2, 2, "sigmoid"), (2, 4, "tanh"), (4, 2, "relu"), (4, 2, "tanh"), (8, 2, "relu"), (8, 2, "tanh")] {
            try panel(.transposed, "conv2dtranspose-k\(kernel)-s\(stride)-\(activation)", "Conv2DTranspose", .rgb,
                      "3 filters, kernel \(kernel), stride \(stride), same, \(activation); output \(stride)x larger") { b in
                b.add("Conv2DTranspose", ["filters": 3, "kernel_size": kernel, "strides": stride, "padding": "same", "activation": activation])
            }
        }
        return panels
    }

    /// Parameter counts worth knowing: the layers of the sheet on RGB photos, and the classic
    /// ones (DESIGN.md's reference facts), each counted by ConvCore from a one-layer spec.
    static let parameterExamples: [(String, [Int], String)] = [
        ("Conv2D(3, 3x3) on RGB, as on this sheet", [36, 36, 3], #""type": "Conv2D", "filters": 3, "kernel_size": 3"#),
        ("Conv2D(3, 7x7) on RGB", [36, 36, 3], #""type": "Conv2D", "filters": 3, "kernel_size": 7"#),
        ("Conv2DTranspose(3, 2x2) on RGB", [36, 36, 3], #""type": "Conv2DTranspose", "filters": 3, "kernel_size": 2, "strides": 2"#),
        ("Conv2DTranspose(3, 4x4) on RGB", [36, 36, 3], #""type": "Conv2DTranspose", "filters": 3, "kernel_size": 4, "strides": 2"#),
        ("Conv2DTranspose(3, 8x8) on RGB", [36, 36, 3], #""type": "Conv2DTranspose", "filters": 3, "kernel_size": 8, "strides": 2"#),
        ("Dense(1) on one channel", [36, 36, 1], #""type": "Dense", "units": 1"#),
        ("Dense(3) on RGB (the channel axis: a per-pixel colour mix)", [36, 36, 3], #""type": "Dense", "units": 3"#),
        ("Conv2D(64, 3x3) on 1 channel", [36, 36, 1], #""type": "Conv2D", "filters": 64, "kernel_size": 3"#),
        ("Conv2D(32, 7x7) on 1 channel", [36, 36, 1], #""type": "Conv2D", "filters": 32, "kernel_size": 7"#),
        ("Conv2D(16, 3x3) on 3 channels", [36, 36, 3], #""type": "Conv2D", "filters": 16, "kernel_size": 3"#),
        ("Conv2D(16, 3x3) on 16 channels", [36, 36, 16], #""type": "Conv2D", "filters": 16, "kernel_size": 3"#),
        ("BatchNormalization on 16 channels (32 trainable)", [36, 36, 16], #""type": "BatchNormalization""#),
        ("pooling, merges, UpSampling2D, colour conversions", [36, 36, 3], #""type": "MaxPooling2D", "pool_size": 2"#),
    ]

    /// Flatten(32x32x1) -> Dense(1024), counted apart: it needs two layers.
    static let fullyConnected = #"{"layers": [{"name": "i", "type": "InputLayer", "shape": [32, 32, 1]}, {"name": "f", "type": "Flatten"}, {"name": "d", "type": "Dense", "units": 1024}]}"#

    /// Each example's parameter count.
    static func parameterCounts() throws -> [(String, Int)] {
        try parameterExamples.map { name, shape, layer in
            let json = #"{"layers": [{"name": "i", "type": "InputLayer", "shape": \#(shape)}, {"name": "l", \#(layer)}]}"#
            return (name, try Model(spec: try ModelSpec(json: json)).summary.totalParams)
        } + [("Flatten(32x32x1), Dense(1024)", try Model(spec: try ModelSpec(json: fullyConnected)).summary.totalParams)]
    }

    /// The seed's channel sum: a 3x3 image with channels 1, 100 and 10000 through a 2x2 kernel of ones.
    static func channelSum() throws -> (input: [Float], output: Tensor, parameters: Int) {
        let spec = try ModelSpec(json: #"{"name": "channel_sum", "layers": [{"name": "i", "type": "InputLayer", "shape": [3, 3, 3]}, {"name": "c", "type": "Conv2D", "filters": 1, "kernel_size": 2, "activation": "relu"}]}"#)
        let model = try Model(spec: spec, weights: ["c.kernel": Tensor(repeating: 1, shape: [2, 2, 3, 1]), "c.bias": Tensor(zeros: [1])])
        let pixel: [Float] = [1, 100, 10000]
        let image = Tensor(shape: [1, 3, 3, 3], scalars: (0..<9).flatMap { _ in pixel })
        return (pixel, try model.predict(image), model.summary.totalParams)
    }
}
