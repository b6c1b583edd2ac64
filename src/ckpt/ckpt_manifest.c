/* ckpt_manifest.c: the JSON documents of a checkpoint (all written and parsed with jansson).
 *
 * _MANIFEST (one per step, written last, the checksum authority):
 *   {"commit_timestamp_nsecs":N,"crc32c":"xxxxxxxx","files":[{"crc32c":"xxxxxxxx",
 *    "path":"a/b/.zarray","size":N},...],"format":"synthpix-ckpt-manifest",
 *    "init_timestamp_nsecs":N,"items":["a",...],"metrics":{"loss":1.5},"step":N,"version":1}
 *   The file is exactly json_dumps(obj, JSON_COMPACT|JSON_SORT_KEYS) + "\n", and "crc32c" is
 *   the CRC32C of the same dump without the "crc32c" key. The parser re-dumps what it read
 *   and compares bytes, so any flipped, added or removed byte is detected even where JSON
 *   would still parse. File paths must be relative, without "." or ".." components, and
 *   unique; sizes must fit in 63 bits; metrics must be finite numbers.
 * _TREE_METADATA: {"format":"synthpix-ckpt-tree","version":1,"leaves":[{"path":..,
 *   "kind":"array"|"i64"|"f64"|"string"|"json", "dtype":"float32","shape":[..]} | "value":..
 *   | "bits":"<16 hex digits of the IEEE double>"]}. Paths follow the tree rules.
 * _CHECKPOINT_METADATA: format, version, writer, step, init/commit timestamps (ns),
 *   item_handlers {item: kind}, metrics, custom_metadata (a JSON object).
 * _ROOT_METADATA: format, version, step_prefix (string or null), step_format_fixed_length.
 * Every parser treats its input as hostile: unknown major versions are refused, sizes are
 * bounded, and a wrong type anywhere is SP_ERR_CORRUPT naming the key.
 */
#include "ckpt_internal.h"

#include <jansson.h>
#include <math.h>

#define MF_FORMAT "synthpix-ckpt-manifest"
#define TREE_FORMAT "synthpix-ckpt-tree"
#define STEP_FORMAT "synthpix-ckpt"
#define ROOT_FORMAT "synthpix-ckpt-root"

static const size_t max_files = 1u << 24;

sp_status sp__manifest_add(sp__manifest *mf, const char *path, uint64_t size, uint32_t crc)
{
    if (mf->n_files == mf->cap_files) {
        size_t const cap = mf->cap_files ? mf->cap_files * 2 : 16;
        sp__mfile *const f = (sp__mfile *)realloc(mf->files, cap * sizeof *f);
        if (f == NULL) return SP_ERR_NOMEM;
        mf->files = f;
        mf->cap_files = cap;
    }
    char *const p = strdup(path);
    if (p == NULL) return SP_ERR_NOMEM;
    sp__mfile const e = {p, size, crc, 0};
    mf->files[mf->n_files++] = e;
    return SP_OK;
}

void sp__manifest_free(sp__manifest *mf)
{
    for (size_t i = 0; i < mf->n_files; i++) free(mf->files[i].path);
    for (size_t i = 0; i < mf->n_metrics; i++) free(mf->metrics[i].name);
    for (size_t i = 0; i < mf->n_items; i++) free(mf->items[i]);
    free(mf->files);
    free(mf->metrics);
    free(mf->items);
    memset(mf, 0, sizeof *mf);
}

static int cmp_mfile(const void *a, const void *b)
{
    return strcmp(((const sp__mfile *)a)->path, ((const sp__mfile *)b)->path);
}

sp__mfile *sp__manifest_find(sp__manifest *mf, const char *path)
{
    sp__mfile key;
    key.path = (char *)(uintptr_t)path; /* bsearch key only; never written */
    return (sp__mfile *)bsearch(&key, mf->files, mf->n_files, sizeof key, cmp_mfile);
}

const sp__metric *sp__manifest_metric(const sp__manifest *mf, const char *name)
{
    for (size_t i = 0; name && i < mf->n_metrics; i++)
        if (strcmp(mf->metrics[i].name, name) == 0) return &mf->metrics[i];
    return NULL;
}

