// One picture on the sheet and the words under it.

import ConvCore

/// The sections of the sheet, in page order, each with its heading and what it shows.
enum Section: String, CaseIterable, Sendable {
    case merging, pooling, dense, convolution, transposed, channelSum

    var heading: String {
        switch self {
        case .merging: "Merging layers"
        case .pooling: "Pooling"
        case .dense: "Dense layers"
        case .convolution: "Conv2D"
        case .transposed: "Conv2DTranspose"
        case .channelSum: "How a convolution sums its channels"
        }
    }

    var explanation: String {
        switch self {
        case .merging:
            "Add, Subtract, Multiply, Average, Maximum and Minimum combine two tensors of the same shape element by element. Each panel converts both photos into a colour space, merges them there, and converts the result back to RGB for display (values clamped to [0, 1]): the same merge looks different in every space, because the channels mean different things (Maximum of two hues is not the brighter colour)."
        case .pooling:
            "MaxPooling2D and AveragePooling2D 2x2 keep one value per 2x2 block (the largest, or the mean), halving width and height; here the result is enlarged back (UpSampling2D, nearest) so it can be compared with the photo. Max pooling keeps bright detail and thickens it; average pooling blurs."
        case .dense:
            "A Dense layer on an image acts on the last axis, the channels: on one channel it is one weight and one bias per unit, the same for every pixel, so it only remaps brightness (through its activation). To connect every pixel to every other, the image must be flattened first: Flatten, then Dense(1024), then Reshape back to 32x32, which needs over a million parameters for a 32x32 crop. Weights are untrained (glorot_uniform, bias zero)."
        case .convolution:
            "Conv2D slides a small kernel over the image: each output pixel is a weighted sum over a kernel-sized window of every input channel, plus a bias, through the activation. Untrained (glorot_uniform) kernels already act as random edge and blur filters; a larger kernel mixes a wider neighbourhood, and two stacked layers see as far as one larger kernel with fewer parameters."
        case .transposed:
            "Conv2DTranspose spreads each input pixel over a kernel-sized patch of a larger output (stride times the size): the learned upsampling of autoencoders and U-Nets. When the kernel is not a multiple of the stride, patches overlap unevenly and leave the checkerboard pattern such layers are known for; with stride larger than the kernel, gaps appear."
        case .channelSum:
            "A Conv2D filter sums over all input channels. A 3x3 RGB image whose channels are all 1, all 100 and all 10000, through one 2x2 kernel of ones (valid padding, stride 1, relu, bias 0), gives a 2x2 output of 4 x (1 + 100 + 10000) = 40404: 2 x 2 x 3 weights plus one bias, 13 parameters."
        }
    }
}

/// Which pictures a panel's model gets.
enum PanelInput: Sendable {
    case photo, both, crop
}

/// One picture on the sheet: the model that makes it and its caption.
struct Panel: Sendable {
    let section: Section
    /// The PNG's name in the output folder.
    let file: String
    let layer: String
    let colour: ColourView?
    /// Kernel, stride, units, activation: what else the caption says.
    let details: String
    let input: PanelInput
    let spec: ModelSpec
}
