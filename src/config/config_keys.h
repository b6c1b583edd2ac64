/* config_keys.h: the table of configuration keys, shared by the loader and the writer.
 *
 * One descriptor per key: its name, its type, where it lives in sp_config and its bounds.
 * The table order is the order in which sp_config_write_yaml prints keys, and a key's index
 * in the table is its bit in sp_config.present_mask_.
 */
#ifndef SP_CONFIG_KEYS_H
#define SP_CONFIG_KEYS_H

#include "config_internal.h"

typedef enum sp__key_type {
    SP_K_ENUM = 0, /* int-sized enum, value = index into names */
    SP_K_INT,      /* int, bounds b (hi_kind 0 = INT_MAX) */
    SP_K_SIZE,     /* size_t, >= b.lo */
    SP_K_U64,      /* uint64_t */
    SP_K_BOOL,     /* int 0/1 */
    SP_K_NUMBER,   /* double within b */
    SP_K_SHAPE,    /* size_t[2], each in [1, SP_CFG_MAX_IMAGE_DIM] */
    SP_K_PAIR,     /* double[2], each within b */
    SP_K_RANGE,    /* sp_range within b */
    SP_K_RANGES,   /* sp_range[SP_CONFIG_MAX_RANGES] + size_t count at count_off */
    SP_K_STRLIST,  /* char ** + size_t count at count_off; a string or a list of strings */
    SP_K_PATH,     /* char * or NULL */
    SP_K_BITDEPTH, /* int, 8 or 16 */
    SP_K_ANALYTIC, /* analytic_flow */
    SP_K_DEVICES   /* device_ids: validated, not stored */
} sp__key_type;

typedef struct sp__key_desc {
    const char *name;
    sp__key_type type;
    size_t off;       /* offsetof(sp_config, field) */
    size_t count_off; /* SP_K_RANGES / SP_K_STRLIST: offsetof the count field */
    sp__bounds b;
    const char *const *names; /* SP_K_ENUM: value names, indexed by enum value */
    size_t n_names;
} sp__key_desc;

#define SP_CFG_MAX_IMAGE_DIM 100000
#define SP_CFG_MAX_SIGMA 1e5               /* SP_GAUSS_SIGMA_MAX of the flow module */
#define SP_CFG_MAX_DISPLACEMENT 3.4e38    /* kinematic peaks are stored as float32 */

extern const sp__key_desc sp__cfg_keys[];
extern const size_t sp__cfg_nkeys;

/* Index of a key in sp__cfg_keys, or -1. */
int sp__cfg_key_index(const char *name);

#endif /* SP_CONFIG_KEYS_H */
