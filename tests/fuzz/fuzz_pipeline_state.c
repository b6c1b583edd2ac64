/* fuzz_pipeline_state.c: restoring a sampler from a hostile checkpoint tree.
 *
 * A checkpoint's files carry CRCs, but a crafted step can carry valid ones, so the state
 * parser (loader and sampler JSON, cache arrays) must treat the tree as hostile. The
 * harness takes the genuine tree of a small sampler after one batch and lets the input
 * rewrite it: the input is a list of edits separated by 0x00 bytes; each edit is
 *   [leaf index] [mode] [payload...]
 * mode 0: replace the leaf with the payload as JSON (as a string leaf when it is not JSON);
 * mode 1: replace it with an array: [dtype] [ndim] [ndim x 1-byte dims] [data...];
 * mode 2: delete the leaf. Restoring must fail cleanly or succeed; after a success the
 * next batch must be produced (or fail cleanly), never crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sp/sp.h"
#include "sp/sp_ckpt.h"
#include "sp/sp_pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char config_yaml[] =
    "scheduler_class: analytic\n"
    "analytic_flow: [{kind: uniform, u: 1, v: 0.5}, {kind: shear, rate: 0.1}, {kind: uniform, u: 0, v: 1}]\n"
    "image_shape: [16, 16]\nflow_field_size: [40, 40]\nresolution: 1\nimg_offset: [8, 8]\ndt: 1\n"
    "velocities_per_pixel: 1\noutput_units: pixels\nmin_speed_x: -2\nmax_speed_x: 2\nmin_speed_y: -2\n"
    "max_speed_y: 2\nbatch_size: 2\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 2\nrandomize: true\n"
    "diameter_ranges: [[1, 2]]\nseed: 3\nthreads: 1\n";

static sp_sampler *make_sampler(sp_config *cfg)
{
    sp_sampler *s = NULL;
    if (sp_config_load_string(cfg, config_yaml, sizeof config_yaml - 1, "fuzz.yaml", NULL, NULL) != SP_OK) abort();
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    o.threads = 1;
    if (sp_sampler_create(&s, cfg, &o, NULL) != SP_OK) abort();
    return s;
}

static int add_leaf_copy(sp_tree *t, const sp_leaf_view *v)
{
    switch (v->kind) {
    case SP_LEAF_ARRAY: return sp_tree_add_array(t, v->path, v->dtype, v->ndim, v->shape, v->data, NULL);
    case SP_LEAF_I64: return sp_tree_add_i64(t, v->path, v->i64, NULL);
    case SP_LEAF_F64: return sp_tree_add_f64(t, v->path, v->f64, NULL);
    case SP_LEAF_STRING: return sp_tree_add_string(t, v->path, v->text, NULL);
    case SP_LEAF_JSON: return sp_tree_add_json(t, v->path, v->text, NULL);
    }
    return -1;
}

/* The edit for leaf i, if any: a pointer into data and its length. */
typedef struct edit {
    const uint8_t *p;
    size_t n;
    int present;
} edit;

static void add_array_edit(sp_tree *t, const char *path, const uint8_t *p, size_t n)
{
    if (n < 2) return;
    sp_dtype const dt = (sp_dtype)(p[0] % (unsigned)SP_DTYPE_COUNT_);
    size_t const ndim = p[1] % 5;
    if (n < 2 + ndim) return;
    uint64_t shape[4] = {0};
    size_t count = 1;
    for (size_t k = 0; k < ndim; k++) {
        shape[k] = p[2 + k];
        count *= (size_t)shape[k];
    }
    size_t const es = sp_dtype_size(dt);
    size_t const have = n - 2 - ndim;
    if (count * es > 1u << 16) return;
    unsigned char *const buf = (unsigned char *)calloc(count * es + 1, 1);
    if (buf == NULL) return;
    memcpy(buf, p + 2 + ndim, have < count * es ? have : count * es);
    sp_tree_add_array(t, path, dt, ndim, shape, buf, NULL);
    free(buf);
}

static void apply_edit(sp_tree *t, const sp_leaf_view *v, const edit *e)
{
    if (!e->present) {
        add_leaf_copy(t, v);
        return;
    }
    if (e->n < 1) return;
    unsigned const mode = e->p[0] % 3;
    const uint8_t *const p = e->p + 1;
    size_t const n = e->n - 1;
    if (mode == 2) return; /* deleted */
    if (mode == 1) {
        add_array_edit(t, v->path, p, n);
        return;
    }
    char *const text = (char *)malloc(n + 1);
    if (text == NULL) return;
    memcpy(text, p, n);
    text[n] = '\0';
    if (sp_tree_add_json(t, v->path, text, NULL) != SP_OK) sp_tree_add_string(t, v->path, text, NULL);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    sp_config cfg;
    sp_sampler *const src = make_sampler(&cfg);
    const sp_batch *b = NULL;
    if (sp_sampler_next(src, &b, NULL) != SP_OK) abort();
    sp_tree *genuine = NULL;
    if (sp_pipeline_state_tree(src, NULL, &genuine, NULL) != SP_OK) abort();
    size_t const count = sp_tree_count(genuine);
    edit *const edits = (edit *)calloc(count, sizeof *edits);
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != 0) continue;
        if (i > start) {
            size_t const leaf = data[start] % count;
            edits[leaf].p = data + start + 1;
            edits[leaf].n = i - start - 1;
            edits[leaf].present = 1;
        }
        start = i + 1;
    }
    sp_tree *t = NULL;
    sp_tree_create(&t);
    for (size_t i = 0; i < count; i++) {
        sp_leaf_view v;
        if (sp_tree_at(genuine, i, &v) == SP_OK) apply_edit(t, &v, &edits[i]);
    }
    sp_config cfg2;
    sp_sampler *const dst = make_sampler(&cfg2);
    sp_error err;
    if (sp_pipeline_restore_tree(dst, t, &err) == SP_OK) {
        for (int k = 0; k < 3; k++)
            if (sp_sampler_next(dst, &b, &err) != SP_OK) break;
    }
    sp_sampler_free(dst);
    sp_config_free(&cfg2);
    sp_tree_free(t);
    free(edits);
    sp_tree_free(genuine);
    sp_sampler_free(src);
    sp_config_free(&cfg);
    return 0;
}
