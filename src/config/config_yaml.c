/* config_yaml.c: YAML text -> an owned node tree, with hostile-input limits.
 *
 * Map of the module:
 *   sp__cfg_parse drives libyaml's event parser (yaml_parser_parse) and builds sp__cfg_node
 *   trees on an explicit stack of open collections, so nothing here recurses on input depth
 *   except node free/copy, whose depth is bounded by SP_CFG_MAX_DEPTH.
 *
 * YAML subset supported (YAML 1.1 as read by libyaml 0.2):
 *   - one document (a second document is an error); an empty document yields NULL;
 *   - block and flow mappings and sequences, plain / single / double quoted / literal /
 *     folded scalars, comments;
 *   - anchors and aliases: an alias is expanded as a deep copy of the anchored node. An alias
 *     to an anchor that is not complete yet (a recursive structure) or unknown is an error.
 *     Every copied node counts against SP_CFG_MAX_NODES / SP_CFG_MAX_BYTES, and a copy that
 *     would nest deeper than SP_CFG_MAX_DEPTH is an error: that defeats "billion laughs";
 *   - tags: "!!str" makes a scalar a string; the other yaml.org core tags (int, float, bool,
 *     null, seq, map) are accepted and ignored; any other tag is an error;
 *   - merge keys ("<<") are not supported (they surface as an unknown key);
 *   - a NUL character inside a scalar (written as "\0") is an error.
 * Positions reported are 1-based lines and columns.
 */
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct anchor {
    char *name;
    const sp__cfg_node *node;
} anchor;

typedef struct builder {
    sp_diag *d;
    sp__cfg_node *stack[SP_CFG_MAX_DEPTH + 1]; /* open collections */
    char *stack_anchor[SP_CFG_MAX_DEPTH + 1];  /* their anchors, registered when closed */
    int depth;
    sp__cfg_node *root;
    anchor *anchors;
    size_t n_anchors;
    size_t nodes, bytes;
    int nomem, failed, documents;
} builder;

void sp__cfg_node_free(sp__cfg_node *n)
{
    if (n == NULL) return;
    for (size_t i = 0; i < n->n; i++) sp__cfg_node_free(n->items[i]);
    free(n->items);
    free(n->value);
    free(n);
}

static void fail_at(builder *b, int line, int col, const char *what)
{
    b->failed = 1;
    sp__diag_add(b->d, SP_DIAG_ERROR, "", line, col, "YAML error at line %d, column %d: %s", line, col, what);
}

static sp__cfg_node *new_node(builder *b, sp__cfg_node_type t, const yaml_mark_t *m)
{
    if (b->nodes >= SP_CFG_MAX_NODES) {
        fail_at(b, (int)m->line + 1, (int)m->column + 1, "too many YAML nodes (limit 100000)");
        return NULL;
    }
    sp__cfg_node *const n = (sp__cfg_node *)calloc(1, sizeof *n);
    if (n == NULL) {
        b->nomem = 1;
        return NULL;
    }
    b->nodes++;
    n->type = t;
    n->line = (int)m->line + 1;
    n->column = (int)m->column + 1;
    n->height = 1;
    return n;
}

static int append_child(builder *b, sp__cfg_node *parent, sp__cfg_node *child)
{
    if ((parent->n & (parent->n - 1)) == 0) { /* grow at powers of two */
        size_t const cap = parent->n ? parent->n * 2 : 1;
        sp__cfg_node **const p = (sp__cfg_node **)realloc(parent->items, cap * sizeof *p);
        if (p == NULL) {
            b->nomem = 1;
            return 0;
        }
        parent->items = p;
    }
    parent->items[parent->n++] = child;
    if (child->height + 1 > parent->height) parent->height = child->height + 1;
    return 1;
}

/* Attaches a finished node to the open collection (or makes it the root). */
static int attach(builder *b, sp__cfg_node *n)
{
    if (b->depth == 0) {
        if (b->root != NULL) { /* cannot happen within one document; be safe */
            sp__cfg_node_free(n);
            return 0;
        }
        b->root = n;
        return 1;
    }
    if (!append_child(b, b->stack[b->depth - 1], n)) {
        sp__cfg_node_free(n);
        return 0;
    }
    return 1;
}

