// What the compiler targets, as the C preprocessor sees it: Swift has no conditional for target
// features, and its importer compiles this header for the same CPU as the Swift code that calls
// it (`-target-cpu native`), so the answer is a constant the optimiser folds.
#ifndef TESSERA_VECTOR_ISA_H
#define TESSERA_VECTOR_ISA_H

/// 32 where the target has AVX-512 (32 vector registers of 16 floats), else 16 (AVX2: 16
/// registers of 8 floats).
static inline int tessera_vector_registers(void) {
#if defined(__AVX512F__)
    return 32;
#else
    return 16;
#endif
}

#endif
