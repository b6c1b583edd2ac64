/* config_value.c: typed reading of single YAML nodes, with uniform error messages.
 *
 * Every reader reports its own error (naming the key, the value as written and what was
 * expected) and returns 0, so callers simply skip the assignment and go on: a load reports
 * every mistake, never only the first.
 *
 * Scalar typing (what a plain, unquoted scalar means; quoted scalars are always strings):
 *   null     ~, null, Null, NULL, or an empty value
 *   bool     true/false, yes/no, on/off in lower, Capitalised or UPPER case (YAML 1.1)
 *   integer  [-+]?[0-9]+ (decimal only)
 *   number   an integer, or a decimal with a '.' and/or an exponent ("1e-3" counts,
 *            unlike PyYAML); .inf/.nan are recognised and rejected as not finite.
 */
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void vreport(sp__cfg_ctx *x, sp_diag_level lvl, const char *key, const sp__cfg_node *n,
                    const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 0)))
#endif
    ;

static void vreport(sp__cfg_ctx *x, sp_diag_level lvl, const char *key, const sp__cfg_node *n,
                    const char *fmt, va_list ap)
{
    char msg[480];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (!sp__diag_add(x->d, lvl, key, n ? n->line : 0, n ? n->column : 0, "%s", msg) && x->d)
        x->nomem |= x->d->count < 1000;
}

void sp__cfg_error(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    x->errors++;
    vreport(x, SP_DIAG_ERROR, key, n, fmt, ap);
    va_end(ap);
}

void sp__cfg_warn(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(x, SP_DIAG_WARNING, key, n, fmt, ap);
    va_end(ap);
}

/* ---- rendering ---- */

typedef struct outbuf {
    char *p;
    size_t cap, len;
} outbuf;

static void put(outbuf *o, const char *s)
{
    while (*s && o->len + 1 < o->cap) o->p[o->len++] = *s++;
    o->p[o->len] = '\0';
}

static void render_scalar(outbuf *o, const sp__cfg_node *n)
{
    if (n->plain) {
        put(o, n->value[0] ? n->value : "null");
        return;
    }
    put(o, "\"");
    for (const unsigned char *s = (const unsigned char *)n->value; *s && o->len + 8 < o->cap; s++) {
        char tmp[8];
        if (*s == '"' || *s == '\\') snprintf(tmp, sizeof tmp, "\\%c", *s);
        else if (*s < 0x20 || *s == 0x7f) snprintf(tmp, sizeof tmp, "\\x%02x", *s);
        else snprintf(tmp, sizeof tmp, "%c", *s);
        put(o, tmp);
    }
    put(o, "\"");
}

static void render(outbuf *o, const sp__cfg_node *n, int depth)
{
    if (o->len + 8 >= o->cap || depth > 4) {
        put(o, "...");
        return;
    }
    if (n->type == SP_CFG_SCALAR) {
        render_scalar(o, n);
        return;
    }
    int const map = n->type == SP_CFG_MAP;
    put(o, map ? "{" : "[");
    for (size_t i = 0; i < n->n; i++) {
        if (i) put(o, map && (i & 1) ? ": " : ", ");
        render(o, n->items[i], depth + 1);
    }
    put(o, map ? "}" : "]");
}

void sp__cfg_render(const sp__cfg_node *n, char *buf, size_t cap)
{
    char tmp[96];
    outbuf o = {tmp, sizeof tmp, 0};
    tmp[0] = '\0';
    if (n == NULL) put(&o, "null");
    else render(&o, n, 0);
    /* Long values are cut: a message names the value, it need not reproduce it. */
    if (o.len >= 80) memcpy(tmp + 76, "...", 4);
    snprintf(buf, cap, "%s", tmp);
}

/* ---- bounds ---- */

