/* io_private.h: helpers shared by the src/io readers and writers (never installed).
 *
 * Byte access is endian-explicit: multi-byte fields are assembled from bytes with the loaders
 * of src/internal/sp_internal.h, never read by casting a pointer into a file buffer.
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

/* Reverses the bytes of each of n elements of size es (1, 2, 4 or 8) in place. */
void sp__io_byteswap(unsigned char *p, size_t n, size_t es);

#endif /* SP_IO_PRIVATE_H */
