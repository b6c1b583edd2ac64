/* io_private.h: helpers shared by the src/io readers and writers (never installed).
 *
 * Byte access is endian-explicit (STYLE rule 30): multi-byte fields are assembled from bytes,
 * never read by casting a pointer into a file buffer.
 */
#ifndef SP_IO_PRIVATE_H
#define SP_IO_PRIVATE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sp/sp_errors.h"

/* The name used in messages when the caller gave none. */
static inline const char *sp__io_name(const char *name)
{
    return name != NULL ? name : "(memory)";
}

/* Reads the whole regular file at path into a fresh malloc'd buffer (*buf, freed by the
 * caller with free(); never NULL on success, even for an empty file) of *len bytes.
 * Files longer than max_len give SP_ERR_RANGE before anything is allocated. */
sp_status sp__io_read_whole(const char *path, size_t max_len, unsigned char **buf, size_t *len,
                            sp_error *err);

/* 1 when the host stores integers little-endian. */
static inline int sp__io_host_is_le(void)
{
    uint16_t const one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static inline uint64_t sp__io_load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Reverses the bytes of each of n elements of size es (1, 2, 4 or 8) in place. */
void sp__io_byteswap(unsigned char *p, size_t n, size_t es);

#endif /* SP_IO_PRIVATE_H */
