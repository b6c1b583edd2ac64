/* fuzz_h5.c: .h5 flow reader harness, from memory through HDF5's core driver (a file image).
 *
 * Any input must give either a flow of shape (H, W, 2|3) with only finite values, or an
 * error whose one-line message names the input; never a crash, a leak or output on stderr
 * (HDF5's error printing is silenced by the reader). Accepted inputs are parsed twice and
 * must give identical flows (determinism).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sp/sp_matio_h5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
    if (!cond) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sp_flow f, g;
    sp_error e;
    if (size > ((size_t)1 << 20)) return 0; /* bounds the work per input, not a reader limit */
    if (sp_h5_parse_flow(data, size, "fuzz.h5", &f, &e) != SP_OK) {
        fuzz_check(strstr(e.message, "fuzz.h5") != NULL && strchr(e.message, '\n') == NULL);
        fuzz_check(f.data == NULL);
        return 0;
    }
    fuzz_check(f.channels == 2 || f.channels == 3);
    size_t const n = f.height * f.width * f.channels;
    for (size_t k = 0; k < n; k++) fuzz_check(isfinite(f.data[k]));
    fuzz_check(sp_h5_parse_flow(data, size, "fuzz.h5", &g, &e) == SP_OK);
    fuzz_check(g.height == f.height && g.width == f.width && g.channels == f.channels &&
               memcmp(g.data, f.data, n * sizeof(float)) == 0);
    sp_flow_release(&f);
    sp_flow_release(&g);
    return 0;
}
