/* config_load.c: YAML configuration -> validated sp_config.
 *
 * Map:
 *   sp__cfg_keys       the key table (name, type, field, bounds); one row per key of
 *                      docs/configuration.md (SynthPix's keys and our extensions).
 *   apply_key          converts one top-level value through the table (config_value.c).
 *   load_mapping       walks the top-level mapping: known keys, deprecated aliases
 *                      (noise_level, scheduler_files), keys SynthPix ignores, unknown keys
 *                      (warning + nearest key by edit distance), duplicates (last one wins,
 *                      as in PyYAML, with a warning).
 *   check_required     the keys each mode needs (docs/synthpix-compat.md, Configuration).
 *   check_cross        rules between keys (F <= B, include_images only with .mat, ...).
 *   check_realism      the light sheet's keys: sheet_thickness required with a profile,
 *                      warnings for keys that have no effect (docs/realism.md).
 *   resolve_paths      file_list, mask and histogram relative to base_dir.
 * Every check reports and goes on, so one load lists every mistake. A load with at least one
 * error returns SP_ERR_CONFIG and leaves c freshly initialised.
 *
 * YAML subset: see config_yaml.c (document structure) and config_value.c (scalar typing).
 * The top level must be a mapping whose keys are scalars.
 */
#include "config_keys.h"

#include "sp_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the key table ---- */

static const char *const source_names[] = {".mat", ".h5", ".npy", ".flo", "kinematic", "analytic"};
static const char *const units_names[] = {"pixels", "measure units per second"};
static const char *const psf_names[] = {"point", "integrated"};
static const char *const diameter_names[] = {"synthpix", "e2"};
static const char *const advection_names[] = {"euler", "rk4"};
static const char *const scale_names[] = {"peak", "literal"};
static const char *const sheet_names[] = {"none", "gaussian", "tophat"};

#define OFF(f) offsetof(sp_config, f)
#define NONE {0, 0, 0, 0}
#define GE(x) {x, 0, 1, 0}
#define GT(x) {x, 0, 2, 0}
#define IN(a, b) {a, b, 1, 1}
#define OPEN(a, b) {a, b, 2, 2}
#define ENUM(key, field, tab) {key, SP_K_ENUM, OFF(field), 0, NONE, tab, SP_ARRAY_LEN(tab)}
#define SIMPLE(key, type, field, bounds) {key, type, OFF(field), 0, bounds, NULL, 0}
#define COUNTED(key, type, field, count, bounds) {key, type, OFF(field), OFF(count), bounds, NULL, 0}

