/* config_internal.h: private interfaces of the configuration module (never installed).
 *
 * The module has four parts:
 *   config_yaml.c     YAML text -> a small owned node tree (sp__cfg_node), with limits on
 *                     nesting depth, node count and bytes so that alias bombs cannot blow up.
 *   config_value.c    typed conversion of one node (int, number, bool, range...) with the
 *                     uniform error messages "key: VALUE is ...; expected ...".
 *   config_load.c     the key table, the mode-dependent required keys, cross-field rules.
 *   config_analytic.c the analytic_flow extension (one mapping or a list of mappings).
 * plus config_write.c (YAML writer), config_diag.c (diagnostics) and config_default.c.
 */
#ifndef SP_CONFIG_INTERNAL_H
#define SP_CONFIG_INTERNAL_H

#include <stddef.h>

#include "sp/sp_config.h"

/* Limits that keep hostile input bounded (every reader treats its input as hostile; the
 * limits are listed in docs/configuration.md, "How a file is checked").
 * A real configuration has a few hundred nodes and a nesting depth below 5. */
#define SP_CFG_MAX_DEPTH 64
#define SP_CFG_MAX_NODES 100000u       /* including nodes copied by aliases */
#define SP_CFG_MAX_BYTES (32u << 20)   /* scalar bytes, including alias copies */
#define SP_CFG_MAX_ANCHORS 1024u
#define SP_CFG_MAX_FILE_BYTES (16u << 20)

typedef enum sp__cfg_node_type { SP_CFG_SCALAR = 0, SP_CFG_SEQ, SP_CFG_MAP } sp__cfg_node_type;

/* One YAML node. A mapping stores its pairs flattened: items[2k] is key k, items[2k+1] its
 * value. Scalars never contain a NUL byte (rejected by the parser), so value is a C string. */
typedef struct sp__cfg_node {
    sp__cfg_node_type type;
    int line, column;             /* 1-based position of the node's start */
    int plain;                    /* scalar written unquoted and untagged (so it may be a
                                     number, a bool or null); 0 for quoted or !!str */
    int height;                   /* 1 for a scalar, 1 + tallest child otherwise */
    char *value;                  /* scalar text (owned), NULL for collections */
    struct sp__cfg_node **items;  /* children (owned) */
    size_t n;                     /* number of entries in items */
} sp__cfg_node;

/* Parses text into *root (NULL for an empty document). Syntax errors and limit violations
 * go to d with line and column. Returns SP_OK, SP_ERR_CONFIG or SP_ERR_NOMEM. */
sp_status sp__cfg_parse(const char *text, size_t len, sp__cfg_node **root, sp_diag *d);
void sp__cfg_node_free(sp__cfg_node *n); /* NULL allowed */

/* ---- diagnostics ---- */
/* Appends a diagnostic (d may be NULL); key may be NULL; line/column 0 when unknown.
 * Returns 0 when the item could not be stored (d NULL or out of memory). */
int sp__diag_add(sp_diag *d, sp_diag_level level, const char *key, int line, int column,
                 const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* ---- geometry (config_geometry.c) ---- */
/* Computes g from c and appends one error per impossible part (keyed, no position);
 * returns the number of errors. */
size_t sp__geometry_check(const sp_config *c, sp_geometry *g, sp_diag *d);

/* ---- typed values (config_value.c) ---- */

/* Bounds of a number: kind 0 = no bound, 1 = inclusive, 2 = exclusive. */
typedef struct sp__bounds {
    double lo, hi;
    unsigned char lo_kind, hi_kind;
} sp__bounds;

/* The state of one load: where diagnostics go and how many errors were seen. */
typedef struct sp__cfg_ctx {
    sp_config *c;
    sp_diag *d;
    size_t errors; /* counted here too, because d may be NULL */
    int nomem;
} sp__cfg_ctx;

void sp__cfg_error(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void sp__cfg_warn(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* A short rendering of a node for messages: the scalar as written (strings quoted), or a
 * compact flow rendering of a collection, truncated with "...". */
void sp__cfg_render(const sp__cfg_node *n, char *buf, size_t cap);
/* "a number in [0, 1]", "a number > 0", ... */
void sp__bounds_describe(const sp__bounds *b, const char *what, char *buf, size_t cap);
int sp__bounds_ok(const sp__bounds *b, double v);

int sp__cfg_is_null(const sp__cfg_node *n);
/* Each returns 1 and stores the value, or reports an error naming key and returns 0. */
int sp__cfg_get_int(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, long long lo,
                    long long hi, long long *out);
int sp__cfg_get_u64(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, unsigned long long *out);
int sp__cfg_get_bool(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, int *out);
int sp__cfg_get_number(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n,
                       const sp__bounds *b, double *out);
/* A [min, max] pair with min <= max, both inside b. */
int sp__cfg_get_range(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, const sp__bounds *b,
                      double out[2]);
/* A list of exactly two numbers, each inside b. */
int sp__cfg_get_pair(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, const sp__bounds *b,
                     double out[2]);
/* A string scalar (a plain scalar counts as a string too, as in YAML). */
int sp__cfg_get_string(sp__cfg_ctx *x, const char *key, const sp__cfg_node *n, const char **out);

/* Edit distance (case-insensitive) used for "did you mean" suggestions. */
size_t sp__cfg_edit_distance(const char *a, const char *b);
/* The nearest candidate within a useful distance, or NULL. */
const char *sp__cfg_suggest(const char *key, const char *const *candidates, size_t n);

/* ---- analytic_flow (config_analytic.c) ---- */
void sp__cfg_load_analytic(sp__cfg_ctx *x, const sp__cfg_node *n);
/* Writes one analytic entry as a YAML flow mapping into buf (for config_write.c). */
void sp__cfg_analytic_write(const sp_analytic_params *p, char *buf, size_t cap);
int sp__cfg_analytic_equal(const sp_analytic_params *a, const sp_analytic_params *b);

/* Shortest "%.*g" text that reads back as exactly v. buf must hold 32 bytes. */
void sp__cfg_format_double(double v, char *buf, size_t cap);

#endif /* SP_CONFIG_INTERNAL_H */
