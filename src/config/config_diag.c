/* config_diag.c: the diagnostics list (errors and warnings) of a configuration load.
 *
 * An sp_diag is a growable array of fixed-size items; messages longer than an item are
 * truncated (they are one-line sentences, far below the 512-byte limit in practice).
 * Adding never fails loudly: on out-of-memory the item is dropped and the caller, which
 * counts its own errors, still fails the load.
 */
#include "config_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sp_diag_init(sp_diag *d)
{
    memset(d, 0, sizeof *d);
}

void sp_diag_free(sp_diag *d)
{
    if (d == NULL) return;
    free(d->items);
    memset(d, 0, sizeof *d);
}

size_t sp_diag_errors(const sp_diag *d)
{
    size_t n = 0;
    if (d == NULL) return 0;
    for (size_t i = 0; i < d->count; i++) n += d->items[i].level == SP_DIAG_ERROR;
    return n;
}

void sp_diag_print(const sp_diag *d, const char *source, FILE *f)
{
    if (d == NULL || f == NULL) return;
    const char *const src = source ? source : "config";
    for (size_t i = 0; i < d->count; i++) {
        const sp_diag_item *const it = &d->items[i];
        const char *const lvl = it->level == SP_DIAG_ERROR ? "error" : "warning";
        if (it->line > 0)
            fprintf(f, "%s:%d:%d: %s: %s\n", src, it->line, it->column, lvl, it->message);
        else
            fprintf(f, "%s: %s: %s\n", src, lvl, it->message);
    }
}

static sp_diag_item *diag_push(sp_diag *d)
{
    if (d->count == d->capacity) {
        size_t const cap = d->capacity ? d->capacity * 2 : 8;
        sp_diag_item *const p = (sp_diag_item *)realloc(d->items, cap * sizeof *p);
        if (p == NULL) return NULL;
        d->items = p;
        d->capacity = cap;
    }
    sp_diag_item *const it = &d->items[d->count++];
    memset(it, 0, sizeof *it);
    return it;
}

int sp__diag_add(sp_diag *d, sp_diag_level level, const char *key, int line, int column,
                 const char *fmt, ...)
{
    if (d == NULL) return 0;
    /* A hostile file could produce one diagnostic per node; cap the list so a fuzzed input
     * cannot make it huge. 1000 messages are more than anyone reads. */
    if (d->count >= 1000) return 0;
    sp_diag_item *const it = diag_push(d);
    if (it == NULL) return 0;
    it->level = level;
    it->line = line;
    it->column = column;
    snprintf(it->key, sizeof it->key, "%s", key ? key : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->message, sizeof it->message, fmt, ap);
    va_end(ap);
    return 1;
}