const sp__key_desc sp__cfg_keys[] = {
    /* pipeline (docs/configuration.md, Pipeline keys) */
    ENUM("scheduler_class", scheduler_class, source_names),
    SIMPLE("batch_size", SP_K_INT, batch_size, GE(1)),
    SIMPLE("flow_fields_per_batch", SP_K_INT, flow_fields_per_batch, GE(1)),
    SIMPLE("batches_per_flow_batch", SP_K_INT, batches_per_flow_batch, GE(1)),
    SIMPLE("include_images", SP_K_BOOL, include_images, NONE),
    SIMPLE("image_shape", SP_K_SHAPE, image_shape, NONE),
    COUNTED("file_list", SP_K_STRLIST, file_list, file_list_len, NONE),
    SIMPLE("randomize", SP_K_BOOL, randomize, NONE),
    SIMPLE("loop", SP_K_BOOL, loop, NONE),
    SIMPLE("seed", SP_K_U64, seed, NONE),
    SIMPLE("episode_length", SP_K_INT, episode_length, GE(0)),
    SIMPLE("buffer_size", SP_K_INT, buffer_size, GE(0)),
    SIMPLE("worker_count", SP_K_INT, worker_count, GE(0)),
    SIMPLE("num_threads", SP_K_INT, num_threads, GE(0)),
    SIMPLE("device_ids", SP_K_DEVICES, seed, NONE), /* offset unused: nothing is stored */
    /* image generation (docs/configuration.md, Image-generation keys) */
    SIMPLE("dt", SP_K_NUMBER, dt, GT(0)),
    SIMPLE("seeding_density_range", SP_K_RANGE, seeding_density_range, GE(0)),
    SIMPLE("p_hide_img1", SP_K_NUMBER, p_hide_img1, IN(0, 1)),
    SIMPLE("p_hide_img2", SP_K_NUMBER, p_hide_img2, IN(0, 1)),
    COUNTED("diameter_ranges", SP_K_RANGES, diameter_ranges, n_diameter_ranges, GT(0)),
    SIMPLE("diameter_var", SP_K_NUMBER, diameter_var, GE(0)),
    COUNTED("intensity_ranges", SP_K_RANGES, intensity_ranges, n_intensity_ranges, GT(0)),
    SIMPLE("intensity_var", SP_K_NUMBER, intensity_var, GE(0)),
    COUNTED("rho_ranges", SP_K_RANGES, rho_ranges, n_rho_ranges, OPEN(-1, 1)),
    SIMPLE("rho_var", SP_K_NUMBER, rho_var, GE(0)),
    SIMPLE("noise_uniform", SP_K_NUMBER, noise_uniform, GE(0)),
    SIMPLE("noise_gaussian_mean", SP_K_NUMBER, noise_gaussian_mean, GE(0)),
    SIMPLE("noise_gaussian_std", SP_K_NUMBER, noise_gaussian_std, GE(0)),
    SIMPLE("img_offset", SP_K_PAIR, img_offset, GE(0)),
    SIMPLE("mask", SP_K_PATH, mask, NONE),
    SIMPLE("histogram", SP_K_PATH, histogram, NONE),
    /* geometry (docs/configuration.md, Geometry keys) */
    SIMPLE("flow_field_size", SP_K_PAIR, flow_field_size, GT(0)),
    SIMPLE("resolution", SP_K_NUMBER, resolution, GT(0)),
    SIMPLE("velocities_per_pixel", SP_K_NUMBER, velocities_per_pixel, GT(0)),
    SIMPLE("min_speed_x", SP_K_NUMBER, min_speed_x, NONE),
    SIMPLE("max_speed_x", SP_K_NUMBER, max_speed_x, NONE),
    SIMPLE("min_speed_y", SP_K_NUMBER, min_speed_y, NONE),
    SIMPLE("max_speed_y", SP_K_NUMBER, max_speed_y, NONE),
    ENUM("output_units", output_units, units_names),
    /* kinematic source (docs/configuration.md, Kinematic source keys) */
    SIMPLE("num_examples", SP_K_SIZE, num_examples, GE(1)),
    SIMPLE("filter_sigma_range", SP_K_RANGE, filter_sigma_range, IN(0, SP_CFG_MAX_SIGMA)),
    SIMPLE("max_displacement_range", SP_K_RANGE, max_displacement_range, IN(0, SP_CFG_MAX_DISPLACEMENT)),
    ENUM("scale_mode", scale_mode, scale_names),
    /* our extensions (docs/configuration.md, Extensions) */
    SIMPLE("analytic_flow", SP_K_ANALYTIC, analytic, NONE),
    SIMPLE("analytic_num_examples", SP_K_SIZE, analytic_num_examples, GE(1)),
    ENUM("psf", psf, psf_names),
    ENUM("diameter_convention", diameter_convention, diameter_names),
    ENUM("advection", advection, advection_names),
    SIMPLE("bit_depth", SP_K_BITDEPTH, bit_depth, NONE),
    SIMPLE("threads", SP_K_INT, threads, IN(0, 4096)),
    /* light sheet, out-of-plane motion, frames (docs/realism.md) */
    ENUM("sheet_profile", sheet_profile, sheet_names),
    SIMPLE("sheet_thickness", SP_K_NUMBER, sheet_thickness, IN(1e-15, 1e30)), /* 8 / t^2 stays a float */
    SIMPLE("sheet_edge", SP_K_NUMBER, sheet_edge, IN(0, 1)),
    SIMPLE("out_of_plane_range", SP_K_RANGE, out_of_plane_range, NONE),
    SIMPLE("over_exposure", SP_K_NUMBER, over_exposure, GT(0)),
    SIMPLE("frames", SP_K_INT, frames, IN(2, SP_MAX_FRAMES)),
};
const size_t sp__cfg_nkeys = SP_ARRAY_LEN(sp__cfg_keys);

#define NKEYS (sizeof sp__cfg_keys / sizeof sp__cfg_keys[0])
_Static_assert(NKEYS <= 32 * 4, "present_mask_ holds one bit per key");
_Static_assert(sizeof(sp_source_kind) == sizeof(int) && sizeof(sp_output_units) == sizeof(int) &&
                   sizeof(sp_psf) == sizeof(int) && sizeof(sp_advection) == sizeof(int) &&
                   sizeof(sp_diameter_convention) == sizeof(int) && sizeof(sp_kinematic_scale) == sizeof(int) &&
                   sizeof(sp_sheet_profile) == sizeof(int),
               "enum fields are stored through int-sized copies");

/* Deprecated names (docs/synthpix-compat.md, Configuration) and the keys they map to. */
static const char *const alias_old[] = {"noise_level", "scheduler_files"};
static const char *const alias_new[] = {"noise_uniform", "file_list"};
/* Keys seen in SynthPix configurations that its code ignores (docs/synthpix-compat.md,
 * Configuration). */
static const char *const ignored_keys[] = {"output_shape", "identifiable_flow", "REPETITIONS"};

int sp__cfg_key_index(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(sp__cfg_keys[i].name, name) == 0) return (int)i;
    return -1;
}

