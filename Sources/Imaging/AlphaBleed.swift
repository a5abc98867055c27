// Colour under fully transparent pixels is arbitrary (often black), and a network that sees it
// draws halos along the edges of the opaque part. Before a tile goes to the network, each fully
// transparent pixel takes the mean colour of its already-known 8-neighbours, pass after pass, so
// opaque colour grows outward across the transparent region. The output puts the original colour
// back under those pixels.

/// Bleeds colour into the pixels of one square tile whose alpha is 0. `colour` holds
/// size*size*bands samples, `alpha` size*size.
func bleedTransparentColour(_ colour: UnsafeMutablePointer<Float>, alpha: UnsafePointer<Float>, size: Int, bands: Int) {
    let count = size * size
    var known = (0..<count).map { alpha[$0] > 0 }
    var remaining = known.lazy.filter { !$0 }.count
    guard remaining > 0, remaining < count else { return }
    var next = known
    while remaining > 0 {
        var progressed = false
        for y in 0..<size {
            for x in 0..<size where !known[y * size + x] {
                var sum = (Float(0), Float(0), Float(0)), n: Float = 0
                for ny in max(0, y - 1)...min(size - 1, y + 1) {
                    for nx in max(0, x - 1)...min(size - 1, x + 1) where known[ny * size + nx] {
                        let p = colour + (ny * size + nx) * bands
                        sum.0 += p[0]
                        if bands == 3 { sum.1 += p[1]; sum.2 += p[2] }
                        n += 1
                    }
                }
                guard n > 0 else { continue }
                let q = colour + (y * size + x) * bands
                q[0] = sum.0 / n
                if bands == 3 { q[1] = sum.1 / n; q[2] = sum.2 / n }
                next[y * size + x] = true
                remaining -= 1
                progressed = true
            }
        }
        guard progressed else { return }
        known = next
    }
}