static int register_anchor(builder *b, char *name, const sp__cfg_node *n, const yaml_mark_t *m)
{
    if (name == NULL) return 1;
    if (b->n_anchors >= SP_CFG_MAX_ANCHORS) {
        free(name);
        fail_at(b, (int)m->line + 1, (int)m->column + 1, "too many YAML anchors (limit 1024)");
        return 0;
    }
    if ((b->n_anchors & (b->n_anchors + 1)) == 0 || b->anchors == NULL) {
        anchor *const p = (anchor *)realloc(b->anchors, (b->n_anchors * 2 + 2) * sizeof *p);
        if (p == NULL) {
            free(name);
            b->nomem = 1;
            return 0;
        }
        b->anchors = p;
    }
    b->anchors[b->n_anchors].name = name;
    b->anchors[b->n_anchors].node = n;
    b->n_anchors++;
    return 1;
}

static char *dup_str(builder *b, const char *s)
{
    if (s == NULL) return NULL;
    size_t const len = strlen(s);
    char *const p = (char *)malloc(len + 1);
    if (p == NULL) {
        b->nomem = 1;
        return NULL;
    }
    memcpy(p, s, len + 1);
    return p;
}

static sp__cfg_node *copy_node(builder *b, const sp__cfg_node *src, const yaml_mark_t *m)
{
    sp__cfg_node *const n = new_node(b, src->type, m);
    if (n == NULL) return NULL;
    n->plain = src->plain;
    if (src->value) {
        size_t const len = strlen(src->value);
        if (b->bytes + len > SP_CFG_MAX_BYTES) {
            fail_at(b, n->line, n->column, "YAML aliases expand to too much text (limit 32 MiB)");
            sp__cfg_node_free(n);
            return NULL;
        }
        b->bytes += len;
        n->value = dup_str(b, src->value);
        if (n->value == NULL) {
            sp__cfg_node_free(n);
            return NULL;
        }
    }
    for (size_t i = 0; i < src->n; i++) {
        sp__cfg_node *const c = copy_node(b, src->items[i], m);
        if (c == NULL || !append_child(b, n, c)) {
            sp__cfg_node_free(c);
            sp__cfg_node_free(n);
            return NULL;
        }
    }
    return n;
}

static int on_alias(builder *b, const yaml_event_t *e)
{
    const char *const name = (const char *)e->data.alias.anchor;
    const yaml_mark_t *const m = &e->start_mark;
    for (size_t i = b->n_anchors; i-- > 0;) { /* the latest definition wins, as in YAML */
        if (strcmp(b->anchors[i].name, name) != 0) continue;
        const sp__cfg_node *const src = b->anchors[i].node;
        if (b->depth + src->height > SP_CFG_MAX_DEPTH) {
            fail_at(b, (int)m->line + 1, (int)m->column + 1, "YAML nesting too deep (limit 64)");
            return 0;
        }
        sp__cfg_node *const n = copy_node(b, src, m);
        return n != NULL && attach(b, n);
    }
    char msg[200];
    snprintf(msg, sizeof msg, "alias '*%.100s' refers to an unknown or unfinished anchor", name);
    fail_at(b, (int)m->line + 1, (int)m->column + 1, msg);
    return 0;
}

/* Returns -1 for a tag we refuse, 1 for !!str, 0 otherwise. */
static int classify_tag(const yaml_char_t *tag)
{
    if (tag == NULL) return 0;
    const char *const t = (const char *)tag;
    static const char prefix[] = "tag:yaml.org,2002:";
    if (strncmp(t, prefix, sizeof prefix - 1) != 0) return strcmp(t, "!") == 0 ? 0 : -1;
    const char *const rest = t + sizeof prefix - 1;
    if (strcmp(rest, "str") == 0) return 1;
    static const char *const ok[] = {"int", "float", "bool", "null", "seq", "map"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(rest, ok[i]) == 0) return 0;
    return -1;
}

static int check_tag(builder *b, const yaml_char_t *tag, const yaml_mark_t *m)
{
    int const k = classify_tag(tag);
    if (k < 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "unsupported YAML tag '%.100s'", (const char *)tag);
        fail_at(b, (int)m->line + 1, (int)m->column + 1, msg);
    }
    return k;
}

static int on_scalar(builder *b, const yaml_event_t *e)
{
    const yaml_mark_t *const m = &e->start_mark;
    int const tag = check_tag(b, e->data.scalar.tag, m);
    if (tag < 0) return 0;
    size_t const len = e->data.scalar.length;
    if (memchr(e->data.scalar.value, '\0', len) != NULL) {
        fail_at(b, (int)m->line + 1, (int)m->column + 1, "NUL character in a scalar");
        return 0;
    }
    if (b->bytes + len > SP_CFG_MAX_BYTES) {
        fail_at(b, (int)m->line + 1, (int)m->column + 1, "too much text (limit 32 MiB)");
        return 0;
    }
    b->bytes += len;
    sp__cfg_node *const n = new_node(b, SP_CFG_SCALAR, m);
    if (n == NULL) return 0;
    n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && tag == 0;
    n->value = (char *)malloc(len + 1);
    if (n->value == NULL) {
        b->nomem = 1;
        sp__cfg_node_free(n);
        return 0;
    }
    memcpy(n->value, e->data.scalar.value, len);
    n->value[len] = '\0';
    if (!attach(b, n)) return 0;
    return register_anchor(b, dup_str(b, (const char *)e->data.scalar.anchor), n, m);
}

