/* source.c: flow records. A source has n records, each loadable on its own (and from any
 * thread) by index:
 *   analytic   record i = analytic_flow[i mod count] with its per-record ranges drawn for
 *              (seed, i) (sp_analytic_draw), with channel 2 = w when the entry has one
 *              (docs/realism.md), on grid `grid` or, when absent,
 *              round(flow_field_size * resolution) (one grid cell per camera pixel);
 *              name "analytic://KIND/i". analytic_num_examples records per epoch. Entries
 *              that do not depend on the record (no ranges, not kinematic) are computed
 *              once at creation (up to 512 MiB) and copied at each load.
 *   kinematic  record i = the random smooth flow (docs/flows.md) of (seed, i) on an
 *              image_shape grid; name "kinematic://i"; num_examples records.
 *   files      file_list entries: files as given; directories expanded recursively and
 *              sorted (docs/synthpix-compat.md, Directory globs: *.mat and *.h5 at any
 *              depth, flow_*.npy in the directory itself, and *.flo at any depth for our
 *              .flo class). One record
 *              per file, read by extension (.npy, .flo; .mat and .h5 through the matio_h5
 *              module: docs/real-data.md).
 * Every loaded flow is checked for NaN or infinite values; the error names the file and
 * the first bad position.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sp_fsutil.h"
#include "sp_internal.h"
#include "sp/sp_sampler.h"
#include "loader_internal.h"
#include "sp/sp_io.h"
#include "sp/sp_matio_h5.h"

struct sp_source {
    sp_source_kind kind;
    uint64_t count;
    char **names; /* files: count paths; built-in records are named on demand */
    sp_config cfg; /* copy (analytic parameters, geometry for grids, seed) */
    uint64_t fingerprint; /* sp__source_fingerprint, computed at creation */
    sp_flow *fixed; /* analytic: entry e precomputed when it does not depend on the record
                       (every kind but kinematic); read-only after creation */
    int map_mode;   /* sp__source_set_mapping: SP_FLOW_FILES_* */
};

/* Flow files mapped under SP_FLOW_FILES_AUTO: at least this big. Measured (bench/run.sh's
 * configurations, interleaved runs of bench): a 512 KB .flo per pair (cylinder) 1-3 %
 * slower mapped on 1 and 2 threads (mmap, the faults and munmap cost more than read()'s
 * copy at that size), an 8 MB .npy (main) 1-3 % faster on 1 thread and 3-4 % on 2, an
 * 18.8 MB one (large_npy) 14-22 % faster on 1 thread and 37-43 % on 2. */
#define SP_SOURCE_MAP_MIN_BYTES ((size_t)4 << 20)

/* Precomputed analytic flows may use at most this much memory; beyond, they are computed
 * at every load as before. */
#define SP_SOURCE_FIXED_BYTES ((size_t)512 << 20)

#define SP_SOURCE_MAX_FILES (1u << 26)
/* Largest .npy/.flo flow file read: 16 GiB (a 100000 x 100000 .flo is 80 GB and refused). */
#define SP_SOURCE_MAX_FILE_BYTES ((size_t)1 << 34)

typedef struct path_list {
    char **items;
    size_t count, capacity;
} path_list;

static sp_status list_push(path_list *l, const char *path, sp_error *err)
{
    if (l->count == l->capacity) {
        size_t const cap = l->capacity ? l->capacity * 2 : 64;
        char **const p = (char **)realloc(l->items, cap * sizeof *p);
        SP_RETURN_IF(p == NULL || cap > SP_SOURCE_MAX_FILES, err, SP_ERR_NOMEM, "too many flow files");
        l->items = p;
        l->capacity = cap;
    }
    l->items[l->count] = strdup(path);
    SP_RETURN_IF(l->items[l->count] == NULL, err, SP_ERR_NOMEM, "out of memory");
    l->count++;
    return SP_OK;
}

