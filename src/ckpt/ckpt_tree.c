/* ckpt_tree.c: sp_tree, the data model of a checkpoint step.
 *
 * A tree is a vector of leaves kept sorted by path (strcmp), so lookups are binary searches
 * and iteration order is deterministic. Path rules (see sp_ckpt.h) are enforced on every
 * insertion: component syntax, no duplicates, and no leaf that is also an interior node
 * (checked with one search per ancestor plus one search for descendants). Arrays are
 * copied unless added with sp_tree_add_array_ref; sizes are overflow-checked.
 */
#include "ckpt_internal.h"

#include <jansson.h>

static int comp_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

int sp__ckpt_path_ok(const char *path)
{
    size_t const len = strlen(path);
    if (len == 0 || len > SP_CKPT_LEAF_PATH_MAX) return 0;
    int depth = 0;
    const char *c = path;
    while (*c) {
        const char *const start = c;
        while (*c && *c != '/') {
            if (!comp_char_ok(*c)) return 0;
            c++;
        }
        size_t const n = (size_t)(c - start);
        if (n == 0 || n > 64) return 0;
        int const first_alnum = start[0] != '_' && start[0] != '-' && start[0] != '.';
        if (!first_alnum) return 0;
        if (n >= 5 && memcmp(c - 5, ".json", 5) == 0) return 0;
        if (++depth > 16) return 0;
        if (*c == '/') {
            c++;
            if (*c == 0) return 0; /* trailing slash */
        }
    }
    return 1;
}

sp_status sp_tree_create(sp_tree **out)
{
    *out = (sp_tree *)calloc(1, sizeof **out);
    return *out ? SP_OK : SP_ERR_NOMEM;
}

static void leaf_free(sp__leaf *l)
{
    free(l->path);
    if (!l->borrowed) free(l->data);
    free(l->text);
}

void sp_tree_free(sp_tree *t)
{
    if (t == NULL) return;
    for (size_t i = 0; i < t->n; i++) leaf_free(&t->v[i]);
    free(t->v);
    free(t);
}

