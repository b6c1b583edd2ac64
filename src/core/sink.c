/* sink.c: memory and stdio sinks. Durable files are written through the sp_fs layer
 * (fs_file.c), never through a sink's own file operations.
 */
#include "sp/sp_sink.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sp_status membuf_write(void *ctx, const void *data, size_t n, sp_error *err)
{
    sp_membuf *b = (sp_membuf *)ctx;
    if (n > SIZE_MAX - b->size) return sp_error_set(err, SP_ERR_NOMEM, "memory sink overflow");
    size_t const need = b->size + n;
    if (need > b->capacity) {
        size_t cap = b->capacity ? b->capacity : 4096;
        while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        unsigned char *const p = (unsigned char *)realloc(b->data, cap);
        if (p == NULL) return sp_error_set(err, SP_ERR_NOMEM, "memory sink: out of memory (%zu bytes)", cap);
        b->data = p;
        b->capacity = cap;
    }
    if (n) memcpy(b->data + b->size, data, n);
    b->size = need;
    return SP_OK;
}

sp_sink sp_sink_membuf(sp_membuf *buf)
{
    sp_sink s = {membuf_write, buf};
    return s;
}

void sp_membuf_free(sp_membuf *buf)
{
    if (buf == NULL) return;
    free(buf->data);
    buf->data = NULL;
    buf->size = buf->capacity = 0;
}

static sp_status file_write(void *ctx, const void *data, size_t n, sp_error *err)
{
    sp_file_sink_ctx *const f = (sp_file_sink_ctx *)ctx;
    if (n && fwrite(data, 1, n, f->fp) != n)
        return sp_error_set(err, errno == ENOSPC ? SP_ERR_NOSPC : SP_ERR_IO, "%s: write failed: %s",
                            f->name ? f->name : "(stream)", strerror(errno));
    return SP_OK;
}

sp_sink sp_sink_file(sp_file_sink_ctx *ctx)
{
    sp_sink s = {file_write, ctx};
    return s;
}