/* ---- one load ---- */

typedef struct loader {
    sp__cfg_ctx x;
    unsigned char given[NKEYS]; /* the key appeared in the text */
    unsigned char bad[NKEYS];   /* ... with an invalid value */
    const sp__cfg_node *where[NKEYS];
} loader;

static void *field(sp_config *c, const sp__key_desc *k)
{
    return (char *)c + k->off;
}

static int read_enum(loader *L, const sp__key_desc *k, const sp__cfg_node *n)
{
    if (n != NULL && n->type == SP_CFG_SCALAR) {
        for (size_t i = 0; i < k->n_names; i++) {
            if (strcmp(n->value, k->names[i]) != 0) continue;
            int const v = (int)i;
            memcpy(field(L->x.c, k), &v, sizeof v);
            return 1;
        }
    }
    char v[100], list[200] = "";
    sp__cfg_render(n, v, sizeof v);
    for (size_t i = 0; i < k->n_names; i++) {
        strcat(list, i ? ", \"" : "\"");
        strcat(list, k->names[i]);
        strcat(list, "\"");
    }
    const char *const near = n && n->type == SP_CFG_SCALAR ? sp__cfg_suggest(n->value, k->names, k->n_names) : NULL;
    if (near)
        sp__cfg_error(&L->x, k->name, n, "%s: %s is not allowed; expected one of %s (did you mean \"%s\"?)",
                      k->name, v, list, near);
    else
        sp__cfg_error(&L->x, k->name, n, "%s: %s is not allowed; expected one of %s", k->name, v, list);
    return 0;
}

static int read_int(loader *L, const sp__key_desc *k, const sp__cfg_node *n)
{
    long long v;
    long long const hi = k->b.hi_kind ? (long long)k->b.hi : INT_MAX;
    if (!sp__cfg_get_int(&L->x, k->name, n, (long long)k->b.lo, hi, &v)) return 0;
    *(int *)field(L->x.c, k) = (int)v;
    return 1;
}

static int read_size(loader *L, const sp__key_desc *k, const sp__cfg_node *n)
{
    long long v;
    if (!sp__cfg_get_int(&L->x, k->name, n, (long long)k->b.lo, LLONG_MAX, &v)) return 0;
    *(size_t *)field(L->x.c, k) = (size_t)v;
    return 1;
}

static int read_shape(loader *L, const sp__key_desc *k, const sp__cfg_node *n)
{
    char v[100];
    sp__cfg_render(n, v, sizeof v);
    if (n == NULL || n->type != SP_CFG_SEQ || n->n != 2) {
        sp__cfg_error(&L->x, k->name, n, "%s: %s is not a list of two integers [H, W]", k->name, v);
        return 0;
    }
    long long hw[2];
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        char key[64];
        snprintf(key, sizeof key, "%s[%d]", k->name, i);
        ok &= sp__cfg_get_int(&L->x, key, n->items[i], 1, SP_CFG_MAX_IMAGE_DIM, &hw[i]);
    }
    if (!ok) return 0;
    size_t *const out = (size_t *)field(L->x.c, k);
    out[0] = (size_t)hw[0];
    out[1] = (size_t)hw[1];
    return 1;
}

static int read_ranges(loader *L, const sp__key_desc *k, const sp__cfg_node *n)
{
    char v[100];
    sp__cfg_render(n, v, sizeof v);
    if (n == NULL || n->type != SP_CFG_SEQ || n->n == 0) {
        sp__cfg_error(&L->x, k->name, n, "%s: %s is not a non-empty list of [min, max] pairs", k->name, v);
        return 0;
    }
    if (n->n > SP_CONFIG_MAX_RANGES) {
        sp__cfg_error(&L->x, k->name, n, "%s: has %zu ranges; at most %d are supported", k->name, n->n,
                      SP_CONFIG_MAX_RANGES);
        return 0;
    }
    sp_range tmp[SP_CONFIG_MAX_RANGES];
    int ok = 1;
    for (size_t i = 0; i < n->n; i++) {
        char key[64];
        double r[2] = {0, 0};
        snprintf(key, sizeof key, "%s[%zu]", k->name, i);
        ok &= sp__cfg_get_range(&L->x, key, n->items[i], &k->b, r);
        tmp[i].min = r[0];
        tmp[i].max = r[1];
    }
    if (!ok) return 0;
    memcpy(field(L->x.c, k), tmp, n->n * sizeof tmp[0]);
    *(size_t *)(void *)((char *)L->x.c + k->count_off) = n->n;
    return 1;
}

static void free_strlist(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
}

static char *dup_or_flag(loader *L, const char *s)
{
    size_t const len = strlen(s);
    char *const p = (char *)malloc(len + 1);
    if (p == NULL) L->x.nomem = 1;
    else memcpy(p, s, len + 1);
    return p;
}

