// Interlaced PNGs decoded pass by pass into a file instead of into memory (libvips holds the whole
// decoded image in RAM for them: 600 MB for a 200-megapixel RGB image).
#ifndef TESSERA_CPNG_H
#define TESSERA_CPNG_H

#include <stddef.h>

/// Decodes the PNG open at `in` (read from its start) into the file open at `out` as raw samples,
/// row-major, `bands` per pixel, `sample_bytes` (1, or 2 in native byte order) each: palettes
/// expanded, transparency as alpha, grey below 8 bits widened, as libvips reads PNGs. Each Adam7
/// pass's pixels are written into their rows of `out`, so memory stays a few rows whatever the
/// image's size. Returns 0, or -1 with a one-line reason in `error` (`size` bytes).
int tessera_png_decode_to_file(int in, int out, int bands, int sample_bytes, char *error, size_t size);

#endif
