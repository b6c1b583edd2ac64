/* resume_tool.c: the C side of the Python package's checkpoint interop test
 * (python/tests/test_interop.py), through the public API only:
 *
 *   resume_tool save CONFIG DIR N STEP   render N batches, then sp_save_checkpoint(DIR, STEP)
 *   resume_tool next CONFIG DIR OUT      sp_make(load_from = DIR), render one batch and write
 *                                        its images1, images2 and flow_fields (float32, C
 *                                        order, one after the other) to OUT
 *
 * Exit status 0, or 1 with the library's message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sp/sp.h"

static int fail(const char *what, const sp_error *e)
{
    fprintf(stderr, "resume_tool: %s: %s\n", what, e->message);
    return 1;
}

static int write_batch(const sp_batch *b, const char *out)
{
    FILE *const f = fopen(out, "wb");
    if (f == NULL) return 1;
    size_t const img = b->batch_size * b->height * b->width, flow = b->batch_size * b->flow_height * b->flow_width * 2;
    int const ok = fwrite(b->images1, sizeof(float), img, f) == img && fwrite(b->images2, sizeof(float), img, f) == img &&
                   fwrite(b->flow_fields, sizeof(float), flow, f) == flow;
    return fclose(f) == 0 && ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: resume_tool save CONFIG DIR N STEP | next CONFIG DIR OUT\n");
        return 2;
    }
    sp_config cfg;
    sp_diag d;
    sp_diag_init(&d);
    if (sp_config_load_file(&cfg, argv[2], &d) != SP_OK) {
        sp_diag_print(&d, argv[2], stderr);
        return 1;
    }
    sp_error e;
    sp_error_clear(&e);
    sp_sampler *s = NULL;
    int const save = argv[1][0] == 's';
    int rc = 0;
    const sp_batch *b = NULL;
    if (sp_make(&cfg, save ? NULL : argv[3], SP_CKPT_LATEST, NULL, &s, &e) != SP_OK) {
        rc = fail("sp_make", &e);
    } else if (save) {
        long const n = argc > 5 ? strtol(argv[4], NULL, 10) : 0;
        for (long i = 0; rc == 0 && i < n; i++)
            if (sp_sampler_next(s, &b, &e) != SP_OK) rc = fail("sp_sampler_next", &e);
        if (rc == 0 && sp_save_checkpoint(argv[3], s, argc > 5 ? strtoll(argv[5], NULL, 10) : 0, -1, &e) != SP_OK)
            rc = fail("sp_save_checkpoint", &e);
    } else if (sp_sampler_next(s, &b, &e) != SP_OK) {
        rc = fail("sp_sampler_next", &e);
    } else {
        rc = write_batch(b, argv[4]);
    }
    sp_sampler_free(s);
    sp_config_free(&cfg);
    sp_diag_free(&d);
    return rc;
}
