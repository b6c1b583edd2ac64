/* group_internal.h: the messages of a group's job (group_wire.c), for generate_group.c.
 *
 * Every message is one line of compact JSON (jansson), optionally followed by raw bytes;
 * status messages are {"status": <sp_status>, "message": <text>, ...}. An exchange is the
 * group's collective (sp_group.h) with its failures turned into statuses that name the rank
 * and the exchange.
 */
#ifndef SP_GROUP_INTERNAL_H
#define SP_GROUP_INTERNAL_H

#include <jansson.h>

#include "dataset_internal.h"

/* The group and a lengths array of g->size entries for its exchanges. */
typedef struct sp__wire {
    const sp_group *g;
    size_t *lens;
} sp__wire;

sp_status sp__wire_open(sp__wire *w, const sp_group *g, sp_error *err);
void sp__wire_close(sp__wire *w);
/* One exchange (see sp_group_exchange_fn); *out: free with free(). */
sp_status sp__wire_exchange(sp__wire *w, const char *name, int root, const void *data, size_t n,
                            unsigned char **out, sp_error *err);
/* o's JSON (consumed) plus a newline, malloc'd; NULL when out of memory. */
char *sp__wire_line(json_t *o, size_t *n);
/* The JSON object at the head of msg and, in *rest, where the bytes after it start; NULL
 * when malformed. */
json_t *sp__wire_parse(const unsigned char *msg, size_t n, size_t *rest);
/* {"status", "message"}: the message only for a failure. */
json_t *sp__wire_status(sp_status st, const sp_error *e);
/* Rank 0 sends `mine` (consumed; ignored on other ranks) to every rank; every rank returns
 * the status and message it carries, and on success *v (NULL allowed) keeps the object. */
sp_status sp__wire_verdict(sp__wire *w, const char *name, json_t *mine, json_t **v, sp_error *err);
/* The first failure among every rank's status message in all (lengths w->lens), named
 * "rank r: ..." above rank 0; SP_OK when none. */
sp_status sp__wire_first_failure(const sp__wire *w, const unsigned char *all, sp_error *err);

#endif /* SP_GROUP_INTERNAL_H */
