// jpeglib.h needs stdio.h (FILE) and size_t declared before it.
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

// libjpeg's error_exit must not return: C callers longjmp out of it to a setjmp of their own.
// Swift can do neither, so the calls that may fail are made through the wrappers below. Each
// sets its landing point, then calls libjpeg; the error handler formats the message and jumps
// back to it, skipping only libjpeg's own frames (which libjpeg is designed for), and the
// wrapper returns 0. The decompressor stays valid for jpeg_destroy_decompress, which frees
// everything libjpeg allocated. No Swift frame ever lies between a setjmp and its longjmp.

typedef struct {
    struct jpeg_error_mgr manager;  // first, so that libjpeg's err pointer is this record
    jmp_buf landing;
    char message[JMSG_LENGTH_MAX];
    // Set when libjpeg ran out of data and padded the rest (the "Premature end" warning).
    int truncated;
} cdfss_jpeg_errors;

static void cdfss_jpeg_error_exit(j_common_ptr info) {
    cdfss_jpeg_errors *errors = (cdfss_jpeg_errors *)info->err;
    info->err->format_message(info, errors->message);
    longjmp(errors->landing, 1);
}

// Warnings (corrupt entropy data, extraneous bytes) are ignored as PIL ignores them, except
// running out of data, which PIL reports as a truncated file.
static void cdfss_jpeg_emit_message(j_common_ptr info, int level) {
    if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) ((cdfss_jpeg_errors *)info->err)->truncated = 1;
}

static void cdfss_jpeg_output_message(j_common_ptr info) { (void)info; }

// Creates the decompressor reading `size` bytes at `data`; 0 on failure (message in errors).
static __attribute__((noinline)) int cdfss_jpeg_create(j_decompress_ptr info, cdfss_jpeg_errors *errors,
                                                      const unsigned char *data, unsigned long size) {
    info->err = jpeg_std_error(&errors->manager);
    errors->manager.error_exit = cdfss_jpeg_error_exit;
    errors->manager.emit_message = cdfss_jpeg_emit_message;
    errors->manager.output_message = cdfss_jpeg_output_message;
    errors->message[0] = 0;
    errors->truncated = 0;
    if (setjmp(errors->landing)) return 0;
    jpeg_create_decompress(info);
    jpeg_mem_src(info, data, size);
    return 1;
}

static __attribute__((noinline)) int cdfss_jpeg_read_header(j_decompress_ptr info) {
    if (setjmp(((cdfss_jpeg_errors *)info->err)->landing)) return 0;
    jpeg_read_header(info, TRUE);
    return 1;
}

static __attribute__((noinline)) int cdfss_jpeg_start_decompress(j_decompress_ptr info) {
    if (setjmp(((cdfss_jpeg_errors *)info->err)->landing)) return 0;
    jpeg_start_decompress(info);
    return 1;
}

// Reads the next scanline into `row`.
static __attribute__((noinline)) int cdfss_jpeg_read_scanline(j_decompress_ptr info, JSAMPROW row) {
    if (setjmp(((cdfss_jpeg_errors *)info->err)->landing)) return 0;
    JSAMPROW rows[1] = { row };
    jpeg_read_scanlines(info, rows, 1);
    return 1;
}

static __attribute__((noinline)) int cdfss_jpeg_finish_decompress(j_decompress_ptr info) {
    if (setjmp(((cdfss_jpeg_errors *)info->err)->landing)) return 0;
    jpeg_finish_decompress(info);
    return 1;
}
