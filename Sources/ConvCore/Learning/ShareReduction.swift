// A training batch split into shares that run at once on the pool's threads still has layers
// whose training-mode output depends on the whole batch (BatchNormalization's mean and variance,
// and the two sums of its backward pass). Each share hands in its partial sums and waits; the
// last to arrive adds them up in share order, so the result is the same for every share and for
// every run with this many shares. Shares make the same calls in the same order (one graph), so
// calls are matched by their count.

import Foundation

/// The meeting point of the shares of one training step.
final class ShareReduction: @unchecked Sendable { // all state is behind `condition`
    let parts: Int
    private let condition = NSCondition()
    private var deposits: [[Double]?]
    private var arrived = 0, round = 0
    private var total: [Double] = []

    init(parts: Int) {
        self.parts = parts
        deposits = [[Double]?](repeating: nil, count: parts)
    }

    /// The element-wise sum of every share's `values`, added in share order. Blocks until every
    /// share has called it for this round: every share must run on its own thread at once.
    func sum(_ values: [Double], part: Int) -> [Double] {
        condition.lock()
        defer { condition.unlock() }
        let mine = round
        deposits[part] = values
        arrived += 1
        if arrived == parts {
            var sum = deposits[0]!
            for p in 1..<parts {
                let d = deposits[p]!
                for k in sum.indices { sum[k] += d[k] }
            }
            total = sum
            deposits = [[Double]?](repeating: nil, count: parts)
            arrived = 0
            round += 1
            condition.broadcast()
            return sum
        }
        // `total` stays this round's until every share has handed in the next round's values,
        // which needs this share to have returned.
        while round == mine { condition.wait() }
        return total
    }
}

/// One share's place at a step's meeting point.
struct ShareSlot: Sendable {
    let reduction: ShareReduction
    let part: Int

    func sum(_ values: [Double]) -> [Double] { reduction.sum(values, part: part) }
}
