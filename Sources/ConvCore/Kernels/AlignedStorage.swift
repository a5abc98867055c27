// Packed weights and biases live in storage allocated once when a plan is built: 64-byte aligned
// (one cache line, one AVX-512 vector), zero-filled, freed with the last reference. Kernels read
// it through its pointer without a closure per array.

final class AlignedStorage: @unchecked Sendable { // written only while it is being packed, then read-only
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }
}
