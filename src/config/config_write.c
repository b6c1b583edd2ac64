/* config_write.c: an sp_config -> YAML that loads back into an equal configuration.
 *
 * Every key of the table is written, in table order, one per line, in block style at the
 * top level and flow style for lists ("diameter_ranges: [[2, 4]]"). Numbers use the
 * shortest "%.*g" text that reads back to the same double, so the round trip is exact.
 * Strings are double-quoted with \", \\ and \xNN escapes for control bytes; other bytes are
 * copied as they are (a loaded configuration holds valid UTF-8, because libyaml rejects
 * anything else). device_ids is not written (nothing is stored for it), nor source_name.
 * Paths are written as resolved, so the output does not depend on the reader's directory
 * whenever the configuration was loaded from a file.
 */
#include "config_keys.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"

typedef struct writer {
    const sp_sink *sink;
    sp_error *err;
    sp_status st;
} writer;

static void emit(writer *w, const char *s)
{
    if (w->st == SP_OK) w->st = sp_sink_write(w->sink, s, strlen(s), w->err);
}

static void emitf(writer *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void emitf(writer *w, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    emit(w, buf);
}

static void emit_string(writer *w, const char *s)
{
    emit(w, "\"");
    char chunk[256];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (n + 8 > sizeof chunk) {
            chunk[n] = '\0';
            emit(w, chunk);
            n = 0;
        }
        if (*p == '"' || *p == '\\') n += (size_t)snprintf(chunk + n, sizeof chunk - n, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) n += (size_t)snprintf(chunk + n, sizeof chunk - n, "\\x%02x", *p);
        else chunk[n++] = (char)*p;
    }
    chunk[n] = '\0';
    emit(w, chunk);
    emit(w, "\"");
}

static void emit_num(writer *w, double v)
{
    char b[40];
    sp__cfg_format_double(v, b, sizeof b);
    emit(w, b);
}

static void emit_range(writer *w, const sp_range *r)
{
    emit(w, "[");
    emit_num(w, r->min);
    emit(w, ", ");
    emit_num(w, r->max);
    emit(w, "]");
}

static void emit_analytic(writer *w, const sp_config *c)
{
    if (c->n_analytic == 0) {
        emit(w, "[]");
        return;
    }
    char buf[1024];
    for (size_t i = 0; i < c->n_analytic && i < SP_CONFIG_MAX_ANALYTIC; i++) {
        sp__cfg_analytic_write(&c->analytic[i], buf, sizeof buf);
        emitf(w, "\n  - %s", buf);
    }
}

static void emit_value(writer *w, const sp_config *c, const sp__key_desc *k)
{
    const void *const f = (const char *)c + k->off;
    switch (k->type) {
    case SP_K_ENUM: {
        int v;
        memcpy(&v, f, sizeof v);
        emit_string(w, v >= 0 && (size_t)v < k->n_names ? k->names[v] : "?");
        return;
    }
    case SP_K_INT:
    case SP_K_BITDEPTH: emitf(w, "%d", *(const int *)f); return;
    case SP_K_SIZE: emitf(w, "%zu", *(const size_t *)f); return;
    case SP_K_U64: emitf(w, "%llu", (unsigned long long)*(const uint64_t *)f); return;
    case SP_K_BOOL: emit(w, *(const int *)f ? "true" : "false"); return;
    case SP_K_NUMBER: emit_num(w, *(const double *)f); return;
    case SP_K_SHAPE: emitf(w, "[%zu, %zu]", ((const size_t *)f)[0], ((const size_t *)f)[1]); return;
    case SP_K_PAIR: {
        sp_range const r = {((const double *)f)[0], ((const double *)f)[1]};
        emit_range(w, &r);
        return;
    }
    case SP_K_RANGE: emit_range(w, (const sp_range *)f); return;
    case SP_K_RANGES: {
        size_t const n = *(const size_t *)(const void *)((const char *)c + k->count_off);
        emit(w, "[");
        for (size_t i = 0; i < n && i < SP_CONFIG_MAX_RANGES; i++) {
            if (i) emit(w, ", ");
            emit_range(w, &((const sp_range *)f)[i]);
        }
        emit(w, "]");
        return;
    }
    case SP_K_STRLIST:
        emit(w, "[");
        for (size_t i = 0; i < c->file_list_len; i++) {
            if (i) emit(w, ", ");
            emit_string(w, c->file_list[i]);
        }
        emit(w, "]");
        return;
    case SP_K_PATH: {
        const char *const s = *(char *const *)f;
        if (s) emit_string(w, s);
        else emit(w, "null");
        return;
    }
    case SP_K_ANALYTIC: emit_analytic(w, c); return;
    case SP_K_DEVICES: return;
    }
}

/* A required key that was never set holds a zero that its own rule rejects (resolution 0,
 * batches_per_flow_batch 0 in real-image mode...), and an analytic_flow list is empty for the
 * other sources. Writing them would make the output fail to load, so they become comments. */
static int is_placeholder(const sp_config *c, const sp__key_desc *k)
{
    const void *const f = (const char *)c + k->off;
    switch (k->type) {
    case SP_K_INT: return *(const int *)f < (int)k->b.lo;
    case SP_K_SIZE: return *(const size_t *)f < (size_t)k->b.lo;
    case SP_K_NUMBER: return !sp__bounds_ok(&k->b, *(const double *)f);
    case SP_K_PAIR: return !sp__bounds_ok(&k->b, ((const double *)f)[0]) || !sp__bounds_ok(&k->b, ((const double *)f)[1]);
    case SP_K_ANALYTIC: return c->n_analytic == 0;
    case SP_K_ENUM:
    case SP_K_U64:
    case SP_K_BOOL:
    case SP_K_SHAPE:
    case SP_K_RANGE:
    case SP_K_RANGES:
    case SP_K_STRLIST:
    case SP_K_PATH:
    case SP_K_BITDEPTH:
    case SP_K_DEVICES: return 0;
    }
    return 0;
}

sp_status sp_config_write_yaml(const sp_config *c, const sp_sink *sink, sp_error *err)
{
    SP_RETURN_IF(c == NULL || sink == NULL, err, SP_ERR_INVALID, "sp_config_write_yaml: NULL argument");
    writer w = {sink, err, SP_OK};
    emit(&w, "# synthpix resolved configuration");
    if (c->source_name) {
        emit(&w, " (from ");
        /* The name is a comment: keep it on one line whatever it contains. */
        for (const char *p = c->source_name; *p; p++) {
            char const ch[2] = {(*p == '\n' || *p == '\r') ? ' ' : *p, '\0'};
            emit(&w, ch);
        }
        emit(&w, ")");
    }
    emit(&w, "\n");
    for (size_t i = 0; i < sp__cfg_nkeys; i++) {
        const sp__key_desc *const k = &sp__cfg_keys[i];
        if (k->type == SP_K_DEVICES) continue;
        if (is_placeholder(c, k)) {
            emitf(&w, "# %s: not set\n", k->name);
            continue;
        }
        emitf(&w, k->type == SP_K_ANALYTIC ? "%s:" : "%s: ", k->name); /* a block list follows */
        emit_value(&w, c, k);
        emit(&w, "\n");
    }
    return w.st;
}
