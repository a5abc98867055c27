// The machine's fp32 peak as this build reaches it: independent fused multiply-adds, enough of
// them in flight to hide the FMA latency, on every thread of a pool, in 8-lane and in 16-lane
// vectors, the faster kept. On an AVX2 core SIMD16 is two registers per value and runs as fast as
// SIMD8; on an AVX-512 core that executes 512-bit FMAs at full width it runs twice as fast, and a
// probe of 8 lanes alone would report half the peak. Benchmarks report achieved FLOP/s as a
// fraction of this measured figure rather than of a datasheet's.

import Foundation

/// This machine's measured fp32 multiply-add peak, the yardstick `tessera bench` compares kernels with.
public enum MachinePeak {
    /// FLOP/s (2 per lane of each FMA) of `pool`'s threads together: per vector width the best of
    /// seven short runs (a run that shares its core with the host's other work would understate
    /// the peak), the wider width's figure if it is higher.
    public static func measure(pool: WorkerPool, iterations: Int = 20_000_000) -> Double {
        max(measure(pool: pool, iterations: iterations, SIMD8<Float>.self),
            measure(pool: pool, iterations: iterations / 2, SIMD16<Float>.self))
    }

    private static func measure<V: SIMD>(pool: WorkerPool, iterations: Int, _: V.Type) -> Double where V.Scalar == Float {
        var best = 0.0
        for _ in 0..<7 {
            let start = DispatchTime.now().uptimeNanoseconds
            pool.run(parts: pool.threads) { part in blackHole(fmaLoop(iterations, seed: Float(part), V.self)) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, Double(pool.threads * iterations) * 12 * Double(V.scalarCount) * 2 / seconds)
        }
        return best
    }

    /// Twelve chains c = b + c * a of V, each advanced once per iteration; the product involves
    /// the chain itself, so nothing can be hoisted out of the loop. Twelve chains cover the FMA
    /// latency, and with a and b they fit the registers: fourteen of AVX2's sixteen for SIMD8,
    /// fourteen of AVX-512's thirty-two for SIMD16 (on AVX2, SIMD16 takes 28 and some spill, which
    /// only lowers a figure the SIMD8 run then wins).
    @inline(never)
    static func fmaLoop<V: SIMD>(_ iterations: Int, seed: Float, _: V.Type) -> Float where V.Scalar == Float {
        let a = V(repeating: 0.999_999), b = V(repeating: 1e-7 + seed * 1e-9)
        var c0 = V(repeating: seed), c1 = c0 + 1, c2 = c0 + 2, c3 = c0 + 3, c4 = c0 + 4, c5 = c0 + 5
        var c6 = c0 + 6, c7 = c0 + 7, c8 = c0 + 8, c9 = c0 + 9, c10 = c0 + 10, c11 = c0 + 11
        for _ in 0..<iterations {
            c0 = b.addingProduct(c0, a); c1 = b.addingProduct(c1, a); c2 = b.addingProduct(c2, a)
            c3 = b.addingProduct(c3, a); c4 = b.addingProduct(c4, a); c5 = b.addingProduct(c5, a)
            c6 = b.addingProduct(c6, a); c7 = b.addingProduct(c7, a); c8 = b.addingProduct(c8, a)
            c9 = b.addingProduct(c9, a); c10 = b.addingProduct(c10, a); c11 = b.addingProduct(c11, a)
        }
        let sum = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11))
        return sum.sum()
    }
}

/// Keeps a result alive so the optimiser cannot drop the work that made it.
@inline(never)
func blackHole(_ value: Float) {
    if value == .infinity { print("") }
}
