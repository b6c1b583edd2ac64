/* group_wire.c: the messages a group's ranks exchange (group_internal.h), sp_group_init
 * and sp_group_agree (sp_group.h).
 *
 * The transport is the caller's (sp_group.exchange: MPI in synthpix-mpi); here its results
 * become statuses: a deadline passed is SP_ERR_TIMEOUT naming the exchange, any other
 * failure SP_ERR_IO. Messages are parsed as hostile input: a malformed one is an error
 * naming the rank that sent it, never a crash.
 */
#include "group_internal.h"

#include <errno.h>

void sp_group_init(sp_group *g)
{
    memset(g, 0, sizeof *g);
    g->struct_size = sizeof *g;
    g->size = 1;
    g->timeout_ms = 1200000;
}

sp_status sp__wire_open(sp__wire *w, const sp_group *g, sp_error *err)
{
    w->g = g;
    w->lens = (size_t *)calloc(g->size, sizeof *w->lens);
    return w->lens ? SP_OK : sp_error_set(err, SP_ERR_NOMEM, "out of memory");
}

void sp__wire_close(sp__wire *w)
{
    free(w->lens);
    w->lens = NULL;
}

sp_status sp__wire_exchange(sp__wire *w, const char *name, int root, const void *data, size_t n,
                            unsigned char **out, sp_error *err)
{
    void *o = NULL;
    int const rc = w->g->exchange(w->g->ctx, name, root, data, n, &o, w->lens);
    *out = (unsigned char *)o;
    if (rc == 0) return SP_OK;
    free(o);
    *out = NULL;
    if (rc == -ETIMEDOUT)
        return sp_error_set(err, SP_ERR_TIMEOUT, "rank %u: the other processes did not reach '%s' within %lld s",
                            w->g->rank, name, (long long)(w->g->timeout_ms / 1000));
    return sp_error_set(err, SP_ERR_IO, "rank %u: the exchange '%s' failed: %s", w->g->rank, name,
                        strerror(rc < 0 ? -rc : EIO));
}

char *sp__wire_line(json_t *o, size_t *n)
{
    char *const text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (text == NULL) return NULL;
    size_t const len = strlen(text);
    char *const line = (char *)realloc(text, len + 2);
    if (line == NULL) {
        free(text);
        return NULL;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    *n = len + 1;
    return line;
}

json_t *sp__wire_parse(const unsigned char *msg, size_t n, size_t *rest)
{
    const unsigned char *const nl = n ? (const unsigned char *)memchr(msg, '\n', n) : NULL;
    if (nl == NULL) return NULL;
    *rest = (size_t)(nl - msg) + 1;
    json_t *const o = json_loadb((const char *)msg, (size_t)(nl - msg), 0, NULL);
    if (o && !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *sp__wire_status(sp_status st, const sp_error *e)
{
    return json_pack("{s:i, s:s}", "status", (int)st, "message", st == SP_OK || e == NULL ? "" : e->message);
}

sp_status sp__wire_verdict(sp__wire *w, const char *name, json_t *mine, json_t **v, sp_error *err)
{
    static const char nomem[] = "{\"status\": -1, \"message\": \"rank 0: out of memory\"}\n";
    int const root = w->g->rank == 0;
    size_t n = 0;
    char *const line = root ? sp__wire_line(mine, &n) : NULL;
    if (!root) json_decref(mine);
    unsigned char *all = NULL;
    sp_status st = sp__wire_exchange(w, name, -1, line ? line : (root ? nomem : NULL),
                                     line ? n : (root ? sizeof nomem - 1 : 0), &all, err);
    free(line);
    if (st != SP_OK) return st;
    size_t rest = 0;
    json_t *const o = sp__wire_parse(all, w->lens[0], &rest);
    free(all);
    if (o == NULL) return sp_error_set(err, SP_ERR_CORRUPT, "rank %u: a malformed '%s' from rank 0", w->g->rank, name);
    st = (sp_status)json_integer_value(json_object_get(o, "status"));
    const char *const msg = json_string_value(json_object_get(o, "message"));
    if (st != SP_OK) sp_error_set(err, st, "%s", msg ? msg : "");
    if (v && st == SP_OK) *v = o;
    else json_decref(o);
    return st;
}

sp_status sp__wire_first_failure(const sp__wire *w, const unsigned char *all, sp_error *err)
{
    size_t off = 0;
    for (unsigned r = 0; r < w->g->size; r++) {
        size_t rest = 0;
        json_t *const o = sp__wire_parse(all + off, w->lens[r], &rest);
        off += w->lens[r];
        sp_status const st = o ? (sp_status)json_integer_value(json_object_get(o, "status")) : SP_ERR_CORRUPT;
        const char *msg = o ? json_string_value(json_object_get(o, "message")) : "a malformed message";
        if (msg == NULL) msg = "";
        if (st != SP_OK && r == 0) sp_error_set(err, st, "%s", msg);
        else if (st != SP_OK) sp_error_set(err, st, "rank %u: %s", r, msg);
        json_decref(o);
        if (st != SP_OK) return st;
    }
    return SP_OK;
}

sp_status sp_group_agree(const sp_group *g, const char *name, sp_status mine, const sp_error *mine_err, sp_error *err)
{
    SP_RETURN_IF(g == NULL || g->struct_size != sizeof *g || g->rank >= g->size || (g->size > 1 && !g->exchange), err,
                 SP_ERR_INVALID, "group: not initialised with sp_group_init, or rank outside the group");
    if (g->size == 1) return mine == SP_OK ? SP_OK : sp_error_set(err, mine, "%s", mine_err ? mine_err->message : "");
    sp__wire w;
    SP_TRY(sp__wire_open(&w, g, err));
    size_t n = 0;
    char *const line = sp__wire_line(sp__wire_status(mine, mine_err), &n);
    unsigned char *all = NULL;
    sp_status st = sp__wire_exchange(&w, name, -1, line ? line : "\n", line ? n : 1, &all, err);
    free(line);
    if (st == SP_OK) st = sp__wire_first_failure(&w, all, err);
    free(all);
    sp__wire_close(&w);
    return st;
}
