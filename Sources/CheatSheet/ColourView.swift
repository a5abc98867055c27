// The colour spaces a panel shows a layer in: the photo is converted in by a ConvCore colour
// layer, the layer under study works on those channels, and the result is converted back to RGB
// for display (luminance stays grey).

/// A colour space a panel's layer works in.
enum ColourView: String, CaseIterable, Sendable {
    case luminance, rgb, hsv, ycbcr

    var title: String {
        switch self {
        case .luminance: "luminance"
        case .rgb: "RGB"
        case .hsv: "HSV"
        case .ycbcr: "YCbCr"
        }
    }

    var channels: Int { self == .luminance ? 1 : 3 }

    /// The ConvCore layer from RGB into this space (nil: RGB itself).
    var into: String? {
        switch self {
        case .luminance: "RGBToLuminance"
        case .rgb: nil
        case .hsv: "RGBToHSV"
        case .ycbcr: "RGBToYCbCr"
        }
    }

    /// The layer back to RGB for display (nil: shown as it is).
    var back: String? {
        switch self {
        case .luminance, .rgb: nil
        case .hsv: "HSVToRGB"
        case .ycbcr: "YCbCrToRGB"
        }
    }
}