static int read_strlist(loader *L, const sp__key_desc *k, const sp__cfg_node *n)
{
    int const single = n != NULL && n->type == SP_CFG_SCALAR && !sp__cfg_is_null(n);
    size_t const count = sp__cfg_is_null(n) ? 0 : single ? 1 : n->type == SP_CFG_SEQ ? n->n : 0;
    if (!sp__cfg_is_null(n) && !single && n->type != SP_CFG_SEQ) {
        char v[100];
        sp__cfg_render(n, v, sizeof v);
        sp__cfg_error(&L->x, k->name, n, "%s: %s is not a path or a list of paths", k->name, v);
        return 0;
    }
    char **const list = count ? (char **)calloc(count, sizeof *list) : NULL;
    if (count && list == NULL) return L->x.nomem = 1, 0;
    int ok = 1;
    for (size_t i = 0; i < count; i++) {
        const sp__cfg_node *const it = single ? n : n->items[i];
        const char *s = NULL;
        char key[64];
        snprintf(key, sizeof key, "%s[%zu]", k->name, i);
        if (!sp__cfg_get_string(&L->x, key, it, &s)) ok = 0;
        else if ((list[i] = dup_or_flag(L, s)) == NULL) ok = 0;
    }
    if (!ok) {
        free_strlist(list, count);
        return 0;
    }
    char ***const dst = (char ***)field(L->x.c, k);
    size_t *const dst_n = (size_t *)(void *)((char *)L->x.c + k->count_off);
    free_strlist(*dst, *dst_n);
    *dst = list;
    *dst_n = count;
    return 1;
}

static int read_path(loader *L, const sp__key_desc *k, const sp__cfg_node *n)
{
    char **const dst = (char **)field(L->x.c, k);
    const char *s = NULL;
    if (sp__cfg_is_null(n)) {
        free(*dst);
        *dst = NULL;
        return 1;
    }
    if (!sp__cfg_get_string(&L->x, k->name, n, &s)) return 0;
    char *const p = dup_or_flag(L, s);
    if (p == NULL) return 0;
    free(*dst);
    *dst = p;
    return 1;
}

static int read_devices(loader *L, const sp__key_desc *k, const sp__cfg_node *n)
{
    if (!sp__cfg_is_null(n)) {
        if (n->type != SP_CFG_SEQ) {
            char v[100];
            sp__cfg_render(n, v, sizeof v);
            sp__cfg_error(&L->x, k->name, n, "%s: %s is not a list of device indices or null", k->name, v);
            return 0;
        }
        int ok = 1;
        for (size_t i = 0; i < n->n; i++) {
            char key[64];
            long long v;
            snprintf(key, sizeof key, "%s[%zu]", k->name, i);
            ok &= sp__cfg_get_int(&L->x, key, n->items[i], 0, INT_MAX, &v);
        }
        if (!ok) return 0;
    }
    sp__cfg_warn(&L->x, k->name, n,
                 "device_ids: ignored; synthpix renders on the CPU (use 'threads' to choose the "
                 "number of worker threads)");
    return 1;
}

static int read_bitdepth(loader *L, const sp__key_desc *k, const sp__cfg_node *n)
{
    long long v;
    if (!sp__cfg_get_int(&L->x, k->name, n, 8, 16, &v)) return 0;
    if (v != 8 && v != 16) {
        sp__cfg_error(&L->x, k->name, n, "%s: %lld is not allowed; expected 8 or 16", k->name, v);
        return 0;
    }
    *(int *)field(L->x.c, k) = (int)v;
    return 1;
}

static int apply_key(loader *L, const sp__key_desc *k, const sp__cfg_node *n)
{
    sp__cfg_ctx *const x = &L->x;
    void *const f = field(x->c, k);
    switch (k->type) {
    case SP_K_ENUM: return read_enum(L, k, n);
    case SP_K_INT: return read_int(L, k, n);
    case SP_K_SIZE: return read_size(L, k, n);
    case SP_K_U64: {
        unsigned long long v;
        if (!sp__cfg_get_u64(x, k->name, n, &v)) return 0;
        *(uint64_t *)f = (uint64_t)v;
        return 1;
    }
    case SP_K_BOOL: return sp__cfg_get_bool(x, k->name, n, (int *)f);
    case SP_K_NUMBER: return sp__cfg_get_number(x, k->name, n, &k->b, (double *)f);
    case SP_K_SHAPE: return read_shape(L, k, n);
    case SP_K_PAIR: return sp__cfg_get_pair(x, k->name, n, &k->b, (double *)f);
    case SP_K_RANGE: {
        double r[2];
        if (!sp__cfg_get_range(x, k->name, n, &k->b, r)) return 0;
        ((sp_range *)f)->min = r[0];
        ((sp_range *)f)->max = r[1];
        return 1;
    }
    case SP_K_RANGES: return read_ranges(L, k, n);
    case SP_K_STRLIST: return read_strlist(L, k, n);
    case SP_K_PATH: return read_path(L, k, n);
    case SP_K_BITDEPTH: return read_bitdepth(L, k, n);
    case SP_K_ANALYTIC: {
        size_t const before = x->errors;
        sp__cfg_load_analytic(x, n);
        return x->errors == before;
    }
    case SP_K_DEVICES: return read_devices(L, k, n);
    }
    return 0;
}

