/* fuzz_config.c: fuzz harness for the configuration loader.
 *
 * Input: arbitrary bytes, loaded as a YAML configuration. Properties checked:
 *   - no crash, no leak, no undefined behaviour on any input (sanitizers report those);
 *   - a load either succeeds or reports at least one error;
 *   - a configuration that loads is written back as YAML, and that YAML loads again into an
 *     equal configuration (the round trip of sp_config_write_yaml), twice with identical
 *     bytes (the writer is deterministic).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp/sp_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_config: property violated: %s\n", what);
        abort();
    }
}

static void round_trip(const sp_config *c)
{
    sp_membuf a = {0}, b = {0};
    sp_sink const sa = sp_sink_membuf(&a), sb = sp_sink_membuf(&b);
    check(sp_config_write_yaml(c, &sa, NULL) == SP_OK, "write succeeds");
    check(sp_config_write_yaml(c, &sb, NULL) == SP_OK, "second write succeeds");
    check(a.size == b.size && memcmp(a.data, b.data, a.size) == 0, "writer is deterministic");
    sp_config back;
    sp_diag d;
    sp_diag_init(&d);
    sp_status const st = sp_config_load_string(&back, (const char *)a.data, a.size, "rt", "/base", &d);
    if (st != SP_OK) {
        sp_diag_print(&d, "round trip", stderr);
        fwrite(a.data, 1, a.size, stderr);
    }
    check(st == SP_OK, "written configuration loads");
    check(sp_config_equal(c, &back), "written configuration loads back equal");
    sp_config_free(&back);
    sp_diag_free(&d);
    sp_membuf_free(&a);
    sp_membuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sp_config c;
    sp_diag d;
    sp_diag_init(&d);
    /* An absolute base directory makes resolved paths absolute, so they survive the trip. */
    sp_status const st = sp_config_load_string(&c, (const char *)data, size, "fuzz", "/base", &d);
    if (st == SP_OK) round_trip(&c);
    else if (st == SP_ERR_CONFIG) check(sp_diag_errors(&d) > 0, "a failed load reports an error");
    sp_config_free(&c);
    sp_diag_free(&d);
    return 0;
}
