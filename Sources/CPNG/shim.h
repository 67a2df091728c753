#include <png.h>
#include <setjmp.h>
#include <string.h>

// libpng's error handler must not return: C callers longjmp to a setjmp on png_jmpbuf.
// Swift can do neither, so the calls that may fail are made through the wrappers below.
// Each sets the landing point and calls libpng; the handlers here copy the message and jump
// back, skipping only libpng's own frames (which libpng is designed for), and the wrapper
// returns 0. png_destroy_read_struct then frees all libpng allocated. The bytes are read from
// memory by a C callback too, so no Swift frame ever lies between a setjmp and its longjmp.

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t offset;
    char message[256];
} cdfss_png_source;

static void cdfss_png_read(png_structp png, png_bytep out, size_t length) {
    cdfss_png_source *source = (cdfss_png_source *)png_get_io_ptr(png);
    if (length > source->size - source->offset) png_error(png, "unexpected end of data");
    memcpy(out, source->data + source->offset, length);
    source->offset += length;
}

static void cdfss_png_error(png_structp png, png_const_charp message) {
    cdfss_png_source *source = (cdfss_png_source *)png_get_error_ptr(png);
    strncpy(source->message, message ? message : "libpng error", sizeof source->message - 1);
    source->message[sizeof source->message - 1] = 0;
    png_longjmp(png, 1);
}

// Warnings (bad ancillary chunks, extra data) do not stop decoding, as in PIL.
static void cdfss_png_warning(png_structp png, png_const_charp message) { (void)png; (void)message; }

// A read struct over `source`, whose signature (8 bytes) was checked; NULL when out of memory.
static png_structp cdfss_png_create(cdfss_png_source *source) {
    source->message[0] = 0;
    source->offset = 8;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, source, cdfss_png_error, cdfss_png_warning);
    if (png) {
        png_set_read_fn(png, source, cdfss_png_read);
        png_set_sig_bytes(png, 8);
    }
    return png;
}

// Reads the header chunks and sets the transforms: 1, 2 and 4-bit samples one byte each,
// interlaced pictures delivered whole. Returns the row size libpng then delivers, 0 on failure.
static __attribute__((noinline)) size_t cdfss_png_prepare(png_structp png, png_infop info, int unpack, int interlaced) {
    if (setjmp(png_jmpbuf(png))) return 0;
    png_set_user_limits(png, 0x7FFFFFFF, 0x7FFFFFFF);  // cdfss's own size limit applies
    png_read_info(png, info);
    if (unpack) png_set_packing(png);
    if (interlaced) (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);
    return png_get_rowbytes(png, info);
}

static __attribute__((noinline)) int cdfss_png_read_image(png_structp png, png_bytepp rows) {
    if (setjmp(png_jmpbuf(png))) return 0;
    png_read_image(png, rows);
    return 1;
}