static int is_ignored_key(const char *name)
{
    for (size_t i = 0; i < SP_ARRAY_LEN(ignored_keys); i++)
        if (strcmp(name, ignored_keys[i]) == 0) return 1;
    return strncmp(name, "EXECUTIONS_", 11) == 0;
}

static void unknown_key(loader *L, const char *name, const sp__cfg_node *where)
{
    const char *cands[NKEYS + SP_ARRAY_LEN(alias_old)];
    size_t n = 0;
    for (size_t i = 0; i < NKEYS; i++) cands[n++] = sp__cfg_keys[i].name;
    const char *const near = sp__cfg_suggest(name, cands, n);
    char shown[100];
    snprintf(shown, sizeof shown, "%s", name);
    if (near)
        sp__cfg_warn(&L->x, name, where, "unknown key '%s'; did you mean '%s'?", shown, near);
    else
        sp__cfg_warn(&L->x, name, where, "unknown key '%s'; it is ignored", shown);
}

static void load_pair(loader *L, const sp__cfg_node *key, const sp__cfg_node *val)
{
    if (key->type != SP_CFG_SCALAR) {
        char v[100];
        sp__cfg_render(key, v, sizeof v);
        sp__cfg_error(&L->x, "", key, "%s is not a valid key; keys are plain names", v);
        return;
    }
    const char *name = key->value;
    for (size_t a = 0; a < SP_ARRAY_LEN(alias_old); a++) {
        if (strcmp(name, alias_old[a]) != 0) continue;
        sp__cfg_warn(&L->x, name, key, "%s: deprecated key; use '%s' instead", name, alias_new[a]);
        name = alias_new[a];
    }
    int const i = sp__cfg_key_index(name);
    if (i < 0) {
        if (is_ignored_key(name))
            sp__cfg_warn(&L->x, name, key, "%.100s: accepted for compatibility with SynthPix and ignored", name);
        else
            unknown_key(L, name, key);
        return;
    }
    if (L->given[i])
        sp__cfg_warn(&L->x, name, key, "%s: given more than once (also on line %d); the last value is used",
                     name, L->where[i]->line);
    L->given[i] = 1;
    L->where[i] = key;
    L->bad[i] = !apply_key(L, &sp__cfg_keys[i], val);
}

static void load_mapping(loader *L, const sp__cfg_node *root)
{
    if (root == NULL || root->type != SP_CFG_MAP) {
        const char *const what = root == NULL ? "empty" : root->type == SP_CFG_SEQ ? "a list" : "a single value";
        sp__cfg_error(&L->x, "", root, "the configuration is %s; expected a mapping of keys to values", what);
        return;
    }
    for (size_t i = 0; i + 1 < root->n; i += 2) load_pair(L, root->items[i], root->items[i + 1]);
}

/* ---- required keys and cross-field rules ---- */

#define IDX(name) sp__cfg_key_index(name)

static int ok_key(const loader *L, const char *name)
{
    int const i = IDX(name);
    return i >= 0 && !L->bad[i];
}

static void require(loader *L, const char *name, const char *why)
{
    int const i = IDX(name);
    if (i < 0 || L->given[i]) return;
    L->bad[i] = 1; /* cross-field rules must not use the placeholder */
    sp__cfg_error(&L->x, name, NULL, "missing required key '%s'%s", name, why);
}

static void check_required(loader *L)
{
    const sp_config *const c = L->x.c;
    static const char *const always[] = {"scheduler_class", "batch_size", "flow_fields_per_batch"};
    static const char *const synthetic[] = {"batches_per_flow_batch", "image_shape", "flow_field_size",
                                            "resolution", "velocities_per_pixel", "min_speed_x",
                                            "max_speed_x", "min_speed_y", "max_speed_y", "output_units"};
    for (size_t i = 0; i < SP_ARRAY_LEN(always); i++) require(L, always[i], "");
    if (!c->include_images)
        for (size_t i = 0; i < SP_ARRAY_LEN(synthetic); i++)
            require(L, synthetic[i], " (needed to synthesise images, i.e. include_images: false)");
    if (ok_key(L, "scheduler_class") && L->given[IDX("scheduler_class")] && c->scheduler_class == SP_SOURCE_ANALYTIC)
        require(L, "analytic_flow", " (needed by scheduler_class: analytic)");
}