static json_t *metrics_json(const sp__metric *m, size_t n)
{
    json_t *const o = json_object();
    for (size_t i = 0; i < n; i++) json_object_set_new(o, m[i].name, json_real(m[i].value));
    return o;
}

static json_t *manifest_body(const sp__manifest *mf)
{
    json_t *const o = json_object();
    json_object_set_new(o, "format", json_string(MF_FORMAT));
    json_object_set_new(o, "version", json_integer(SP_CKPT_FORMAT_VERSION));
    json_object_set_new(o, "step", json_integer(mf->step));
    json_object_set_new(o, "init_timestamp_nsecs", json_integer(mf->init_ns));
    json_object_set_new(o, "commit_timestamp_nsecs", json_integer(mf->commit_ns));
    json_t *const items = json_array();
    for (size_t i = 0; i < mf->n_items; i++) json_array_append_new(items, json_string(mf->items[i]));
    json_object_set_new(o, "items", items);
    json_object_set_new(o, "metrics", metrics_json(mf->metrics, mf->n_metrics));
    json_t *const files = json_array();
    for (size_t i = 0; i < mf->n_files; i++) {
        char hex[9];
        snprintf(hex, sizeof hex, "%08x", mf->files[i].crc);
        json_t *const f = json_object();
        json_object_set_new(f, "path", json_string(mf->files[i].path));
        json_object_set_new(f, "size", json_integer((json_int_t)mf->files[i].size));
        json_object_set_new(f, "crc32c", json_string(hex));
        json_array_append_new(files, f);
    }
    json_object_set_new(o, "files", files);
    return o;
}

/* Dumps o canonically with a trailing newline; NULL on NOMEM. */
static char *dump_canonical(json_t *o, size_t *len)
{
    char *const s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    if (s == NULL) return NULL;
    size_t const n = strlen(s);
    char *const out = (char *)realloc(s, n + 2);
    if (out == NULL) {
        free(s);
        return NULL;
    }
    out[n] = '\n';
    out[n + 1] = 0;
    *len = n + 1;
    return out;
}

static uint32_t body_crc(json_t *o, int *ok)
{
    size_t n = 0;
    char *const s = dump_canonical(o, &n);
    *ok = s != NULL;
    uint32_t const c = s ? sp_crc32c(0, s, n) : 0;
    free(s);
    return c;
}

char *sp__manifest_dump(const sp__manifest *mf, size_t *len)
{
    json_t *const o = manifest_body(mf);
    int ok = 0;
    uint32_t const crc = body_crc(o, &ok);
    char hex[9];
    snprintf(hex, sizeof hex, "%08x", crc);
    json_object_set_new(o, "crc32c", json_string(hex));
    char *const s = ok ? dump_canonical(o, len) : NULL;
    json_decref(o);
    return s;
}

static int parse_hex32(const char *s, uint32_t *out)
{
    if (s == NULL || strlen(s) != 8) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char const c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else return 0;
        v = (v << 4) | d;
    }
    *out = v;
    return 1;
}

static int rel_path_ok(const char *p)
{
    if (p[0] == 0 || p[0] == '/' || strlen(p) > 1024) return 0;
    const char *c = p;
    while (*c) {
        const char *const start = c;
        while (*c && *c != '/') {
            if ((unsigned char)*c < 0x20 || *c == '\\') return 0;
            c++;
        }
        size_t const n = (size_t)(c - start);
        if (n == 0 || (n == 1 && start[0] == '.') || (n == 2 && start[0] == '.' && start[1] == '.'))
            return 0;
        if (*c == '/') c++;
    }
    return c[-1] != '/';
}

static sp_status get_int(json_t *o, const char *key, int64_t lo, int64_t *out, sp_error *err)
{
    json_t *const v = json_object_get(o, key);
    SP_RETURN_IF(!json_is_integer(v) || json_integer_value(v) < lo, err, SP_ERR_CORRUPT,
                 "'%s' is missing or not an integer >= %lld", key, (long long)lo);
    *out = (int64_t)json_integer_value(v);
    return SP_OK;
}