static void list_free(path_list *l)
{
    for (size_t i = 0; i < l->count; i++) free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What a directory in file_list contributes, per source class (docs/configuration.md,
 * "Flow sources"): the pattern, where it is searched, and the extension of the files a user
 * may have meant (counted when they do not match, to say so in the error). */
typedef struct class_glob {
    const char *pattern;
    const char *where;
    const char *ext;
} class_glob;

static class_glob glob_of(sp_source_kind k)
{
    switch (k) {
    case SP_SOURCE_MAT: return (class_glob){"*.mat", "at any depth", ".mat"};
    case SP_SOURCE_H5: return (class_glob){"*.h5", "at any depth", ".h5"};
    case SP_SOURCE_NPY: return (class_glob){"flow_*.npy", "in the directory itself, not below", ".npy"};
    case SP_SOURCE_FLO: return (class_glob){"*.flo", "at any depth", ".flo"};
    case SP_SOURCE_KINEMATIC:
    case SP_SOURCE_ANALYTIC: break;
    }
    return (class_glob){"", "", ""};
}

/* Files of the class's extension that the pattern skipped. */
typedef struct near_miss {
    size_t count;
    char example[4096];
} near_miss;

/* Does a file found inside a directory belong to this source class? */
static int matches_class(sp_source_kind k, const char *base, int depth)
{
    if (k == SP_SOURCE_NPY && depth > 0) return 0;
    class_glob const g = glob_of(k);
    return g.pattern[0] && fnmatch(g.pattern, base, 0) == 0;
}

static void note_miss(sp_source_kind k, const char *base, const char *path, near_miss *m)
{
    size_t const n = strlen(base), e = strlen(glob_of(k).ext);
    if (e == 0 || n < e || strcmp(base + n - e, glob_of(k).ext) != 0) return;
    if (m->count++ == 0) snprintf(m->example, sizeof m->example, "%s", path);
}

static sp_status walk_dir(sp_source_kind k, const char *dir, int depth, path_list *out, near_miss *m, sp_error *err)
{
    SP_RETURN_IF(depth > 64, err, SP_ERR_RANGE, "%s: directories nested too deeply", dir);
    DIR *const d = opendir(dir);
    SP_RETURN_IF(d == NULL, err, SP_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    sp_status st = SP_OK;
    struct dirent *e;
    char path[4096];
    size_t const dl = strlen(dir);
    const char *const sep = dl > 0 && dir[dl - 1] == '/' ? "" : "/"; /* "flows/" + "a.mat", no "//" */
    while (st == SP_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if ((size_t)snprintf(path, sizeof path, "%s%s%s", dir, sep, e->d_name) >= sizeof path) continue;
        struct stat sb;
        if (stat(path, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode) && depth < 64 && (k != SP_SOURCE_NPY || depth == 0)) {
            /* .npy: subdirectories are only looked into to count near misses */
            if (k != SP_SOURCE_NPY) st = walk_dir(k, path, depth + 1, out, m, err);
            else st = walk_dir(k, path, depth + 1, NULL, m, err);
        } else if (S_ISREG(sb.st_mode) && out && matches_class(k, e->d_name, depth)) {
            st = list_push(out, path, err);
        } else if (S_ISREG(sb.st_mode)) {
            note_miss(k, e->d_name, path, m);
        }
    }
    closedir(d);
    return st;
}

static sp_status nothing_found(const sp_config *c, const near_miss *m, sp_error *err)
{
    class_glob const g = glob_of(c->scheduler_class);
    const char *const kind = sp_source_kind_name(c->scheduler_class);
    size_t const n = c->file_list_len;
    if (m->count == 0)
        return sp_error_set(err, SP_ERR_NOTFOUND,
                            "file_list: no %s files found in %zu entr%s (directories are searched for %s %s)", kind, n,
                            n == 1 ? "y" : "ies", g.pattern, g.where);
    return sp_error_set(err, SP_ERR_NOTFOUND,
                        "file_list: no %s files found in %zu entr%s: directories are searched for %s %s, and %zu "
                        "other %s file%s did not match (e.g. %s); rename them to match or list them in file_list",
                        kind, n, n == 1 ? "y" : "ies", g.pattern, g.where, m->count, g.ext, m->count == 1 ? "" : "s",
                        m->example);
}

static sp_status expand_file_list(const sp_config *c, path_list *out, sp_error *err)
{
    near_miss miss;
    memset(&miss, 0, sizeof miss);
    for (size_t i = 0; i < c->file_list_len; i++) {
        const char *const entry = c->file_list[i];
        struct stat sb;
        SP_RETURN_IF(stat(entry, &sb) != 0, err, SP_ERR_NOTFOUND, "file_list: %s: %s", entry, strerror(errno));
        if (S_ISDIR(sb.st_mode)) {
            size_t const before = out->count;
            SP_TRY(walk_dir(c->scheduler_class, entry, 0, out, &miss, err));
            if (out->count > before) qsort(out->items + before, out->count - before, sizeof *out->items, cmp_str);
        } else {
            SP_TRY(list_push(out, entry, err));
        }
    }
    return out->count == 0 ? nothing_found(c, &miss, err) : SP_OK;
}

static sp_status check_builtin_count(const sp_source *s, sp_error *err)
{
    SP_RETURN_IF(s->count > SP_SOURCE_MAX_FILES, err, SP_ERR_CONFIG, "%s: %llu records; at most %u are supported",
                 s->kind == SP_SOURCE_KINEMATIC ? "num_examples" : "analytic_num_examples",
                 (unsigned long long)s->count, SP_SOURCE_MAX_FILES);
    return SP_OK;
}

int sp__source_is_builtin(const sp_source *s)
{
    return s->kind == SP_SOURCE_ANALYTIC || s->kind == SP_SOURCE_KINEMATIC;
}

/* "kinematic://i" or "analytic://KIND/i" into buf (SP_SOURCE_NAME_MAX bytes: the longest
 * kind name and 20 digits fit). Hand-formatted: the fingerprint names every record. */
static const char *builtin_name(const sp_source *s, uint64_t i, char *buf)
{
    const char *const kind = s->kind == SP_SOURCE_KINEMATIC ? NULL
                                                            : sp_analytic_kind_name(s->cfg.analytic[i % s->cfg.n_analytic].kind);
    char *p = buf;
    const char *const head = kind ? "analytic://" : "kinematic://";
    for (const char *c = head; *c; c++) *p++ = *c;
    for (const char *c = kind; c && *c && p < buf + SP_SOURCE_NAME_MAX - 22; c++) *p++ = *c;
    if (kind) *p++ = '/';
    char digits[21];
    int nd = 0;
    do {
        digits[nd++] = (char)('0' + i % 10);
        i /= 10;
    } while (i);
    while (nd) *p++ = digits[--nd];
    *p = '\0';
    return buf;
}

const char *sp__source_name(const sp_source *s, uint64_t i, char *buf)
{
    if (i >= s->count) return "";
    return s->names ? s->names[i] : builtin_name(s, i, buf);
}

/* The terminating NUL is hashed too, so name boundaries count. */
static uint64_t compute_fingerprint(const sp_source *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 offset basis */
    char buf[SP_SOURCE_NAME_MAX];
    for (uint64_t i = 0; i < s->count; i++) {
        for (const unsigned char *c = (const unsigned char *)sp__source_name(s, i, buf);; c++) {
            h = (h ^ *c) * 0x100000001b3ull;
            if (*c == 0) break;
        }
    }
    for (int b = 0; b < 8; b++) h = (h ^ ((s->count >> (8 * b)) & 0xffu)) * 0x100000001b3ull;
    return h;
}

uint64_t sp__source_fingerprint(const sp_source *s)
{
    return s->fingerprint;
}

static sp_status precompute_fixed(sp_source *s, sp_error *err);

sp_status sp__source_create(sp_source **out, const sp_config *cfg, sp_error *err)
{
    *out = NULL;
    sp_source *const s = (sp_source *)calloc(1, sizeof *s);
    SP_RETURN_IF(s == NULL, err, SP_ERR_NOMEM, "out of memory");
    sp_status st = sp_config_copy(&s->cfg, cfg, err);
    s->kind = cfg->scheduler_class;
    if (st == SP_OK && s->kind == SP_SOURCE_ANALYTIC) {
        s->count = cfg->analytic_num_examples ? cfg->analytic_num_examples : cfg->n_analytic;
        if (cfg->n_analytic == 0) st = sp_error_set(err, SP_ERR_CONFIG, "analytic_flow: at least one flow is required");
        if (st == SP_OK) st = check_builtin_count(s, err);
        if (st == SP_OK) st = precompute_fixed(s, err);
    } else if (st == SP_OK && s->kind == SP_SOURCE_KINEMATIC) {
        s->count = cfg->num_examples;
        st = check_builtin_count(s, err);
    } else if (st == SP_OK) {
        path_list l = {0};
        st = expand_file_list(cfg, &l, err);
        s->names = l.items;
        s->count = l.count;
        if (st != SP_OK) list_free(&l), s->names = NULL, s->count = 0;
    }
    if (st != SP_OK) {
        sp__source_free(s);
        return st;
    }
    s->fingerprint = compute_fingerprint(s);
    *out = s;
    return SP_OK;
}

void sp__source_free(sp_source *s)
{
    if (s == NULL) return;
    if (s->names) {
        for (uint64_t i = 0; i < s->count; i++) free(s->names[i]);
        free(s->names);
    }
    for (size_t e = 0; s->fixed && e < s->cfg.n_analytic; e++) sp_flow_release(&s->fixed[e]);
    free(s->fixed);
    sp_config_free(&s->cfg);
    free(s);
}

uint64_t sp__source_count(const sp_source *s)
{
    return s->count;
}


/* The analytic parameters and grid of record i. */
static void analytic_record(const sp_source *s, uint64_t i, sp_analytic_params *p, size_t *h, size_t *w)
{
    const sp_config *const c = &s->cfg;
    if (s->kind == SP_SOURCE_KINEMATIC) {
        sp_analytic_params_init(p, SP_FLOW_KINEMATIC);
        p->filter_sigma_range[0] = c->filter_sigma_range.min;
        p->filter_sigma_range[1] = c->filter_sigma_range.max;
        p->max_displacement_range[0] = c->max_displacement_range.min;
        p->max_displacement_range[1] = c->max_displacement_range.max;
        p->scale_mode = c->scale_mode;
        *h = c->image_shape[0];
        *w = c->image_shape[1];
        return;
    }
    sp_analytic_draw(&c->analytic[i % c->n_analytic], (uint32_t)c->seed, i, p); /* per-record ranges */
    *h = p->grid[0] ? p->grid[0] : (size_t)llround(c->flow_field_size[0] * c->resolution);
    *w = p->grid[1] ? p->grid[1] : (size_t)llround(c->flow_field_size[1] * c->resolution);
    if (*h < 2) *h = 2;
    if (*w < 2) *w = 2;
}

/* out's storage holds h x w x c floats (reused when *cap suffices); the shape is set. */
static sp_status shape_flow(sp_flow *out, size_t *cap, size_t h, size_t w, size_t c, sp_error *err)
{
    size_t const n = h * w * c;
    if (out->data == NULL || *cap < n) {
        float *const d = (float *)realloc(out->data, (n ? n : 1) * sizeof(float));
        SP_RETURN_IF(d == NULL, err, SP_ERR_NOMEM, "out of memory for a %zux%zu flow", h, w);
        out->data = d;
        *cap = n;
    }
    out->height = h, out->width = w, out->channels = c;
    return SP_OK;
}

static sp_status compute_analytic(const sp_source *s, uint64_t i, sp_flow *out, size_t *cap, sp_error *err)
{
    const sp_config *const c = &s->cfg;
    sp_analytic_params p;
    size_t h, w;
    analytic_record(s, i, &p, &h, &w);
    /* An entry with an out-of-plane velocity gets channel 2 (docs/realism.md). */
    size_t const channels = s->kind == SP_SOURCE_ANALYTIC && sp_analytic_has_w(&c->analytic[i % c->n_analytic]) ? 3 : 2;
    SP_TRY(shape_flow(out, cap, h, w, channels, err));
    sp_status const st = sp_analytic_fill(&p, c->flow_field_size[0], c->flow_field_size[1], (uint32_t)c->seed, i, out, err);
    char name[SP_SOURCE_NAME_MAX];
    return st == SP_OK ? SP_OK : sp_error_prefix(err, "%s: ", sp__source_name(s, i, name));
}

static sp_status load_analytic(const sp_source *s, uint64_t i, sp_flow *out, size_t *cap, sp_error *err)
{
    const sp_flow *const f = s->fixed ? &s->fixed[i % s->cfg.n_analytic] : NULL;
    if (f == NULL || f->data == NULL) return compute_analytic(s, i, out, cap, err);
    SP_TRY(shape_flow(out, cap, f->height, f->width, f->channels, err));
    memcpy(out->data, f->data, f->height * f->width * f->channels * sizeof(float));
    return SP_OK;
}

/* Computes once the analytic entries that do not depend on the record (all kinds but
 * kinematic), within SP_SOURCE_FIXED_BYTES. Entry e is record e's flow (e < n_analytic). */
static sp_status precompute_fixed(sp_source *s, sp_error *err)
{
    size_t const n = s->cfg.n_analytic;
    size_t bytes = 0;
    for (size_t e = 0; e < n && e < s->count; e++) {
        sp_analytic_params p;
        size_t h, w;
        analytic_record(s, e, &p, &h, &w);
        if (p.kind != SP_FLOW_KINEMATIC && s->cfg.analytic[e].random == 0)
            bytes += h * w * (sp_analytic_has_w(&s->cfg.analytic[e]) ? 3 : 2) * sizeof(float);
    }
    if (bytes == 0 || bytes > SP_SOURCE_FIXED_BYTES || n > s->count) return SP_OK;
    s->fixed = (sp_flow *)calloc(n, sizeof *s->fixed);
    SP_RETURN_IF(s->fixed == NULL, err, SP_ERR_NOMEM, "out of memory");
    for (size_t e = 0; e < n; e++) {
        if (s->cfg.analytic[e].kind == SP_FLOW_KINEMATIC || s->cfg.analytic[e].random) continue;
        size_t cap = 0;
        sp_status const st = compute_analytic(s, e, &s->fixed[e], &cap, err);
        if (st != SP_OK) sp_flow_release(&s->fixed[e]);
        SP_TRY(st);
    }
    return SP_OK;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t const n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* .mat and .h5 readers return a fresh flow: it replaces out's storage. */
static void adopt(sp_flow *out, size_t *cap, sp_flow *fresh)
{
    sp_flow_release(out);
    *out = *fresh;
    *cap = fresh->height * fresh->width * fresh->channels;
}

void sp__source_set_mapping(sp_source *s, int mode)
{
    s->map_mode = mode;
}

void sp__mapping_drop(sp_flow *out, sp_flow_mapping *mp)
{
    if (mp == NULL || mp->map.base == NULL) return;
    out->height = out->width = out->channels = 0; /* the owned storage holds no flow yet */
    out->data = mp->owned;
    mp->owned = NULL;
    mp->unchecked = 0;
    sp__fmap_release(&mp->map);
}

/* A host-layout .npy or .flo file mapped (src/internal/sp_flowmap.h): out points into the
 * mapping, its own storage is kept in mp->owned, and the values are left to the caller's
 * check. *mapped = 0: not this layout, read the file. */
static sp_status map_file(const char *path, int npy, size_t min_len, sp_flow *out, sp_membuf *file,
                          sp_flow_mapping *mp, int *mapped, sp_error *err)
{
    sp_flow f = *out;
    SP_TRY((npy ? sp__npy_map_flow : sp__flo_map_flow)(path, SP_SOURCE_MAX_FILE_BYTES, min_len, &f, file, &mp->map,
                                                      mapped, err));
    if (!*mapped) return SP_OK;
    mp->owned = out->data;
    mp->unchecked = 1;
    *out = f;
    return SP_OK;
}

static sp_status load_file(const sp_source *s, uint64_t i, sp_flow *out, size_t *cap, sp_membuf *file,
                           sp_flow_mapping *mp, int *nonfinite, sp_error *err)
{
    const char *const path = s->names[i];
    int const npy = has_suffix(path, ".npy"), flo = has_suffix(path, ".flo");
    if ((npy || flo) && mp != NULL && s->map_mode != SP_FLOW_FILES_READ) {
        int mapped = 0;
        size_t const min_len = s->map_mode == SP_FLOW_FILES_MAP ? 0 : SP_SOURCE_MAP_MIN_BYTES;
        SP_TRY(map_file(path, npy, min_len, out, file, mp, &mapped, err));
        if (mapped) return SP_OK;
    }
    if (npy) return sp_npy_read_flow_into(path, SP_SOURCE_MAX_FILE_BYTES, out, cap, file, nonfinite, err);
    if (flo) return sp_flo_read_flow_into(path, SP_SOURCE_MAX_FILE_BYTES, out, cap, file, nonfinite, err);
    sp_flow fresh;
    memset(&fresh, 0, sizeof fresh);
    sp_status st = SP_ERR_UNSUPPORTED;
    if (has_suffix(path, ".mat")) st = sp_mat_read_flow(path, 0, &fresh, NULL, NULL, NULL, NULL, err);
    else if (has_suffix(path, ".h5")) st = sp_h5_read_flow(path, &fresh, err);
    else return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: no reader for this file type in this build", path);
    SP_TRY(st);
    adopt(out, cap, &fresh);
    size_t bi, bj, bc;
    *nonfinite = sp_flow_find_nonfinite(out, &bi, &bj, &bc);
    return SP_OK;
}

sp_status sp__source_load(const sp_source *s, uint64_t i, sp_flow *out, size_t *cap, sp_membuf *file,
                          sp_flow_mapping *mp, sp_error *err)
{
    sp__mapping_drop(out, mp); /* the storage is being reused: the last record's file goes */
    SP_RETURN_IF(i >= s->count, err, SP_ERR_RANGE, "record %llu out of range", (unsigned long long)i);
    if (s->kind == SP_SOURCE_ANALYTIC || s->kind == SP_SOURCE_KINEMATIC) return load_analytic(s, i, out, cap, err);
    int nonfinite = 0;
    SP_TRY(load_file(s, i, out, cap, file, mp, &nonfinite, err));
    size_t bi, bj, bc;
    if (nonfinite && sp_flow_find_nonfinite(out, &bi, &bj, &bc)) /* the error path only: where */
        return sp_error_set(err, SP_ERR_CORRUPT, "%s: non-finite flow value at (row %zu, column %zu, channel %zu)",
                            s->names[i], bi, bj, bc);
    return SP_OK;
}