static void check_speeds(loader *L, const char *lo, const char *hi, double vlo, double vhi)
{
    if (!ok_key(L, lo) || !ok_key(L, hi) || vhi >= vlo) return;
    char a[32], b[32];
    sp__cfg_format_double(vhi, a, sizeof a);
    sp__cfg_format_double(vlo, b, sizeof b);
    sp__cfg_error(&L->x, hi, L->where[IDX(hi)], "%s: %s is less than %s (%s); expected %s >= %s", hi, a, lo, b,
                  hi, lo);
}

static int is_file_source(sp_source_kind k)
{
    return k == SP_SOURCE_MAT || k == SP_SOURCE_H5 || k == SP_SOURCE_NPY || k == SP_SOURCE_FLO;
}

static void check_source(loader *L)
{
    const sp_config *const c = L->x.c;
    if (!ok_key(L, "scheduler_class") || !L->given[IDX("scheduler_class")]) return;
    const char *const src = sp_source_kind_name(c->scheduler_class);
    if (c->include_images && ok_key(L, "include_images") && c->scheduler_class != SP_SOURCE_MAT)
        sp__cfg_error(&L->x, "include_images", L->where[IDX("include_images")],
                      "include_images: true is not supported with scheduler_class \"%s\"; real image "
                      "pairs are read from .mat files only", src);
    int const generated = c->scheduler_class == SP_SOURCE_KINEMATIC || c->scheduler_class == SP_SOURCE_ANALYTIC;
    if (generated && c->episode_length > 0 && ok_key(L, "episode_length"))
        sp__cfg_error(&L->x, "episode_length", L->where[IDX("episode_length")],
                      "episode_length: %d is not allowed with scheduler_class \"%s\"; expected 0",
                      c->episode_length, src);
    if (is_file_source(c->scheduler_class) && c->file_list_len == 0 && ok_key(L, "file_list"))
        sp__cfg_error(&L->x, "file_list", L->where[IDX("file_list")],
                      "file_list: is empty; scheduler_class \"%s\" needs at least one file or directory", src);
    if (c->scheduler_class != SP_SOURCE_ANALYTIC && L->given[IDX("analytic_flow")])
        sp__cfg_warn(&L->x, "analytic_flow", L->where[IDX("analytic_flow")],
                     "analytic_flow: ignored because scheduler_class is \"%s\", not \"analytic\"", src);
}

static void check_batching(loader *L)
{
    const sp_config *const c = L->x.c;
    int const b_ok = ok_key(L, "batch_size") && L->given[IDX("batch_size")];
    int const f_ok = ok_key(L, "flow_fields_per_batch") && L->given[IDX("flow_fields_per_batch")];
    if (b_ok && f_ok && c->flow_fields_per_batch > c->batch_size)
        sp__cfg_error(&L->x, "flow_fields_per_batch", L->where[IDX("flow_fields_per_batch")],
                      "flow_fields_per_batch: %d is out of range; expected an integer in [1, batch_size = %d]",
                      c->flow_fields_per_batch, c->batch_size);
    else if (b_ok && f_ok && c->batch_size % c->flow_fields_per_batch != 0)
        sp__cfg_warn(&L->x, "flow_fields_per_batch", L->where[IDX("flow_fields_per_batch")],
                     "flow_fields_per_batch: batch_size %d is not a multiple of %d; the first %d flow "
                     "fields of each batch get one extra image pair",
                     c->batch_size, c->flow_fields_per_batch, c->batch_size % c->flow_fields_per_batch);
    if (c->worker_count > 0 && c->episode_length > 0 && ok_key(L, "worker_count") && ok_key(L, "episode_length"))
        sp__cfg_error(&L->x, "worker_count", L->where[IDX("worker_count")],
                      "worker_count: %d is not allowed in episodic mode (episode_length %d); expected 0",
                      c->worker_count, c->episode_length);
    if (!c->include_images && c->episode_length > 0 && c->batches_per_flow_batch > 1 &&
        ok_key(L, "batches_per_flow_batch"))
        sp__cfg_warn(&L->x, "batches_per_flow_batch", L->where[IDX("batches_per_flow_batch")],
                     "batches_per_flow_batch: %d > 1 in episodic mode repeats each time step %d times",
                     c->batches_per_flow_batch, c->batches_per_flow_batch);
}

