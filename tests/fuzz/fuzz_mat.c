/* fuzz_mat.c: .mat flow reader harness (v4/v5 through libmatio, v7.3 and plain HDF5).
 *
 * libmatio reads only from a path, so each input is written to a private temporary file
 * (mkstemp) and read with include_images on, which exercises V, I0 and I1. Any input must
 * give either a finite flow and two images of one shape, or a one-line error naming the
 * file; never a crash or a leak. Accepted inputs are read twice and must give identical
 * results (determinism).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sp/sp_matio_h5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
    if (!cond) abort();
}

typedef struct mat_result {
    sp_status st;
    sp_flow flow;
    float *i0, *i1;
    size_t ih, iw;
    sp_error err;
} mat_result;

static void read_once(const char *path, mat_result *r)
{
    memset(r, 0, sizeof *r);
    r->st = sp_mat_read_flow(path, 1, &r->flow, &r->i0, &r->i1, &r->ih, &r->iw, &r->err);
}

static void release(mat_result *r)
{
    sp_flow_release(&r->flow);
    free(r->i0);
    free(r->i1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > ((size_t)1 << 20)) return 0; /* bounds the work per input, not a reader limit */
    char path[] = "/tmp/sp-fuzz-mat-XXXXXX";
    int const fd = mkstemp(path);
    fuzz_check(fd >= 0);
    fuzz_check(write(fd, data, size) == (ssize_t)size);
    close(fd);
    mat_result a, b;
    read_once(path, &a);
    if (a.st != SP_OK) {
        fuzz_check(strstr(a.err.message, path) != NULL && strchr(a.err.message, '\n') == NULL);
        fuzz_check(a.flow.data == NULL && a.i0 == NULL && a.i1 == NULL);
    } else {
        size_t const n = a.flow.height * a.flow.width * a.flow.channels;
        for (size_t k = 0; k < n; k++) fuzz_check(isfinite(a.flow.data[k]));
        read_once(path, &b);
        fuzz_check(b.st == SP_OK && b.flow.height == a.flow.height && b.flow.width == a.flow.width &&
                   memcmp(b.flow.data, a.flow.data, n * sizeof(float)) == 0 && b.ih == a.ih && b.iw == a.iw &&
                   memcmp(b.i0, a.i0, a.ih * a.iw * sizeof(float)) == 0);
        release(&b);
    }
    release(&a);
    unlink(path);
    return 0;
}