static sp_status parse_metrics(json_t *o, sp__metric **out, size_t *n, sp_error *err)
{
    *out = NULL;
    *n = 0;
    if (o == NULL) return SP_OK;
    SP_RETURN_IF(!json_is_object(o), err, SP_ERR_CORRUPT, "'metrics' is not an object");
    size_t const cnt = json_object_size(o);
    SP_RETURN_IF(cnt > 4096, err, SP_ERR_CORRUPT, "too many metrics");
    if (cnt == 0) return SP_OK;
    sp__metric *const m = (sp__metric *)calloc(cnt, sizeof *m);
    if (m == NULL) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    *out = m;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        SP_RETURN_IF(!json_is_number(v) || !isfinite(json_number_value(v)), err, SP_ERR_CORRUPT,
                     "metric '%s' is not a finite number", key);
        m[*n].name = strdup(key);
        m[*n].value = json_number_value(v);
        if (m[*n].name == NULL) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        (*n)++;
    }
    return SP_OK;
}

static sp_status parse_items(json_t *a, sp__manifest *mf, sp_error *err)
{
    SP_RETURN_IF(!json_is_array(a), err, SP_ERR_CORRUPT, "'items' is not an array");
    size_t const n = json_array_size(a);
    SP_RETURN_IF(n > SP_CKPT_MAX_LEAVES, err, SP_ERR_CORRUPT, "too many items");
    mf->items = (char **)calloc(n ? n : 1, sizeof *mf->items);
    SP_RETURN_IF(mf->items == NULL, err, SP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *const s = json_string_value(json_array_get(a, i));
        SP_RETURN_IF(s == NULL || !sp__ckpt_path_ok(s) || strchr(s, '/'), err, SP_ERR_CORRUPT,
                     "items[%zu] is not an item name", i);
        mf->items[i] = strdup(s);
        SP_RETURN_IF(mf->items[i] == NULL, err, SP_ERR_NOMEM, "out of memory");
        mf->n_items++;
    }
    return SP_OK;
}

static sp_status parse_files(json_t *a, sp__manifest *mf, sp_error *err)
{
    SP_RETURN_IF(!json_is_array(a), err, SP_ERR_CORRUPT, "'files' is not an array");
    size_t const n = json_array_size(a);
    SP_RETURN_IF(n > max_files, err, SP_ERR_CORRUPT, "too many files (%zu)", n);
    for (size_t i = 0; i < n; i++) {
        json_t *const f = json_array_get(a, i);
        const char *const p = json_string_value(json_object_get(f, "path"));
        json_t *const sz = json_object_get(f, "size");
        uint32_t crc = 0;
        SP_RETURN_IF(!json_is_object(f) || json_object_size(f) != 3 || p == NULL || !rel_path_ok(p),
                     err, SP_ERR_CORRUPT, "files[%zu]: bad entry or path", i);
        SP_RETURN_IF(!json_is_integer(sz) || json_integer_value(sz) < 0, err, SP_ERR_CORRUPT,
                     "files[%zu] (%s): bad size", i, p);
        SP_RETURN_IF(!parse_hex32(json_string_value(json_object_get(f, "crc32c")), &crc), err,
                     SP_ERR_CORRUPT, "files[%zu] (%s): bad crc32c", i, p);
        SP_RETURN_IF(sp__manifest_add(mf, p, (uint64_t)json_integer_value(sz), crc) != SP_OK, err,
                     SP_ERR_NOMEM, "out of memory");
    }
    if (mf->n_files) qsort(mf->files, mf->n_files, sizeof *mf->files, cmp_mfile);
    for (size_t i = 1; i < mf->n_files; i++)
        SP_RETURN_IF(strcmp(mf->files[i - 1].path, mf->files[i].path) == 0, err, SP_ERR_CORRUPT,
                     "file '%s' listed twice", mf->files[i].path);
    return SP_OK;
}

