/* fuzz_file.h: the flow-file readers (sp_npy_read_flow_into, sp_flo_read_flow_into) against
 * their whole-buffer decoders on a fuzz input: the input is written to one temporary file
 * of this process (removed at exit), read both ways, and must give the same status and
 * message and, when accepted, the same shape, non-finite flag and value bits. The mapped
 * path (sp__npy_map_flow, sp__flo_map_flow; src/internal/sp_flowmap.h) must agree too: an
 * error is the decoder's error, and a mapped flow has the decoder's shape and bits (its
 * non-finite values, which the mapped path leaves to the sampler, are counted here). */
#ifndef FUZZ_FILE_H
#define FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sp/sp_io.h"
#include "sp_flowmap.h"

typedef sp_status (*fuzz_flow_reader)(const char *path, size_t max_len, sp_flow *out, size_t *capacity,
                                      sp_membuf *file, int *nonfinite, sp_error *err);
typedef sp_status (*fuzz_flow_mapper)(const char *path, size_t max_len, size_t min_len, sp_flow *out,
                                      sp_membuf *head, sp_fmap *map, int *mapped, sp_error *err);
typedef sp_status (*fuzz_flow_decoder)(const void *buf, size_t len, const char *name, sp_flow *out,
                                       size_t *capacity, int *nonfinite, sp_error *err);

static char fuzz_file_path[512];

static void fuzz_file_remove(void)
{
    if (fuzz_file_path[0]) unlink(fuzz_file_path);
}

/* The process's temporary file, holding data; NULL when it cannot be written (skipped). */
static const char *fuzz_file_write(const uint8_t *data, size_t size)
{
    if (!fuzz_file_path[0]) {
        const char *const dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(fuzz_file_path, sizeof fuzz_file_path, "%s/sp-fuzz-XXXXXX", dir);
        int const fd = mkstemp(fuzz_file_path);
        if (fd < 0) {
            fuzz_file_path[0] = '\0';
            return NULL;
        }
        close(fd);
        atexit(fuzz_file_remove);
    }
    FILE *const f = fopen(fuzz_file_path, "wb");
    if (f == NULL) return NULL;
    size_t const put = size ? fwrite(data, 1, size, f) : 0;
    int const ok = fclose(f) == 0 && put == size;
    return ok ? fuzz_file_path : NULL;
}

/* The mapped path against the decoder's result (status sb, message eb, flow b, flag nb). */
static void fuzz_file_compare_mapped(const char *path, fuzz_flow_mapper map_flow, sp_status sb, const sp_error *eb,
                                     const sp_flow *b, int nb)
{
    sp_flow m;
    memset(&m, 0, sizeof m);
    sp_membuf head = {0};
    sp_fmap map = SP_FMAP_NONE;
    int mapped = -1;
    sp_error em;
    sp_error_clear(&em);
    sp_status const sm = map_flow(path, (size_t)1 << 26, 0, &m, &head, &map, &mapped, &em);
    if (sm != SP_OK && (sm != sb || strcmp(em.message, eb->message) != 0)) abort();
    if (sm == SP_OK && mapped) {
        if (sb != SP_OK || m.height != b->height || m.width != b->width || m.channels != b->channels) abort();
        size_t const n = m.height * m.width * m.channels;
        if (memcmp(m.data, b->data, n * sizeof(float)) != 0) abort();
        uint32_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &m.data[i], sizeof u);
            bad |= (u & 0x7f800000u) == 0x7f800000u;
        }
        if ((int)bad != nb) abort();
    }
    if (sm != SP_OK && map.base != NULL) abort(); /* an error leaves nothing mapped */
    sp__fmap_release(&map);
    sp_membuf_free(&head);
}

static void fuzz_file_compare(const uint8_t *data, size_t size, fuzz_flow_reader read, fuzz_flow_decoder decode,
                              fuzz_flow_mapper map_flow)
{
    const char *const path = fuzz_file_write(data, size);
    if (path == NULL) return;
    sp_flow a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    size_t ca = 0, cb = 0;
    sp_membuf file = {0};
    sp_error ea, eb;
    sp_error_clear(&ea);
    sp_error_clear(&eb);
    int na = -1, nb = -1;
    sp_status const sa = read(path, (size_t)1 << 26, &a, &ca, &file, &na, &ea);
    sp_status const sb = decode(data, size, path, &b, &cb, &nb, &eb);
    if (sa != sb) abort();
    if (sa != SP_OK && strcmp(ea.message, eb.message) != 0) abort();
    if (sa == SP_OK) {
        if (a.height != b.height || a.width != b.width || a.channels != b.channels || na != nb) abort();
        if (memcmp(a.data, b.data, a.height * a.width * a.channels * sizeof(float)) != 0) abort();
    }
    fuzz_file_compare_mapped(path, map_flow, sb, &eb, &b, nb);
    sp_flow_release(&a);
    sp_flow_release(&b);
    sp_membuf_free(&file);
}

#endif /* FUZZ_FILE_H */