void sp__cfg_format_double(double v, char *buf, size_t cap)
{
    if (isnan(v)) {
        snprintf(buf, cap, ".nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? ".inf" : "-.inf");
        return;
    }
    /* Whole numbers print as integers ("150", not "1.5e+02"); they read back exactly. */
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, cap, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

int sp__bounds_ok(const sp__bounds *b, double v)
{
    if (!isfinite(v)) return 0;
    if (b == NULL) return 1;
    if (b->lo_kind == 1 && !(v >= b->lo)) return 0;
    if (b->lo_kind == 2 && !(v > b->lo)) return 0;
    if (b->hi_kind == 1 && !(v <= b->hi)) return 0;
    if (b->hi_kind == 2 && !(v < b->hi)) return 0;
    return 1;
}

void sp__bounds_describe(const sp__bounds *b, const char *what, char *buf, size_t cap)
{
    char lo[32], hi[32];
    if (b == NULL || (b->lo_kind == 0 && b->hi_kind == 0)) {
        snprintf(buf, cap, "%s", what);
        return;
    }
    sp__cfg_format_double(b->lo, lo, sizeof lo);
    sp__cfg_format_double(b->hi, hi, sizeof hi);
    if (b->lo_kind && b->hi_kind)
        snprintf(buf, cap, "%s in %s%s, %s%s", what, b->lo_kind == 1 ? "[" : "(", lo, hi,
                 b->hi_kind == 1 ? "]" : ")");
    else if (b->lo_kind)
        snprintf(buf, cap, "%s %s %s", what, b->lo_kind == 1 ? ">=" : ">", lo);
    else
        snprintf(buf, cap, "%s %s %s", what, b->hi_kind == 1 ? "<=" : "<", hi);
}

/* "0 < min <= max < 1" */
static void describe_range(const sp__bounds *b, char *buf, size_t cap)
{
    char lo[32] = "", hi[32] = "";
    if (b && b->lo_kind) {
        sp__cfg_format_double(b->lo, lo, sizeof lo);
        strcat(lo, b->lo_kind == 1 ? " <= " : " < ");
    }
    if (b && b->hi_kind) {
        char h[24];
        sp__cfg_format_double(b->hi, h, sizeof h);
        snprintf(hi, sizeof hi, "%s%s", b->hi_kind == 1 ? " <= " : " < ", h);
    }
    snprintf(buf, cap, "[min, max] with %smin <= max%s", lo, hi);
}

/* ---- scalar typing ---- */

static int str_in(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, set[i]) == 0) return 1;
    return 0;
}

int sp__cfg_is_null(const sp__cfg_node *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    return n == NULL || (n->type == SP_CFG_SCALAR && n->plain && str_in(n->value, nulls, 5));
}

static int is_plain_scalar(const sp__cfg_node *n)
{
    return n != NULL && n->type == SP_CFG_SCALAR && n->plain;
}

static int is_integer_text(const char *s)
{
    if (*s == '+' || *s == '-') s++;
    if (!isdigit((unsigned char)*s)) return 0;
    while (isdigit((unsigned char)*s)) s++;
    return *s == '\0';
}

/* Decimal number syntax: digits with an optional '.', an optional exponent. */
static int is_number_text(const char *s)
{
    int digits = 0;
    if (*s == '+' || *s == '-') s++;
    for (; isdigit((unsigned char)*s); s++) digits++;
    if (*s == '.')
        for (s++; isdigit((unsigned char)*s); s++) digits++;
    if (!digits) return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!isdigit((unsigned char)*s)) return 0;
        while (isdigit((unsigned char)*s)) s++;
    }
    return *s == '\0';
}

static int is_special_float(const char *s)
{
    static const char *const sp[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
                                      "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"};
    return str_in(s, sp, sizeof sp / sizeof sp[0]);
}

int sp__cfg_get_int(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, long long lo,
                    long long hi, long long *out)
{
    char v[100];
    sp__cfg_render(n, v, sizeof v);
    if (!is_plain_scalar(n) || !is_integer_text(n->value)) {
        sp__cfg_error(x, key, n, "%s: %s is not an integer", key, v);
        return 0;
    }
    errno = 0;
    long long const val = strtoll(n->value, NULL, 10);
    if (errno == ERANGE || val < lo || val > hi) {
        if (val < lo && hi >= INT_MAX && errno != ERANGE)
            sp__cfg_error(x, key, n, "%s: %s is out of range; expected an integer >= %lld", key, v, lo);
        else
            sp__cfg_error(x, key, n, "%s: %s is out of range; expected an integer in [%lld, %lld]",
                          key, v, lo, hi);
        return 0;
    }
    *out = val;
    return 1;
}

int sp__cfg_get_u64(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, unsigned long long *out)
{
    char v[100];
    sp__cfg_render(n, v, sizeof v);
    if (!is_plain_scalar(n) || !is_integer_text(n->value)) {
        sp__cfg_error(x, key, n, "%s: %s is not an integer", key, v);
        return 0;
    }
    errno = 0;
    unsigned long long const val = strtoull(n->value, NULL, 10);
    if (n->value[0] == '-' || errno == ERANGE) {
        sp__cfg_error(x, key, n, "%s: %s is out of range; expected an integer in [0, %llu]", key,
                      v, ULLONG_MAX);
        return 0;
    }
    *out = val;
    return 1;
}

