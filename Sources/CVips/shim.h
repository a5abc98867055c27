// libvips for Swift. Swift cannot call C variadic functions (libvips passes options as
// NULL-terminated name/value lists) nor function-like macros, so this header wraps the few that
// Tessera needs in fixed-arity static inline functions, which Swift's clang importer compiles.
#ifndef TESSERA_CVIPS_SHIM_H
#define TESSERA_CVIPS_SHIM_H

#include <vips/vips.h>

/// Opens an image file. `fail` turns on fail-on-error (truncated data is an error instead of a
/// grey bottom); `sequential` streams top to bottom instead of decoding the whole image first.
static inline VipsImage *tessera_vips_open(const char *path, int fail, int sequential) {
    return vips_image_new_from_file(path,
        "fail_on", fail ? VIPS_FAIL_ON_ERROR : VIPS_FAIL_ON_NONE,
        "access", sequential ? VIPS_ACCESS_SEQUENTIAL : VIPS_ACCESS_RANDOM,
        NULL);
}

/// Writes an image; the format follows the file name's suffix.
static inline int tessera_vips_write(VipsImage *image, const char *path) {
    return vips_image_write_to_file(image, path, NULL);
}

static inline void tessera_vips_unref(VipsImage *image) {
    g_object_unref(image);
}

#endif
