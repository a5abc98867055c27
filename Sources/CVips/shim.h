// libvips for Swift. Swift cannot call C variadic functions (libvips passes options as
// NULL-terminated name/value lists) nor function-like macros, so this header wraps the few that
// Tessera needs in fixed-arity static inline functions, which Swift's clang importer compiles.
#ifndef TESSERA_CVIPS_SHIM_H
#define TESSERA_CVIPS_SHIM_H

#include <vips/vips.h>

/// Opens an image file (the first page or frame) with the named loader ("jpegload", "pngload",
/// ...) only: no other loader's detection runs over the file (some parse it deeply just to say
/// no). `fail` turns on fail-on-error (truncated data is an error instead of a grey bottom);
/// `sequential` streams top to bottom instead of decoding the whole image first.
static inline VipsImage *tessera_vips_load(const char *loader, const char *path, int fail, int sequential) {
    VipsImage *out = NULL;
    if (vips_call(loader, path, &out,
            "fail_on", fail ? VIPS_FAIL_ON_ERROR : VIPS_FAIL_ON_NONE,
            "access", sequential ? VIPS_ACCESS_SEQUENTIAL : VIPS_ACCESS_RANDOM,
            NULL)) return NULL;
    return out;
}

/// Rotates and flips by the EXIF orientation tag and removes the tag.
static inline int tessera_vips_autorot(VipsImage *in, VipsImage **out) {
    return vips_autorot(in, out, NULL);
}

/// Converts through ICC profiles to `output` (a built-in profile name such as "srgb", "p3",
/// "cmyk", or a file), from the embedded profile, or from `fallback` when the image has none.
/// `depth` is 8 or 16.
static inline int tessera_vips_icc_transform(VipsImage *in, VipsImage **out, const char *output, int depth, const char *fallback) {
    if (fallback)
        return vips_icc_transform(in, out, output, "embedded", TRUE, "depth", depth,
            "input_profile", fallback, NULL);
    return vips_icc_transform(in, out, output, "embedded", TRUE, "depth", depth, NULL);
}

/// libvips' built-in sRGB profile, attached to colour outputs.
static inline VipsBlob *tessera_vips_srgb_profile(void) {
    VipsBlob *blob = NULL;
    return vips_profile_load("srgb", &blob, NULL) ? NULL : blob;
}

static inline int tessera_vips_pipeline(VipsImage *out, VipsImage *in) {
    return vips_image_pipelinev(out, VIPS_DEMAND_STYLE_THINSTRIP, in, NULL);
}

// Operations the reference filters of `tessera pairs make` use.
static inline int tessera_vips_resize(VipsImage *in, VipsImage **out, double scale) {
    return vips_resize(in, out, scale, NULL);
}
/// Resizes by `hscale` across and `vscale` down (lanczos3 when shrinking, bicubic when
/// enlarging), then cuts or extends (copying edge pixels) to exactly `width` x `height`, since
/// libvips rounds the scaled size.
static inline int tessera_vips_resize_to(VipsImage *in, VipsImage **out, int width, int height) {
    VipsImage *scaled = NULL;
    if (vips_resize(in, &scaled, (double)width / in->Xsize, "vscale", (double)height / in->Ysize, NULL)) return -1;
    int failed = vips_embed(scaled, out, 0, 0, width, height, "extend", VIPS_EXTEND_COPY, NULL);
    g_object_unref(scaled);
    return failed ? -1 : 0;
}
static inline int tessera_vips_colourspace(VipsImage *in, VipsImage **out, VipsInterpretation space) {
    return vips_colourspace(in, out, space, NULL);
}
static inline int tessera_vips_extract_bands(VipsImage *in, VipsImage **out, int first, int count) {
    return vips_extract_band(in, out, first, "n", count, NULL);
}
/// out = in * scale (every band), as float.
static inline int tessera_vips_scale(VipsImage *in, VipsImage **out, double scale) {
    double a = scale, b = 0;
    return vips_linear(in, out, &a, &b, 1, NULL);
}
static inline int tessera_vips_floor(VipsImage *in, VipsImage **out) {
    return vips_floor(in, out, NULL);
}
static inline int tessera_vips_cast_uchar(VipsImage *in, VipsImage **out) {
    return vips_cast_uchar(in, out, NULL);
}
/// BT.601 luma (Y = .299R + .587G + .114B, DESIGN.md §7) of 8-bit sRGB, rounded to 8 bits.
static inline int tessera_vips_luma601(VipsImage *in, VipsImage **out) {
    double weights[3] = {0.299, 0.587, 0.114};
    VipsImage *matrix = vips_image_new_matrix_from_array(3, 1, weights, 3);
    if (!matrix) return -1;
    VipsImage *y = NULL, *shifted = NULL;
    double a = 1, b = 0.5;
    int failed = vips_recomb(in, &y, matrix, NULL) || vips_linear(y, &shifted, &a, &b, 1, NULL)
        || vips_cast_uchar(shifted, out, NULL);
    g_object_unref(matrix);
    if (y) g_object_unref(y);
    if (shifted) g_object_unref(shifted);
    if (!failed) (*out)->Type = VIPS_INTERPRETATION_B_W;
    return failed ? -1 : 0;
}
static inline int tessera_vips_sobel(VipsImage *in, VipsImage **out) {
    return vips_sobel(in, out, NULL);
}

// Savers, one per format, with the options Tessera exposes.
/// `interlace`: progressive JPEG, Adam7 PNG (Tessera writes neither; tests make them).
static inline int tessera_vips_jpegsave(VipsImage *in, const char *path, int quality, int interlace) {
    return vips_jpegsave(in, path, "Q", quality, "interlace", interlace, NULL);
}
static inline int tessera_vips_pngsave(VipsImage *in, const char *path, int interlace) {
    return vips_pngsave(in, path, "interlace", interlace, NULL);
}
static inline int tessera_vips_tiffsave(VipsImage *in, const char *path) {
    return vips_tiffsave(in, path, "compression", VIPS_FOREIGN_TIFF_COMPRESSION_DEFLATE,
        "predictor", VIPS_FOREIGN_TIFF_PREDICTOR_HORIZONTAL, NULL);
}
static inline int tessera_vips_webpsave(VipsImage *in, const char *path, int quality, int lossless) {
    return vips_webpsave(in, path, "Q", quality, "lossless", lossless, NULL);
}
static inline int tessera_vips_gifsave(VipsImage *in, const char *path) {
    return vips_gifsave(in, path, NULL);
}
static inline int tessera_vips_heifsave(VipsImage *in, const char *path, int quality, int lossless, int av1) {
    return vips_heifsave(in, path, "Q", quality, "lossless", lossless,
        "compression", av1 ? VIPS_FOREIGN_HEIF_COMPRESSION_AV1 : VIPS_FOREIGN_HEIF_COMPRESSION_HEVC, NULL);
}

// Region access (macros in libvips).
static inline VipsPel *tessera_region_addr(VipsRegion *region, int x, int y) {
    return VIPS_REGION_ADDR(region, x, y);
}
static inline size_t tessera_region_lskip(VipsRegion *region) {
    return VIPS_REGION_LSKIP(region);
}

/// Records a failure for the caller of vips_region_prepare (from a generate callback).
static inline void tessera_vips_error(const char *domain, const char *message) {
    vips_error(domain, "%s", message);
}

static inline void tessera_vips_unref(void *object) {
    g_object_unref(object);
}

#endif
