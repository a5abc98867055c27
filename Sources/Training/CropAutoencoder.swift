// The spec a new style trains when none is given: a small crop-output U-Net (36x36 in, 16x16
// out) whose receptive field fits the 10-pixel margin, so the stylizer runs it on whole regions.
// Two 3x3 convolutions, a 2x2 max pool, two 3x3 convolutions at half resolution, a stride-2
// transposed convolution joined with the full-resolution features, a 1x1 sigmoid output (values
// in [0, 1] like every colour space a style speaks), and the centre crop.

import ConvCore

enum CropAutoencoder {
    static func spec(name: String, inputChannels: Int, outputChannels: Int) throws -> ModelSpec {
        try ModelSpec(json: """
            {
              "name": "\(name)",
              "input": {"name": "input", "shape": [36, 36, \(inputChannels)]},
              "layers": [
                {"name": "e1", "type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": "same", "activation": "relu"},
                {"name": "e2", "type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": "same", "activation": "relu"},
                {"name": "pool", "type": "MaxPooling2D"},
                {"name": "m1", "type": "Conv2D", "filters": 32, "kernel_size": 3, "padding": "same", "activation": "relu"},
                {"name": "m2", "type": "Conv2D", "filters": 32, "kernel_size": 3, "padding": "same", "activation": "relu"},
                {"name": "up", "type": "Conv2DTranspose", "filters": 16, "kernel_size": 2, "strides": 2, "padding": "same", "activation": "relu"},
                {"name": "join", "type": "Concatenate", "inputs": ["up", "e2"]},
                {"name": "out_colour", "type": "Conv2D", "filters": \(outputChannels), "kernel_size": 1, "activation": "sigmoid"},
                {"name": "crop", "type": "Cropping2D", "cropping": 10}
              ]
            }
            """)
    }
}