static void check_geometry(loader *L)
{
    const sp_config *const c = L->x.c;
    check_speeds(L, "min_speed_x", "max_speed_x", c->min_speed_x, c->max_speed_x);
    check_speeds(L, "min_speed_y", "max_speed_y", c->min_speed_y, c->max_speed_y);
    /* The output flow has (int(H * vpp), int(W * vpp)) points (docs/synthpix-compat.md,
     * Geometry). */
    if (!c->include_images && ok_key(L, "velocities_per_pixel") && ok_key(L, "image_shape") &&
        L->given[IDX("velocities_per_pixel")] &&
        ((double)c->image_shape[0] * c->velocities_per_pixel < 1.0 ||
         (double)c->image_shape[1] * c->velocities_per_pixel < 1.0 ||
         (double)c->image_shape[0] * c->velocities_per_pixel > 1e6 ||
         (double)c->image_shape[1] * c->velocities_per_pixel > 1e6)) {
        char v[32];
        sp__cfg_format_double(c->velocities_per_pixel, v, sizeof v);
        sp__cfg_error(&L->x, "velocities_per_pixel", L->where[IDX("velocities_per_pixel")],
                      "velocities_per_pixel: %s gives an output flow of (%.0f, %.0f) points for image_shape "
                      "[%zu, %zu]; expected between 1 and 1000000 points per side",
                      v, (double)c->image_shape[0] * c->velocities_per_pixel,
                      (double)c->image_shape[1] * c->velocities_per_pixel, c->image_shape[0], c->image_shape[1]);
    }
}

/* A key that has no effect in this configuration: a warning at its position. */
static void warn_unused(loader *L, const char *key, const char *why)
{
    if (L->given[IDX(key)] && !L->bad[IDX(key)])
        sp__cfg_warn(&L->x, key, L->where[IDX(key)], "%s: ignored %s", key, why);
}

/* The light sheet, out-of-plane motion, frames and scale mode (docs/realism.md). */
static void check_realism(loader *L)
{
    const sp_config *const c = L->x.c;
    if (ok_key(L, "sheet_profile") && c->sheet_profile != SP_SHEET_NONE && !c->include_images)
        require(L, "sheet_thickness",
                c->sheet_profile == SP_SHEET_GAUSSIAN ? " (needed by sheet_profile: gaussian)"
                                                      : " (needed by sheet_profile: tophat)");
    if (c->sheet_profile == SP_SHEET_NONE || c->include_images) {
        const char *const why = c->include_images ? "with include_images: true (real image pairs)"
                                                  : "without a light sheet (sheet_profile: none)";
        warn_unused(L, "sheet_thickness", why);
        warn_unused(L, "sheet_edge", why);
        warn_unused(L, "out_of_plane_range", why);
    } else if (c->sheet_profile == SP_SHEET_GAUSSIAN) {
        warn_unused(L, "sheet_edge", "with sheet_profile: gaussian (it sets the edges of the tophat profile)");
    }
    if (c->include_images) warn_unused(L, "over_exposure", "with include_images: true (real image pairs)");
    if (ok_key(L, "scheduler_class") && c->scheduler_class != SP_SOURCE_KINEMATIC)
        warn_unused(L, "scale_mode",
                    "unless scheduler_class is \"kinematic\" (analytic_flow entries of kind kinematic take "
                    "their own scale_mode)");
    if (c->include_images && c->frames != 2 && ok_key(L, "frames") && L->given[IDX("frames")])
        sp__cfg_error(&L->x, "frames", L->where[IDX("frames")],
                      "frames: %d is not supported with include_images: true; real image pairs have 2 frames",
                      c->frames);
}

/* The geometry a synthetic configuration implies must exist (config_geometry.c): every
 * geometry error is reported with the position of the key it names. Runs when the keys it
 * reads are all valid, so it never repeats a key's own error. */
static void check_canvas(loader *L)
{
    static const char *const keys[] = {"image_shape", "flow_field_size", "resolution", "img_offset", "dt", "frames",
                                       "velocities_per_pixel", "min_speed_x", "max_speed_x", "min_speed_y",
                                       "max_speed_y", "diameter_ranges", "seeding_density_range"};
    sp_config *const c = L->x.c;
    if (c->include_images) return;
    for (size_t i = 0; i < SP_ARRAY_LEN(keys); i++)
        if (!ok_key(L, keys[i])) return;
    sp_diag d;
    sp_diag_init(&d);
    sp_geometry g;
    sp__geometry_check(c, &g, &d);
    for (size_t i = 0; i < d.count; i++) {
        int const k = IDX(d.items[i].key);
        sp__cfg_error(&L->x, d.items[i].key, k >= 0 ? L->where[k] : NULL, "%s", d.items[i].message);
    }
    sp_diag_free(&d);
}

/* ---- paths ---- */

static int is_absolute_or_uri(const char *p)
{
    return p[0] == '/' || strstr(p, "://") != NULL;
}

static char *join_path(loader *L, const char *base, const char *p)
{
    size_t const lb = strlen(base), lp = strlen(p);
    char *const out = (char *)malloc(lb + lp + 2);
    if (out == NULL) {
        L->x.nomem = 1;
        return NULL;
    }
    memcpy(out, base, lb);
    size_t k = lb;
    if (k == 0 || out[k - 1] != '/') out[k++] = '/';
    memcpy(out + k, p, lp + 1);
    return out;
}