static sp_status check_format(json_t *o, const char *format, sp_error *err)
{
    SP_RETURN_IF(!json_is_object(o), err, SP_ERR_CORRUPT, "not a JSON object");
    const char *const f = json_string_value(json_object_get(o, "format"));
    SP_RETURN_IF(f == NULL || strcmp(f, format) != 0, err, SP_ERR_CORRUPT, "format is not '%s'", format);
    json_t *const v = json_object_get(o, "version");
    SP_RETURN_IF(!json_is_integer(v), err, SP_ERR_CORRUPT, "'version' is not an integer");
    SP_RETURN_IF(json_integer_value(v) != SP_CKPT_FORMAT_VERSION, err, SP_ERR_UNSUPPORTED,
                 "format version %lld (this reader knows %d)", (long long)json_integer_value(v),
                 SP_CKPT_FORMAT_VERSION);
    return SP_OK;
}

static sp_status manifest_fields(json_t *o, sp__manifest *mf, sp_error *err)
{
    SP_TRY(check_format(o, MF_FORMAT, err));
    SP_TRY(get_int(o, "step", 0, &mf->step, err));
    SP_TRY(get_int(o, "init_timestamp_nsecs", 0, &mf->init_ns, err));
    SP_TRY(get_int(o, "commit_timestamp_nsecs", 0, &mf->commit_ns, err));
    SP_TRY(parse_items(json_object_get(o, "items"), mf, err));
    SP_TRY(parse_metrics(json_object_get(o, "metrics"), &mf->metrics, &mf->n_metrics, err));
    return parse_files(json_object_get(o, "files"), mf, err);
}

/* Checks the self-checksum and that the text is the canonical dump of what it holds. */
static sp_status manifest_integrity(json_t *o, const char *text, size_t n, sp_error *err)
{
    size_t clen = 0;
    char *const canon = dump_canonical(o, &clen);
    SP_RETURN_IF(canon == NULL, err, SP_ERR_NOMEM, "out of memory");
    int const same = clen == n && memcmp(canon, text, n) == 0;
    free(canon);
    SP_RETURN_IF(!same, err, SP_ERR_CHECKSUM, "not in canonical form (modified)");
    uint32_t stored = 0;
    SP_RETURN_IF(!parse_hex32(json_string_value(json_object_get(o, "crc32c")), &stored), err,
                 SP_ERR_CORRUPT, "missing or bad 'crc32c'");
    json_t *const body = json_deep_copy(o);
    SP_RETURN_IF(body == NULL, err, SP_ERR_NOMEM, "out of memory");
    json_object_del(body, "crc32c");
    int ok = 0;
    uint32_t const got = body_crc(body, &ok);
    json_decref(body);
    SP_RETURN_IF(!ok, err, SP_ERR_NOMEM, "out of memory");
    SP_RETURN_IF(got != stored, err, SP_ERR_CHECKSUM, "self-checksum %08x, stored %08x", got, stored);
    return SP_OK;
}

sp_status sp__manifest_parse(const char *text, size_t n, sp__manifest *mf, sp_error *err)
{
    memset(mf, 0, sizeof *mf);
    json_error_t je;
    json_t *const o = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    SP_RETURN_IF(o == NULL, err, SP_ERR_CORRUPT, "invalid JSON at line %d: %s", je.line, je.text);
    sp_status s = json_is_object(o) ? manifest_integrity(o, text, n, err)
                                    : sp_error_set(err, SP_ERR_CORRUPT, "not a JSON object");
    if (s == SP_OK) s = manifest_fields(o, mf, err);
    json_decref(o);
    if (s != SP_OK) sp__manifest_free(mf);
    return s;
}

/* ---- tree metadata ---- */

static const char *kind_name(sp_leaf_kind k)
{
    switch (k) {
    case SP_LEAF_ARRAY: return "array";
    case SP_LEAF_I64: return "i64";
    case SP_LEAF_F64: return "f64";
    case SP_LEAF_STRING: return "string";
    case SP_LEAF_JSON: return "json";
    default: return "?";
    }
}

