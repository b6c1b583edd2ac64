/* fuzz_flo.c: Middlebury .flo parser harness.
 *
 * Parses the input from memory; allocation is bounded by the input length because the parser
 * checks the data length before allocating. For every accepted input, writes the flow back
 * twice (identical bytes: determinism) and checks the result equals the input byte for byte,
 * since the writer emits the whole format (NaN payloads included). Every input is also
 * written to a file, read with sp_flo_read_flow_into and mapped with sp__flo_map_flow, which
 * must agree with sp_flo_decode (fuzz_file.h).
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_file_compare(data, size, sp_flo_read_flow_into, sp_flo_decode, sp__flo_map_flow);
    sp_flow f;
    sp_error e;
    if (sp_flo_parse(data, size, "fuzz.flo", &f, &e) != SP_OK) {
        fuzz_check(strstr(e.message, "fuzz.flo") != NULL);
        fuzz_check(f.data == NULL);
        return 0;
    }
    fuzz_check(f.channels == 2 && size == 12 + f.width * f.height * 8);
    sp_membuf m1 = {0}, m2 = {0};
    sp_sink const s1 = sp_sink_membuf(&m1), s2 = sp_sink_membuf(&m2);
    fuzz_check(sp_flo_write(&s1, &f, NULL) == SP_OK);
    fuzz_check(sp_flo_write(&s2, &f, NULL) == SP_OK);
    fuzz_check(m1.size == m2.size && memcmp(m1.data, m2.data, m1.size) == 0);
    fuzz_check(m1.size == size && memcmp(m1.data, data, size) == 0);
    sp_flow g;
    fuzz_check(sp_flo_parse(m1.data, m1.size, "rt.flo", &g, NULL) == SP_OK);
    fuzz_check(g.width == f.width && g.height == f.height &&
               memcmp(g.data, f.data, f.width * f.height * 2 * sizeof(float)) == 0);
    sp_flow_release(&g);
    sp_membuf_free(&m1);
    sp_membuf_free(&m2);
    sp_flow_release(&f);
    return 0;
}