static int on_start(builder *b, const yaml_event_t *e, sp__cfg_node_type t)
{
    const yaml_mark_t *const m = &e->start_mark;
    const yaml_char_t *const tag = t == SP_CFG_SEQ ? e->data.sequence_start.tag : e->data.mapping_start.tag;
    const yaml_char_t *const anc = t == SP_CFG_SEQ ? e->data.sequence_start.anchor : e->data.mapping_start.anchor;
    if (check_tag(b, tag, m) < 0) return 0;
    if (b->depth >= SP_CFG_MAX_DEPTH) {
        fail_at(b, (int)m->line + 1, (int)m->column + 1, "YAML nesting too deep (limit 64)");
        return 0;
    }
    sp__cfg_node *const n = new_node(b, t, m);
    if (n == NULL) return 0;
    b->stack[b->depth] = n;
    b->stack_anchor[b->depth] = anc ? dup_str(b, (const char *)anc) : NULL;
    b->depth++;
    return !b->nomem;
}

static int on_end(builder *b, const yaml_event_t *e)
{
    if (b->depth == 0) return 0; /* libyaml guarantees balance; be safe */
    b->depth--;
    sp__cfg_node *const n = b->stack[b->depth];
    char *const anc = b->stack_anchor[b->depth];
    b->stack[b->depth] = NULL;
    b->stack_anchor[b->depth] = NULL;
    if (!attach(b, n)) {
        free(anc);
        return 0;
    }
    return register_anchor(b, anc, n, &e->start_mark);
}

static int on_event(builder *b, const yaml_event_t *e)
{
    switch (e->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->documents > 1) {
            fail_at(b, (int)e->start_mark.line + 1, (int)e->start_mark.column + 1,
                    "more than one YAML document; a configuration is a single mapping");
            return 0;
        }
        return 1;
    case YAML_SCALAR_EVENT: return on_scalar(b, e);
    case YAML_ALIAS_EVENT: return on_alias(b, e);
    case YAML_SEQUENCE_START_EVENT: return on_start(b, e, SP_CFG_SEQ);
    case YAML_MAPPING_START_EVENT: return on_start(b, e, SP_CFG_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: return on_end(b, e);
    case YAML_NO_EVENT:
    case YAML_STREAM_START_EVENT:
    case YAML_STREAM_END_EVENT:
    case YAML_DOCUMENT_END_EVENT: return 1;
    }
    return 1;
}

static void builder_release(builder *b)
{
    for (int i = 0; i < b->depth; i++) {
        sp__cfg_node_free(b->stack[i]);
        free(b->stack_anchor[i]);
    }
    for (size_t i = 0; i < b->n_anchors; i++) free(b->anchors[i].name);
    free(b->anchors);
}

static void syntax_error(builder *b, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR) {
        b->nomem = 1;
        return;
    }
    char ctx[160] = "";
    if (p->context)
        snprintf(ctx, sizeof ctx, " %s started at line %d, column %d", p->context,
                 (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    int const line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    b->failed = 1;
    sp__diag_add(b->d, SP_DIAG_ERROR, "", line, col, "YAML syntax error at line %d, column %d: %s%s", line,
                 col, p->problem ? p->problem : "malformed YAML", ctx);
}

sp_status sp__cfg_parse(const char *text, size_t len, sp__cfg_node **root, sp_diag *d)
{
    *root = NULL;
    builder b;
    memset(&b, 0, sizeof b);
    b.d = d;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return SP_ERR_NOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    for (int done = 0; !done && !b.failed && !b.nomem;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) {
            syntax_error(&b, &p);
            break;
        }
        done = e.type == YAML_STREAM_END_EVENT;
        on_event(&b, &e);
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&p);
    builder_release(&b);
    if (b.nomem || b.failed) {
        sp__cfg_node_free(b.root);
        return b.nomem ? SP_ERR_NOMEM : SP_ERR_CONFIG;
    }
    *root = b.root;
    return SP_OK;
}
