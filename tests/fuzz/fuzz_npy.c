/* fuzz_npy.c: .npy parser harness.
 *
 * Parses the input from memory with tight limits (1 MiB of data, 4 KiB of header) so that a
 * hostile header cannot make the harness allocate much. For every accepted input it also
 * converts to float64 and tries the flow conversion, then writes the array with our writer
 * twice (the bytes must be identical: determinism), parses that again and checks dtype,
 * shape and data are unchanged. Every input is also written to a file and read with
 * sp_npy_read_flow_into and mapped with sp__npy_map_flow, which must agree with
 * sp_npy_decode_flow (fuzz_file.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sp/sp_io.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
    if (!cond) abort();
}

static void write_twice(const sp_npy_array *a, sp_membuf *m1)
{
    sp_membuf m2 = {0};
    sp_sink const s1 = sp_sink_membuf(m1), s2 = sp_sink_membuf(&m2);
    fuzz_check(sp_npy_write(&s1, a->dtype, a->ndim, a->shape, a->data, NULL) == SP_OK);
    fuzz_check(sp_npy_write(&s2, a->dtype, a->ndim, a->shape, a->data, NULL) == SP_OK);
    fuzz_check(m1->size == m2.size && memcmp(m1->data, m2.data, m1->size) == 0);
    sp_membuf_free(&m2);
}

static void roundtrip(const sp_npy_array *a, const sp_npy_limits *lim)
{
    sp_membuf m = {0};
    write_twice(a, &m);
    sp_npy_array b;
    sp_error e;
    fuzz_check(sp_npy_parse(m.data, m.size, "rt.npy", &b, lim, &e) == SP_OK);
    fuzz_check(b.dtype == a->dtype && b.ndim == a->ndim && b.count == a->count);
    fuzz_check(memcmp(b.shape, a->shape, sizeof a->shape) == 0);
    fuzz_check(b.nbytes == a->nbytes && memcmp(b.data, a->data, a->nbytes) == 0);
    sp_npy_array_release(&b);
    sp_membuf_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_file_compare(data, size, sp_npy_read_flow_into, sp_npy_decode_flow, sp__npy_map_flow);
    sp_npy_limits lim;
    sp_npy_limits_init(&lim);
    lim.max_data_bytes = (size_t)1 << 20;
    lim.max_header_bytes = 4096;
    sp_npy_array a;
    sp_error e;
    if (sp_npy_parse(data, size, "fuzz.npy", &a, &lim, &e) != SP_OK) {
        fuzz_check(strstr(e.message, "fuzz.npy") != NULL);
        fuzz_check(a.data == NULL);
        return 0;
    }
    double *const d = (double *)malloc((a.count ? a.count : 1) * sizeof(double));
    fuzz_check(d != NULL && sp_npy_to_f64(&a, d, a.count, NULL) == SP_OK);
    free(d);
    sp_flow f;
    if (sp_npy_to_flow(&a, "fuzz.npy", &f, &e) == SP_OK) {
        fuzz_check(f.height * f.width * f.channels == a.count);
        sp_flow_release(&f);
    } else {
        fuzz_check(strstr(e.message, "fuzz.npy") != NULL);
    }
    roundtrip(&a, &lim);
    sp_npy_array_release(&a);
    return 0;
}