static json_t *leaf_json(const sp__leaf *l)
{
    json_t *const e = json_object();
    json_object_set_new(e, "path", json_string(l->path));
    json_object_set_new(e, "kind", json_string(kind_name(l->kind)));
    switch (l->kind) {
    case SP_LEAF_ARRAY: {
        json_t *const shape = json_array();
        for (size_t d = 0; d < l->ndim; d++) json_array_append_new(shape, json_integer((json_int_t)l->shape[d]));
        json_object_set_new(e, "dtype", json_string(sp_dtype_numpy_name(l->dtype)));
        json_object_set_new(e, "shape", shape);
        break;
    }
    case SP_LEAF_I64: json_object_set_new(e, "value", json_integer(l->i64)); break;
    case SP_LEAF_F64: {
        uint64_t bits;
        memcpy(&bits, &l->f64, sizeof bits);
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)bits);
        json_object_set_new(e, "bits", json_string(hex));
        json_object_set_new(e, "value", isfinite(l->f64) ? json_real(l->f64) : json_null());
        break;
    }
    case SP_LEAF_STRING: json_object_set_new(e, "value", json_string(l->text)); break;
    case SP_LEAF_JSON: break;
    }
    return e;
}

char *sp__treemeta_dump(const sp_tree *t, size_t *len)
{
    json_t *const o = json_object();
    json_object_set_new(o, "format", json_string(TREE_FORMAT));
    json_object_set_new(o, "version", json_integer(SP_CKPT_FORMAT_VERSION));
    json_t *const leaves = json_array();
    for (size_t i = 0; i < t->n; i++) json_array_append_new(leaves, leaf_json(&t->v[i]));
    json_object_set_new(o, "leaves", leaves);
    char *const s = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (s) *len = strlen(s);
    return s;
}

static sp_status parse_leaf_array(json_t *e, sp__leaf *l, sp_error *err)
{
    const char *const dt = json_string_value(json_object_get(e, "dtype"));
    SP_RETURN_IF(dt == NULL || !sp_dtype_from_numpy_name(dt, &l->dtype), err, SP_ERR_CORRUPT,
                 "leaf '%s': bad dtype", l->path);
    json_t *const shape = json_object_get(e, "shape");
    SP_RETURN_IF(!json_is_array(shape) || json_array_size(shape) > SP_CKPT_MAX_RANK, err, SP_ERR_CORRUPT,
                 "leaf '%s': bad shape", l->path);
    l->ndim = json_array_size(shape);
    uint64_t total = sp_dtype_size(l->dtype);
    for (size_t d = 0; d < l->ndim; d++) {
        json_t *const v = json_array_get(shape, d);
        SP_RETURN_IF(!json_is_integer(v) || json_integer_value(v) < 0, err, SP_ERR_CORRUPT,
                     "leaf '%s': bad shape[%zu]", l->path, d);
        l->shape[d] = (uint64_t)json_integer_value(v);
        SP_RETURN_IF(l->shape[d] && total > SP_CKPT_MAX_ARRAY_BYTES / l->shape[d], err, SP_ERR_RANGE,
                     "leaf '%s': array larger than 1 TiB", l->path);
        total *= l->shape[d];
    }
    l->nbytes = (size_t)total;
    return SP_OK;
}

