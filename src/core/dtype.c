/* dtype.c: the one table of element types (sp_dtype.h): size, NumPy descr, NumPy name. */
#include "sp/sp_dtype.h"

#include <string.h>

#include "sp_internal.h"

typedef struct dtype_info {
    char kind; /* 'b', 'u', 'i', 'f' */
    unsigned char size;
    const char *descr;
    const char *name;
} dtype_info;

/* Indexed by sp_dtype. */
static const dtype_info dtype_table[SP_DTYPE_COUNT_] = {
    {'b', 1, "|b1", "bool"},   {'u', 1, "|u1", "uint8"},  {'i', 1, "|i1", "int8"},
    {'u', 2, "<u2", "uint16"}, {'i', 2, "<i2", "int16"},  {'u', 4, "<u4", "uint32"},
    {'i', 4, "<i4", "int32"},  {'u', 8, "<u8", "uint64"}, {'i', 8, "<i8", "int64"},
    {'f', 4, "<f4", "float32"}, {'f', 8, "<f8", "float64"},
};

size_t sp_dtype_size(sp_dtype t)
{
    return (unsigned)t < SP_DTYPE_COUNT_ ? dtype_table[t].size : 0;
}

const char *sp_dtype_name(sp_dtype t)
{
    return (unsigned)t < SP_DTYPE_COUNT_ ? dtype_table[t].descr : NULL;
}

const char *sp_dtype_numpy_name(sp_dtype t)
{
    return (unsigned)t < SP_DTYPE_COUNT_ ? dtype_table[t].name : "?";
}

int sp_dtype_from_descr(const char *d, sp_dtype *out, int *swap)
{
    if (d == NULL || strlen(d) != 3) return 0;
    char const order = d[0];
    if (order != '<' && order != '>' && order != '|') return 0;
    for (unsigned i = 0; i < SP_DTYPE_COUNT_; i++) {
        const dtype_info *const di = &dtype_table[i];
        if (d[1] != di->kind || d[2] != (char)('0' + di->size)) continue;
        if (order == '|' && di->size != 1) return 0;
        *out = (sp_dtype)i;
        if (swap) *swap = di->size > 1 && ((order == '>') == sp__host_is_le());
        return 1;
    }
    return 0;
}

int sp_dtype_from_numpy_name(const char *name, sp_dtype *out)
{
    for (unsigned i = 0; name && i < SP_DTYPE_COUNT_; i++) {
        if (strcmp(name, dtype_table[i].name) == 0) {
            *out = (sp_dtype)i;
            return 1;
        }
    }
    return 0;
}
