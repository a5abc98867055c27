// libpng reads an interlaced PNG as seven reduced images, one after the other (png_read_row without
// png_set_interlace_handling). Each reduced row belongs to one full row, every 2nd to 8th pixel of
// it: the full row is read back from the file, the pass's pixels put in their columns, and written
// again (the last pass holds whole odd rows and is written as it is). libpng's error handler
// longjmps back here.

#include "cpng.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

struct failure { char *text; size_t size; };

static void on_error(png_structp png, png_const_charp message) {
    struct failure *f = png_get_error_ptr(png);
    snprintf(f->text, f->size, "%s", message);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) { (void)png; (void)message; }

static int io_failed(struct failure *f, const char *what) {
    snprintf(f->text, f->size, "%s: %s", what, strerror(errno));
    return -1;
}

int tessera_png_decode_to_file(int in, int out, int bands, int sample_bytes, char *error, size_t size) {
    struct failure f = { error, size };
    int fd = dup(in);
    if (fd < 0) return io_failed(&f, "dup");
    FILE *file = fdopen(fd, "rb");
    if (!file) { close(fd); return io_failed(&f, "fdopen"); }
    if (fseeko(file, 0, SEEK_SET)) { fclose(file); return io_failed(&f, "seek"); }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &f, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        fclose(file);
        snprintf(error, size, "out of memory");
        return -1;
    }
    // Set before setjmp and freed after it: volatile, so a longjmp sees their current values.
    png_bytep volatile reduced = NULL, full = NULL;
    volatile int result = -1;
    if (setjmp(png_jmpbuf(png))) goto done;
    png_init_io(png, file);
    // The caller checked the size against its pixel limit; libpng's own limit (1,000,000) is lower.
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    png_set_expand(png);
    if (png_get_bit_depth(png, info) == 16) png_set_swap(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != bands || png_get_bit_depth(png, info) != 8 * sample_bytes) {
        snprintf(error, size, "PNG decodes to %d bands of %d bits, expected %d of %d",
                 png_get_channels(png, info), png_get_bit_depth(png, info), bands, 8 * sample_bytes);
        goto done;
    }
    size_t pixel = (size_t)bands * sample_bytes, row_bytes = pixel * width;
    reduced = malloc(png_get_rowbytes(png, info));
    full = malloc(row_bytes);
    if (!reduced || !full) { snprintf(error, size, "out of memory"); goto done; }
    if (ftruncate(out, (off_t)(row_bytes * height))) { io_failed(&f, "ftruncate"); goto done; }
    int passes = png_get_interlace_type(png, info) == PNG_INTERLACE_ADAM7 ? 7 : 1;
    for (int pass = 0; pass < passes; pass++) {
        png_uint_32 columns = passes == 1 ? width : PNG_PASS_COLS(width, pass);
        png_uint_32 rows = passes == 1 ? height : PNG_PASS_ROWS(height, pass);
        if (columns == 0 || rows == 0) continue; // libpng skips empty passes too
        int whole = passes == 1 || pass == 6;
        for (png_uint_32 r = 0; r < rows; r++) {
            png_read_row(png, whole ? full : reduced, NULL);
            png_uint_32 y = passes == 1 ? r : PNG_PASS_START_ROW(pass) + (r << PNG_PASS_ROW_SHIFT(pass));
            off_t at = (off_t)(row_bytes * y);
            if (!whole) {
                if (pread(out, full, row_bytes, at) != (ssize_t)row_bytes) { io_failed(&f, "read back"); goto done; }
                for (png_uint_32 c = 0; c < columns; c++) {
                    png_uint_32 x = PNG_PASS_START_COL(pass) + (c << PNG_PASS_COL_SHIFT(pass));
                    memcpy(full + pixel * x, reduced + pixel * c, pixel);
                }
            }
            if (pwrite(out, full, row_bytes, at) != (ssize_t)row_bytes) { io_failed(&f, "write"); goto done; }
        }
    }
    png_read_end(png, NULL);
    result = 0;
done:
    png_destroy_read_struct(&png, &info, NULL);
    free(reduced);
    free(full);
    fclose(file);
    return result;
}