static sp_status parse_leaf_value(json_t *e, sp__leaf *l, sp_error *err)
{
    json_t *const v = json_object_get(e, "value");
    switch (l->kind) {
    case SP_LEAF_ARRAY: return parse_leaf_array(e, l, err);
    case SP_LEAF_I64:
        SP_RETURN_IF(!json_is_integer(v), err, SP_ERR_CORRUPT, "leaf '%s': bad value", l->path);
        l->i64 = (int64_t)json_integer_value(v);
        return SP_OK;
    case SP_LEAF_F64: {
        const char *const hex = json_string_value(json_object_get(e, "bits"));
        uint32_t hi = 0, lo = 0;
        SP_RETURN_IF(hex == NULL || strlen(hex) != 16, err, SP_ERR_CORRUPT, "leaf '%s': bad bits", l->path);
        char h[9];
        memcpy(h, hex, 8);
        h[8] = 0;
        SP_RETURN_IF(!parse_hex32(h, &hi) || !parse_hex32(hex + 8, &lo), err, SP_ERR_CORRUPT,
                     "leaf '%s': bad bits", l->path);
        uint64_t const bits = ((uint64_t)hi << 32) | lo;
        memcpy(&l->f64, &bits, sizeof bits);
        return SP_OK;
    }
    case SP_LEAF_STRING:
        SP_RETURN_IF(!json_is_string(v), err, SP_ERR_CORRUPT, "leaf '%s': bad value", l->path);
        l->text = strdup(json_string_value(v));
        l->nbytes = json_string_length(v);
        SP_RETURN_IF(l->text == NULL, err, SP_ERR_NOMEM, "out of memory");
        SP_RETURN_IF(strlen(l->text) != l->nbytes, err, SP_ERR_CORRUPT, "leaf '%s': NUL in string", l->path);
        return SP_OK;
    case SP_LEAF_JSON: return SP_OK;
    }
    return sp_error_set(err, SP_ERR_CORRUPT, "leaf '%s': bad kind", l->path);
}

static sp_status parse_leaf(json_t *e, sp_tree *t, size_t i, sp_error *err)
{
    SP_RETURN_IF(!json_is_object(e), err, SP_ERR_CORRUPT, "leaves[%zu] is not an object", i);
    const char *const path = json_string_value(json_object_get(e, "path"));
    const char *const kind = json_string_value(json_object_get(e, "kind"));
    SP_RETURN_IF(path == NULL || kind == NULL, err, SP_ERR_CORRUPT, "leaves[%zu]: missing path or kind", i);
    sp__leaf l;
    memset(&l, 0, sizeof l);
    for (int k = SP_LEAF_ARRAY; k <= SP_LEAF_JSON; k++)
        if (strcmp(kind, kind_name((sp_leaf_kind)k)) == 0) l.kind = (sp_leaf_kind)k;
    SP_RETURN_IF(l.kind == 0, err, SP_ERR_CORRUPT, "leaves[%zu]: unknown kind '%s'", i, kind);
    l.path = strdup(path);
    SP_RETURN_IF(l.path == NULL, err, SP_ERR_NOMEM, "out of memory");
    sp_status s = parse_leaf_value(e, &l, err);
    if (s == SP_OK) s = sp__tree_add_owned(t, &l, err);
    if (s != SP_OK) {
        free(l.path);
        free(l.text);
    }
    return s;
}

sp_status sp__treemeta_parse(const char *text, size_t n, sp_tree **out, sp_error *err)
{
    *out = NULL;
    json_error_t je;
    json_t *const o = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    SP_RETURN_IF(o == NULL, err, SP_ERR_CORRUPT, "invalid JSON at line %d: %s", je.line, je.text);
    sp_tree *t = NULL;
    sp_status s = check_format(o, TREE_FORMAT, err);
    json_t *const leaves = json_object_get(o, "leaves");
    if (s == SP_OK && (!json_is_array(leaves) || json_array_size(leaves) > SP_CKPT_MAX_LEAVES))
        s = sp_error_set(err, SP_ERR_CORRUPT, "'leaves' is not an array of at most %d", SP_CKPT_MAX_LEAVES);
    if (s == SP_OK && sp_tree_create(&t) != SP_OK) s = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == SP_OK && i < json_array_size(leaves); i++)
        s = parse_leaf(json_array_get(leaves, i), t, i, err);
    json_decref(o);
    if (s != SP_OK) {
        sp_tree_free(t);
        return s;
    }
    *out = t;
    return SP_OK;
}

/* ---- step and root metadata ---- */

