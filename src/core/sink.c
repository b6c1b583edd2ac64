/* sink.c: memory and stdio sinks, and the whole-file atomic writer.
 *
 * sp_write_file_atomic is what the CLI uses for every dataset file: a crash never leaves a
 * half-written image under its final name (write temp, fsync, rename, fsync directory).
 */
#include "sp/sp_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static sp_status io_error(sp_error *err, const char *op, const char *path)
{
    int const e = errno;
    return sp_error_set(err, e == ENOSPC ? SP_ERR_NOSPC : SP_ERR_IO, "%s: %s failed: %s", path, op,
                        strerror(e));
}

static sp_status write_all_fd(int fd, const unsigned char *p, size_t n, const char *path, sp_error *err)
{
    while (n > 0) {
        ssize_t const w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return io_error(err, "write", path);
        }
        p += (size_t)w;
        n -= (size_t)w;
    }
    return SP_OK;
}

static sp_status fsync_parent_dir(const char *path, sp_error *err)
{
    char *const copy = strdup(path);
    if (copy == NULL) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    int const dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (dfd < 0) return io_error(err, "open directory", path);
    int const rc = fsync(dfd);
    close(dfd);
    /* Some file systems refuse fsync on directories (EINVAL); the rename is still done. */
    if (rc != 0 && errno != EINVAL) return io_error(err, "fsync directory", path);
    return SP_OK;
}

sp_status sp_write_file_atomic(const char *path, const void *data, size_t n, int durable,
                               sp_error *err)
{
    size_t const len = strlen(path) + 32;
    char *const tmp = (char *)malloc(len);
    if (tmp == NULL) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    snprintf(tmp, len, "%s.tmp-%ld", path, (long)getpid());
    sp_status st = SP_OK;
    int const fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = io_error(err, "create", tmp);
        free(tmp);
        return st;
    }
    st = write_all_fd(fd, (const unsigned char *)data, n, tmp, err);
    if (st == SP_OK && durable && fsync(fd) != 0) st = io_error(err, "fsync", tmp);
    if (close(fd) != 0 && st == SP_OK) st = io_error(err, "close", tmp);
    if (st == SP_OK && rename(tmp, path) != 0) st = io_error(err, "rename", path);
    if (st != SP_OK) unlink(tmp);
    free(tmp);
    if (st == SP_OK && durable) st = fsync_parent_dir(path, err);
    return st;
}
