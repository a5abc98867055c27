// Just enough of the ICC profile format to tell an sRGB profile from others: the profile's
// description tag (libvips does the colour conversion itself).

/// Whether an ICC profile describes sRGB already (libvips' own, or any profile whose description
/// starts with "sRGB", as cameras and editors embed): converting would only add rounding.
func isSRGB(_ profile: [UInt8]) -> Bool {
    if let srgb = Vips.srgbProfile, srgb == profile { return true }
    return iccDescription(profile)?.hasPrefix("sRGB") ?? false
}

/// The 'desc' tag of an ICC profile (v2 'desc' ASCII or v4 'mluc' UTF-16), if it parses.
func iccDescription(_ p: [UInt8]) -> String? {
    func u32(_ i: Int) -> Int? {
        guard i >= 0, i + 4 <= p.count else { return nil }
        return Int(p[i]) << 24 | Int(p[i + 1]) << 16 | Int(p[i + 2]) << 8 | Int(p[i + 3])
    }
    guard let count = u32(128), count < 1000 else { return nil }
    for t in 0..<count {
        let entry = 132 + 12 * t
        guard let signature = u32(entry), let offset = u32(entry + 4), let size = u32(entry + 8) else { return nil }
        guard signature == 0x6465_7363, offset + size <= p.count, size >= 12 else { continue } // 'desc'
        let type = u32(offset)
        if type == 0x6465_7363, let length = u32(offset + 8), offset + 12 + length <= p.count { // 'desc'
            return String(decoding: p[(offset + 12)..<(offset + 12 + length)].prefix { $0 != 0 }, as: UTF8.self)
        }
        if type == 0x6D6C_7563, let recordCount = u32(offset + 8), recordCount > 0, // 'mluc'
           let length = u32(offset + 20), let start = u32(offset + 24), offset + start + length <= p.count {
            let bytes = p[(offset + start)..<(offset + start + length)]
            let units = stride(from: bytes.startIndex, to: bytes.endIndex - 1, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
            return String(decoding: units, as: UTF16.self)
        }
    }
    return nil
}