char *sp__stepmeta_dump(const sp__manifest *mf, const char *custom_json, size_t *len)
{
    json_t *const o = json_object();
    json_object_set_new(o, "format", json_string(STEP_FORMAT));
    json_object_set_new(o, "version", json_integer(SP_CKPT_FORMAT_VERSION));
    json_object_set_new(o, "writer", json_string("synthpix " SP_VERSION_STRING));
    json_object_set_new(o, "step", json_integer(mf->step));
    json_object_set_new(o, "init_timestamp_nsecs", json_integer(mf->init_ns));
    json_object_set_new(o, "commit_timestamp_nsecs", json_integer(mf->commit_ns));
    json_t *const items = json_object();
    for (size_t i = 0; i < mf->n_items; i++) json_object_set_new(items, mf->items[i], json_string("tree"));
    json_object_set_new(o, "item_handlers", items);
    json_object_set_new(o, "metrics", metrics_json(mf->metrics, mf->n_metrics));
    json_t *custom = custom_json ? json_loads(custom_json, 0, NULL) : NULL;
    json_object_set_new(o, "custom_metadata", custom ? custom : json_object());
    char *const s = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (s) *len = strlen(s);
    return s;
}

sp_status sp__stepmeta_parse(const char *text, size_t n, int64_t step, sp_error *err)
{
    json_error_t je;
    json_t *const o = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    SP_RETURN_IF(o == NULL, err, SP_ERR_CORRUPT, "invalid JSON at line %d: %s", je.line, je.text);
    sp_status s = check_format(o, STEP_FORMAT, err);
    int64_t v = 0;
    if (s == SP_OK) s = get_int(o, "step", 0, &v, err);
    if (s == SP_OK && v != step) s = sp_error_set(err, SP_ERR_CORRUPT, "step %lld, expected %lld",
                                                  (long long)v, (long long)step);
    if (s == SP_OK) s = get_int(o, "commit_timestamp_nsecs", 0, &v, err);
    json_t *const c = json_object_get(o, "custom_metadata");
    if (s == SP_OK && c && !json_is_object(c))
        s = sp_error_set(err, SP_ERR_CORRUPT, "'custom_metadata' is not an object");
    json_decref(o);
    return s;
}

char *sp__rootmeta_dump(const char *prefix, int fixed_length, size_t *len)
{
    json_t *const o = json_object();
    json_object_set_new(o, "format", json_string(ROOT_FORMAT));
    json_object_set_new(o, "version", json_integer(SP_CKPT_FORMAT_VERSION));
    json_object_set_new(o, "step_prefix", prefix ? json_string(prefix) : json_null());
    json_object_set_new(o, "step_format_fixed_length", json_integer(fixed_length));
    char *const s = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(2));
    json_decref(o);
    if (s) *len = strlen(s);
    return s;
}

/* A prefix names directories inside the root: a plain name, never a path. */
static int plain_prefix(const char *p)
{
    size_t const n = strlen(p);
    if (n == 0 || n > 64 || strcmp(p, ".") == 0 || strcmp(p, "..") == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char const c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return 0;
    }
    return 1;
}

sp_status sp__rootmeta_parse(const char *text, size_t n, char *prefix_buf, size_t cap,
                             int *fixed_length, sp_error *err)
{
    json_error_t je;
    json_t *const o = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    SP_RETURN_IF(o == NULL, err, SP_ERR_CORRUPT, "invalid JSON at line %d: %s", je.line, je.text);
    sp_status s = check_format(o, ROOT_FORMAT, err);
    int64_t len = 0;
    if (s == SP_OK) s = get_int(o, "step_format_fixed_length", 0, &len, err);
    if (s == SP_OK && len > 18) s = sp_error_set(err, SP_ERR_CORRUPT, "fixed length %lld > 18", (long long)len);
    json_t *const p = json_object_get(o, "step_prefix");
    if (s == SP_OK && !(json_is_null(p) || (json_is_string(p) && json_string_length(p) < cap &&
                                            plain_prefix(json_string_value(p)))))
        s = sp_error_set(err, SP_ERR_CORRUPT, "'step_prefix' must be null or 1..64 of [A-Za-z0-9_.-], not '.' or '..'");
    if (s == SP_OK) {
        snprintf(prefix_buf, cap, "%s", json_is_string(p) ? json_string_value(p) : "");
        *fixed_length = (int)len;
    }
    json_decref(o);
    return s;
}

void sp__manifest_items_join(const sp__manifest *mf, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < mf->n_items && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ",%s" : "%s", mf->items[i]);
}