int sp__cfg_get_bool(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, int *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    if (is_plain_scalar(n) && str_in(n->value, yes, 9)) return *out = 1, 1;
    if (is_plain_scalar(n) && str_in(n->value, no, 9)) return *out = 0, 1;
    char v[100];
    sp__cfg_render(n, v, sizeof v);
    sp__cfg_error(x, key, n, "%s: %s is not a boolean; expected true or false", key, v);
    return 0;
}

int sp__cfg_get_number(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n,
                       const sp__bounds *b, double *out)
{
    char v[100], want[100];
    sp__cfg_render(n, v, sizeof v);
    sp__bounds_describe(b, "a number", want, sizeof want);
    if (!is_plain_scalar(n) || !(is_number_text(n->value) || is_special_float(n->value))) {
        sp__cfg_error(x, key, n, "%s: %s is not a number; expected %s", key, v, want);
        return 0;
    }
    double const val = is_special_float(n->value) ? (double)NAN : strtod(n->value, NULL);
    if (!isfinite(val)) { /* .inf, .nan, or an overflowing literal such as 1e999 */
        sp__cfg_error(x, key, n, "%s: %s is not a finite number; expected %s", key, v, want);
        return 0;
    }
    if (!sp__bounds_ok(b, val)) {
        sp__cfg_error(x, key, n, "%s: %s is out of range; expected %s", key, v, want);
        return 0;
    }
    *out = val;
    return 1;
}

/* Reads the two elements of a 2-list as numbers (type errors only); 0 on any error. */
static int get_two_numbers(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n,
                           const char *shape, double out[2])
{
    char v[100];
    sp__cfg_render(n, v, sizeof v);
    if (n == NULL || n->type != SP_CFG_SEQ || n->n != 2) {
        sp__cfg_error(x, key, n, "%s: %s is not %s", key, v, shape);
        return 0;
    }
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        char k[160];
        snprintf(k, sizeof k, "%s[%d]", key, i);
        ok &= sp__cfg_get_number(x, k, n->items[i], NULL, &out[i]);
    }
    return ok;
}

int sp__cfg_get_range(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, const sp__bounds *b,
                      double out[2])
{
    double r[2];
    char v[100], want[100];
    describe_range(b, want, sizeof want);
    if (!get_two_numbers(x, key, n, "a [min, max] pair of numbers", r)) return 0;
    sp__cfg_render(n, v, sizeof v);
    if (!sp__bounds_ok(b, r[0]) || !sp__bounds_ok(b, r[1])) {
        sp__cfg_error(x, key, n, "%s: %s is out of range; expected %s", key, v, want);
        return 0;
    }
    if (r[0] > r[1]) {
        sp__cfg_error(x, key, n, "%s: %s has min > max; expected %s", key, v, want);
        return 0;
    }
    out[0] = r[0];
    out[1] = r[1];
    return 1;
}

int sp__cfg_get_pair(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, const sp__bounds *b,
                     double out[2])
{
    double r[2];
    char v[100], want[100];
    if (!get_two_numbers(x, key, n, "a list of two numbers", r)) return 0;
    sp__cfg_render(n, v, sizeof v);
    sp__bounds_describe(b, "two numbers, each", want, sizeof want);
    if (!sp__bounds_ok(b, r[0]) || !sp__bounds_ok(b, r[1])) {
        sp__cfg_error(x, key, n, "%s: %s is out of range; expected %s", key, v, want);
        return 0;
    }
    out[0] = r[0];
    out[1] = r[1];
    return 1;
}

int sp__cfg_get_string(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, const char **out)
{
    if (n == NULL || n->type != SP_CFG_SCALAR) {
        char v[100];
        sp__cfg_render(n, v, sizeof v);
        sp__cfg_error(x, key, n, "%s: %s is not a string", key, v);
        return 0;
    }
    *out = n->value;
    return 1;
}

/* ---- suggestions ---- */

size_t sp__cfg_edit_distance(const char *a, const char *b)
{
    size_t const la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return (size_t)-1; /* no key is that long; keep the table small */
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t const up = row[j];
            int const same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            size_t best = diag + (same ? 0u : 1u);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *sp__cfg_suggest(const char *key, const char *const *candidates, size_t n)
{
    size_t const len = strlen(key);
    /* Allow about one typo per four characters: "batchsize" -> "batch_size", but not
     * "seed" -> "dt". */
    size_t const limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        size_t const dist = sp__cfg_edit_distance(key, candidates[i]);
        if (dist < best_d) {
            best_d = dist;
            best = candidates[i];
        }
    }
    return best;
}
