/* synthpix: byte sinks. Writers (PNG, TIFF, .flo, .npy, JSON, zarr chunks) emit through an
 * sp_sink and never open their final path themselves, so the same writer can target
 * memory, a plain file or the checkpoint manager's atomic files.
 *
 * Thread safety: a sink is used by one thread at a time.
 */
#ifndef SP_SINK_H
#define SP_SINK_H

#include <stddef.h> /* size_t */
#include <stdio.h>  /* FILE */

#include "sp/sp_api.h"
#include "sp/sp_errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sp_sink {
    /* Writes all n bytes or fails. data is borrowed for the call. */
    sp_status (*write)(void *ctx, const void *data, size_t n, sp_error *err);
    void *ctx; /* borrowed; owned by whoever set up the sink */
} sp_sink;

static inline sp_status sp_sink_write(const sp_sink *s, const void *data, size_t n, sp_error *err)
{
    return s->write(s->ctx, data, n, err);
}

/* A growable memory buffer. Initialise with {0}; free data with free(). */
typedef struct sp_membuf {
    unsigned char *data;
    size_t size;
    size_t capacity;
} sp_membuf;

SP_API sp_sink sp_sink_membuf(sp_membuf *buf);           /* buf borrowed while the sink is used */
SP_API void sp_membuf_free(sp_membuf *buf);              /* frees data, resets to {0} */

/* A stdio stream (not closed by the sink). `name` is used in error messages. */
typedef struct sp_file_sink_ctx {
    FILE *fp;
    const char *name;
} sp_file_sink_ctx;
SP_API sp_sink sp_sink_file(sp_file_sink_ctx *ctx);     /* ctx borrowed while the sink is used */

#ifdef __cplusplus
}
#endif
#endif /* SP_SINK_H */
