/* fuzz_h5.c: .h5 flow reader harness, from memory through HDF5's core driver (a file image).
 *
 * Any input must give either a flow of shape (H, W, 2|3) with only finite values, or an
 * error whose one-line message names the input; never a crash, a leak or output on stderr
 * (HDF5's error printing is silenced by the reader). Accepted inputs are parsed twice and
 * must give identical flows (determinism).
 *
 * Two builds of this file:
 *   fuzz_h5 (ctest fuzz_h5_replay)  the public readers, each read in its child process.
 *   fuzz_h5_in_process (SP_FUZZ_H5_IN_PROCESS=1, ctest fuzz_h5_in_process_replay)  the same
 *     reader without the child, from memory and from a temporary file (the pread path), so
 *     that a read outside a buffer, in our code or in libhdf5, is reported by the sanitizers
 *     and fails the replay; in the isolated build it would only end the child. Every file
 *     of tests/corpus/h5 must pass this one: a future input that crashes libhdf5's metadata
 *     parsing (which stays libhdf5's, in the child) belongs in a corpus replayed by fuzz_h5
 *     only.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sp/sp_matio_h5.h"

#ifndef SP_FUZZ_H5_IN_PROCESS
#define SP_FUZZ_H5_IN_PROCESS 0
#endif

#if SP_FUZZ_H5_IN_PROCESS
#include "matio_h5_internal.h"
#define PARSE sp__h5_parse_flow_in_process
#else
#define PARSE sp_h5_parse_flow
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
    if (!cond) abort();
}

/* A result of either reader: a sane flow, or a one-line error naming `name`. */
static int check_result(sp_status st, const sp_flow *f, const sp_error *e, const char *name)
{
    if (st != SP_OK) {
        fuzz_check(strstr(e->message, name) != NULL && strchr(e->message, '\n') == NULL);
        fuzz_check(f->data == NULL);
        return 0;
    }
    fuzz_check(f->channels == 2 || f->channels == 3);
    size_t const n = f->height * f->width * f->channels;
    for (size_t k = 0; k < n; k++) fuzz_check(isfinite(f->data[k]));
    return 1;
}

#if SP_FUZZ_H5_IN_PROCESS
/* The path reader (libhdf5's sec2 driver, our pread) on a temporary copy of the input. */
static void fuzz_path(const uint8_t *data, size_t size)
{
    const char *const dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[4096];
    snprintf(path, sizeof path, "%s/fuzz_h5_XXXXXX", dir);
    int const fd = mkstemp(path);
    fuzz_check(fd >= 0);
    fuzz_check(write(fd, data, size) == (ssize_t)size);
    close(fd);
    sp_flow f;
    sp_error e;
    if (check_result(sp__h5_read_flow_in_process(path, &f, &e), &f, &e, path)) sp_flow_release(&f);
    unlink(path);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sp_flow f, g;
    sp_error e;
    if (size > ((size_t)1 << 20)) return 0; /* bounds the work per input, not a reader limit */
#if SP_FUZZ_H5_IN_PROCESS
    fuzz_path(data, size);
#endif
    if (!check_result(PARSE(data, size, "fuzz.h5", &f, &e), &f, &e, "fuzz.h5")) return 0;
    size_t const n = f.height * f.width * f.channels;
    fuzz_check(PARSE(data, size, "fuzz.h5", &g, &e) == SP_OK);
    fuzz_check(g.height == f.height && g.width == f.width && g.channels == f.channels &&
               memcmp(g.data, f.data, n * sizeof(float)) == 0);
    sp_flow_release(&f);
    sp_flow_release(&g);
    return 0;
}