static void resolve_one(loader *L, char **p, const char *base)
{
    if (*p == NULL || is_absolute_or_uri(*p) || (*p)[0] == '\0') return;
    char *const j = join_path(L, base, *p);
    if (j == NULL) return;
    free(*p);
    *p = j;
}

/* base_dir relative -> made absolute with the current directory, so that the resolved paths
 * (and a configuration written from them) do not depend on where it is loaded again. */
static void resolve_paths(loader *L, const char *base_dir)
{
    if (base_dir == NULL || base_dir[0] == '\0') return;
    char *abs = NULL;
    if (base_dir[0] != '/') {
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd) == NULL) return;
        abs = join_path(L, cwd, base_dir);
        if (abs == NULL) return;
    }
    const char *const base = abs ? abs : base_dir;
    sp_config *const c = L->x.c;
    for (size_t i = 0; i < c->file_list_len; i++) resolve_one(L, &c->file_list[i], base);
    resolve_one(L, &c->mask, base);
    resolve_one(L, &c->histogram, base);
    free(abs);
}

/* ---- entry points ---- */

static void finish(loader *L)
{
    sp_config *const c = L->x.c;
    if (!L->given[IDX("analytic_num_examples")]) c->analytic_num_examples = c->n_analytic;
    memset(c->present_mask_, 0, sizeof c->present_mask_);
    for (size_t i = 0; i < NKEYS; i++)
        if (L->given[i]) c->present_mask_[i / 32] |= 1u << (i % 32);
}

sp_status sp_config_load_string(sp_config *c, const char *yaml, size_t len, const char *name,
                                const char *base_dir, sp_diag *d)
{
    sp_config_init(c);
    sp__cfg_node *root = NULL;
    sp_status const ps = sp__cfg_parse(yaml ? yaml : "", yaml ? len : 0, &root, d);
    if (ps != SP_OK) return ps;
    loader *const L = (loader *)calloc(1, sizeof *L);
    if (L == NULL) {
        sp__cfg_node_free(root);
        return SP_ERR_NOMEM;
    }
    L->x.c = c;
    L->x.d = d;
    load_mapping(L, root);
    if (root != NULL && root->type == SP_CFG_MAP) {
        check_required(L);
        check_source(L);
        check_batching(L);
        check_geometry(L);
        check_realism(L);
        if (L->x.errors == 0) check_canvas(L);
        resolve_paths(L, base_dir);
    }
    finish(L);
    c->source_name = name ? dup_or_flag(L, name) : NULL;
    sp_status const st = L->x.nomem ? SP_ERR_NOMEM : L->x.errors ? SP_ERR_CONFIG : SP_OK;
    free(L);
    sp__cfg_node_free(root);
    if (st != SP_OK) sp_config_free(c);
    return st;
}

static sp_status file_error(sp_diag *d, sp_status s, const char *path, const char *what)
{
    sp__diag_add(d, SP_DIAG_ERROR, "", 0, 0, "%s: %s", path, what);
    return s;
}

/* Reads at most SP_CFG_MAX_FILE_BYTES; a configuration is a few kilobytes. */
static sp_status read_text(const char *path, char **out, size_t *len, sp_diag *d)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return file_error(d, errno == ENOENT ? SP_ERR_NOTFOUND : SP_ERR_IO, path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return file_error(d, SP_ERR_IO, path, "not a regular file");
    if (st.st_size > (off_t)SP_CFG_MAX_FILE_BYTES)
        return file_error(d, SP_ERR_CONFIG, path, "larger than 16 MiB; not a configuration file");
    FILE *const f = fopen(path, "rb");
    if (f == NULL) return file_error(d, errno == ENOENT ? SP_ERR_NOTFOUND : SP_ERR_IO, path, strerror(errno));
    char *const buf = (char *)malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        fclose(f);
        return SP_ERR_NOMEM;
    }
    size_t const got = fread(buf, 1, (size_t)st.st_size, f);
    int const bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return file_error(d, SP_ERR_IO, path, "read error");
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return SP_OK;
}

sp_status sp_config_load_file(sp_config *c, const char *path, sp_diag *d)
{
    sp_config_init(c);
    char *text = NULL;
    size_t len = 0;
    SP_TRY(read_text(path, &text, &len, d));
    char *const dir = (char *)malloc(strlen(path) + 2);
    if (dir == NULL) {
        free(text);
        return SP_ERR_NOMEM;
    }
    strcpy(dir, path);
    char *const slash = strrchr(dir, '/');
    if (slash == NULL) strcpy(dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    sp_status const st = sp_config_load_string(c, text, len, path, dir, d);
    free(dir);
    free(text);
    return st;
}

sp_status sp_config_load_default(sp_config *c, sp_diag *d)
{
    const char *const y = sp_config_default_yaml();
    return sp_config_load_string(c, y, strlen(y), "<embedded default>", NULL, d);
}