/* First index whose path is >= key. */
static size_t lower_bound(const sp_tree *t, const char *key)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t const mid = lo + (hi - lo) / 2;
        if (strcmp(t->v[mid].path, key) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

const sp__leaf *sp__tree_get(const sp_tree *t, const char *path)
{
    size_t const i = lower_bound(t, path);
    return i < t->n && strcmp(t->v[i].path, path) == 0 ? &t->v[i] : NULL;
}

/* Checks duplicates and leaf/interior conflicts; returns the insertion index or an error. */
static sp_status insert_pos(const sp_tree *t, const char *path, size_t *pos, sp_error *err)
{
    if (!sp__ckpt_path_ok(path))
        return sp_error_set(err, SP_ERR_INVALID, "invalid leaf path '%s'", path);
    if (t->n >= SP_CKPT_MAX_LEAVES) return sp_error_set(err, SP_ERR_RANGE, "too many leaves");
    if (sp__tree_get(t, path)) return sp_error_set(err, SP_ERR_INVALID, "duplicate leaf '%s'", path);
    char buf[SP_CKPT_LEAF_PATH_MAX + 2];
    size_t const len = strlen(path);
    for (size_t i = 0; i < len; i++) {
        if (path[i] != '/') continue;
        memcpy(buf, path, i);
        buf[i] = 0;
        if (sp__tree_get(t, buf))
            return sp_error_set(err, SP_ERR_INVALID, "leaf '%s' is inside leaf '%s'", path, buf);
    }
    memcpy(buf, path, len);
    buf[len] = '/';
    buf[len + 1] = 0;
    size_t const d = lower_bound(t, buf);
    if (d < t->n && strncmp(t->v[d].path, buf, len + 1) == 0)
        return sp_error_set(err, SP_ERR_INVALID, "leaf '%s' would contain leaf '%s'", path, t->v[d].path);
    *pos = lower_bound(t, path);
    return SP_OK;
}

/* Inserts *leaf (taken over on success) at its sorted position. */
static sp_status insert_leaf(sp_tree *t, sp__leaf *leaf, sp_error *err)
{
    size_t pos = 0;
    SP_TRY(insert_pos(t, leaf->path, &pos, err));
    if (t->n == t->cap) {
        size_t const cap = t->cap ? t->cap * 2 : 8;
        sp__leaf *const v = (sp__leaf *)realloc(t->v, cap * sizeof *v);
        if (v == NULL) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        t->v = v;
        t->cap = cap;
    }
    memmove(&t->v[pos + 1], &t->v[pos], (t->n - pos) * sizeof *t->v);
    t->v[pos] = *leaf;
    t->n++;
    return SP_OK;
}

sp_status sp__tree_add_owned(sp_tree *t, sp__leaf *leaf, sp_error *err)
{
    return insert_leaf(t, leaf, err);
}

static sp_status add_array(sp_tree *t, const char *path, sp_dtype dtype, size_t ndim,
                           const uint64_t *shape, const void *data, int borrow, sp_error *err)
{
    size_t const es = sp_dtype_size(dtype);
    SP_RETURN_IF(es == 0, err, SP_ERR_INVALID, "%s: invalid dtype %d", path, (int)dtype);
    SP_RETURN_IF(ndim > SP_CKPT_MAX_RANK, err, SP_ERR_INVALID, "%s: rank %zu > %d", path, ndim,
                 SP_CKPT_MAX_RANK);
    SP_RETURN_IF(ndim > 0 && shape == NULL, err, SP_ERR_INVALID, "%s: shape is NULL", path);
    size_t nbytes = es;
    for (size_t i = 0; i < ndim; i++) {
        SP_RETURN_IF(shape[i] > SIZE_MAX || !sp__mul_size(nbytes, (size_t)shape[i], &nbytes), err,
                     SP_ERR_RANGE, "%s: size overflows", path);
    }
    SP_RETURN_IF(nbytes > SP_CKPT_MAX_ARRAY_BYTES, err, SP_ERR_RANGE, "%s: array too large", path);
    SP_RETURN_IF(nbytes > 0 && data == NULL, err, SP_ERR_INVALID, "%s: data is NULL", path);
    if (dtype == SP_DTYPE_BOOL) {
        const unsigned char *const b = (const unsigned char *)data;
        for (size_t i = 0; i < nbytes; i++)
            SP_RETURN_IF(b[i] > 1, err, SP_ERR_INVALID, "%s: bool element %zu is %u", path, i, b[i]);
    }
    sp__leaf l;
    memset(&l, 0, sizeof l);
    l.kind = SP_LEAF_ARRAY;
    l.dtype = dtype;
    l.ndim = ndim;
    if (ndim) memcpy(l.shape, shape, ndim * sizeof *shape);
    l.nbytes = nbytes;
    l.path = strdup(path);
    l.borrowed = borrow;
    if (borrow) l.data = (void *)(uintptr_t)data; /* borrowed: never written through, never freed */
    else if ((l.data = malloc(nbytes ? nbytes : 1)) != NULL && nbytes) memcpy(l.data, data, nbytes);
    if (l.path == NULL || l.data == NULL) {
        leaf_free(&l);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    sp_status const s = insert_leaf(t, &l, err);
    if (s != SP_OK) leaf_free(&l);
    return s;
}

sp_status sp_tree_add_array(sp_tree *t, const char *path, sp_dtype dtype, size_t ndim,
                            const uint64_t *shape, const void *data, sp_error *err)
{
    return add_array(t, path, dtype, ndim, shape, data, 0, err);
}

sp_status sp_tree_add_array_ref(sp_tree *t, const char *path, sp_dtype dtype, size_t ndim,
                                const uint64_t *shape, const void *data, sp_error *err)
{
    return add_array(t, path, dtype, ndim, shape, data, 1, err);
}

static sp_status add_simple(sp_tree *t, sp__leaf *l, sp_error *err)
{
    if (l->path == NULL) {
        leaf_free(l);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    sp_status const s = insert_leaf(t, l, err);
    if (s != SP_OK) leaf_free(l);
    return s;
}

sp_status sp_tree_add_i64(sp_tree *t, const char *path, int64_t v, sp_error *err)
{
    sp__leaf l;
    memset(&l, 0, sizeof l);
    l.kind = SP_LEAF_I64;
    l.i64 = v;
    l.path = strdup(path);
    return add_simple(t, &l, err);
}

sp_status sp_tree_add_f64(sp_tree *t, const char *path, double v, sp_error *err)
{
    sp__leaf l;
    memset(&l, 0, sizeof l);
    l.kind = SP_LEAF_F64;
    l.f64 = v;
    l.path = strdup(path);
    return add_simple(t, &l, err);
}

static sp_status add_text(sp_tree *t, const char *path, const char *text, sp_leaf_kind kind,
                          sp_error *err)
{
    SP_RETURN_IF(text == NULL, err, SP_ERR_INVALID, "%s: text is NULL", path);
    if (kind == SP_LEAF_STRING) {
        json_t *const s = json_string(text); /* NULL when not valid UTF-8 */
        SP_RETURN_IF(s == NULL, err, SP_ERR_INVALID, "%s: string is not valid UTF-8", path);
        json_decref(s);
    } else {
        json_error_t je;
        json_t *const j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
        SP_RETURN_IF(j == NULL, err, SP_ERR_INVALID, "%s: invalid JSON at line %d: %s", path, je.line,
                     je.text);
        json_decref(j);
    }
    sp__leaf l;
    memset(&l, 0, sizeof l);
    l.kind = kind;
    l.text = strdup(text);
    l.nbytes = strlen(text);
    l.path = strdup(path);
    if (l.text == NULL) {
        leaf_free(&l);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    return add_simple(t, &l, err);
}

sp_status sp_tree_add_string(sp_tree *t, const char *path, const char *text, sp_error *err)
{
    return add_text(t, path, text, SP_LEAF_STRING, err);
}

sp_status sp_tree_add_json(sp_tree *t, const char *path, const char *json_text, sp_error *err)
{
    return add_text(t, path, json_text, SP_LEAF_JSON, err);
}

static void view_of(const sp__leaf *l, sp_leaf_view *out)
{
    memset(out, 0, sizeof *out);
    out->path = l->path;
    out->kind = l->kind;
    out->dtype = l->dtype;
    out->ndim = l->ndim;
    out->shape = l->ndim ? l->shape : NULL;
    out->nbytes = l->nbytes;
    out->data = l->data;
    out->i64 = l->i64;
    out->f64 = l->f64;
    out->text = l->text;
}

sp_status sp_tree_find(const sp_tree *t, const char *path, sp_leaf_view *out)
{
    const sp__leaf *const l = t && path ? sp__tree_get(t, path) : NULL;
    if (l == NULL) return SP_ERR_NOTFOUND;
    view_of(l, out);
    return SP_OK;
}

static const char *kind_str(sp_leaf_kind k)
{
    switch (k) {
    case SP_LEAF_ARRAY: return "an array";
    case SP_LEAF_I64: return "an i64";
    case SP_LEAF_F64: return "an f64";
    case SP_LEAF_STRING: return "a string";
    case SP_LEAF_JSON: return "a JSON document";
    }
    return "?";
}

static sp_status get_kind(const sp_tree *t, const char *path, sp_leaf_kind k1, sp_leaf_kind k2,
                          const sp__leaf **out, sp_error *err)
{
    const sp__leaf *const l = t && path ? sp__tree_get(t, path) : NULL;
    SP_RETURN_IF(l == NULL, err, SP_ERR_NOTFOUND, "leaf '%s' not found", path ? path : "(null)");
    SP_RETURN_IF(l->kind != k1 && l->kind != k2, err, SP_ERR_MISMATCH, "leaf '%s' is %s, not %s", path,
                 kind_str(l->kind), kind_str(k1));
    *out = l;
    return SP_OK;
}

sp_status sp_tree_get_i64(const sp_tree *t, const char *path, int64_t *out, sp_error *err)
{
    const sp__leaf *l = NULL;
    SP_TRY(get_kind(t, path, SP_LEAF_I64, SP_LEAF_I64, &l, err));
    *out = l->i64;
    return SP_OK;
}

sp_status sp_tree_get_f64(const sp_tree *t, const char *path, double *out, sp_error *err)
{
    const sp__leaf *l = NULL;
    SP_TRY(get_kind(t, path, SP_LEAF_F64, SP_LEAF_F64, &l, err));
    *out = l->f64;
    return SP_OK;
}

sp_status sp_tree_get_text(const sp_tree *t, const char *path, const char **out, sp_error *err)
{
    const sp__leaf *l = NULL;
    SP_TRY(get_kind(t, path, SP_LEAF_STRING, SP_LEAF_JSON, &l, err));
    SP_RETURN_IF(l->text == NULL, err, SP_ERR_NOTFOUND, "leaf '%s' has no text (metadata-only tree)", path);
    *out = l->text;
    return SP_OK;
}

sp_status sp_tree_copy_array(const sp_tree *t, const char *path, sp_dtype dtype, size_t ndim,
                             const uint64_t *shape, void *dst, size_t dst_bytes, sp_error *err)
{
    const sp__leaf *l = NULL;
    SP_TRY(get_kind(t, path, SP_LEAF_ARRAY, SP_LEAF_ARRAY, &l, err));
    int same = l->dtype == dtype && l->ndim == ndim && (ndim == 0 || shape != NULL);
    for (size_t d = 0; same && d < ndim; d++) same = l->shape[d] == shape[d];
    if (!same) {
        char have[200];
        size_t n = (size_t)snprintf(have, sizeof have, "%s[", sp_dtype_numpy_name(l->dtype));
        for (size_t d = 0; d < l->ndim && n < sizeof have; d++)
            n += (size_t)snprintf(have + n, sizeof have - n, d ? ",%llu" : "%llu", (unsigned long long)l->shape[d]);
        return sp_error_set(err, SP_ERR_MISMATCH, "leaf '%s' holds %s], caller expects %s with rank %zu", path,
                            have, sp_dtype_numpy_name(dtype), ndim);
    }
    SP_RETURN_IF(dst_bytes != l->nbytes, err, SP_ERR_MISMATCH, "leaf '%s': %zu bytes, buffer has %zu", path,
                 l->nbytes, dst_bytes);
    SP_RETURN_IF(l->data == NULL && l->nbytes, err, SP_ERR_NOTFOUND, "leaf '%s' has no data (metadata-only tree)",
                 path);
    if (l->nbytes) memcpy(dst, l->data, l->nbytes);
    return SP_OK;
}

size_t sp_tree_count(const sp_tree *t)
{
    return t ? t->n : 0;
}

sp_status sp_tree_at(const sp_tree *t, size_t i, sp_leaf_view *out)
{
    if (t == NULL || i >= t->n) return SP_ERR_RANGE;
    view_of(&t->v[i], out);
    return SP_OK;
}

size_t sp__tree_bytes(const sp_tree *t)
{
    size_t b = 0;
    for (size_t i = 0; i < t->n; i++) b += t->v[i].nbytes + strlen(t->v[i].path) + sizeof(sp__leaf);
    return b;
}

sp_status sp__tree_clone(const sp_tree *src, sp_tree **out, size_t *bytes, sp_error *err)
{
    sp_tree *t = NULL;
    if (sp_tree_create(&t) != SP_OK) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    t->v = (sp__leaf *)calloc(src->n ? src->n : 1, sizeof *t->v);
    if (t->v == NULL) {
        free(t);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    t->cap = src->n ? src->n : 1;
    for (size_t i = 0; i < src->n; i++) {
        sp__leaf l = src->v[i];
        l.borrowed = 0;
        l.path = strdup(src->v[i].path);
        l.text = src->v[i].text ? strdup(src->v[i].text) : NULL;
        l.data = NULL;
        if (src->v[i].kind == SP_LEAF_ARRAY) {
            l.data = malloc(l.nbytes ? l.nbytes : 1);
            if (l.data && l.nbytes) memcpy(l.data, src->v[i].data, l.nbytes);
        }
        t->v[t->n++] = l; /* sorted already */
        if (l.path == NULL || (src->v[i].text && l.text == NULL) ||
            (l.kind == SP_LEAF_ARRAY && l.data == NULL)) {
            sp_tree_free(t);
            return sp_error_set(err, SP_ERR_NOMEM, "out of memory staging the tree");
        }
    }
    *bytes = sp__tree_bytes(t);
    *out = t;
    return SP_OK;
}
