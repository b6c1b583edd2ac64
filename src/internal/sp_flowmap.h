/* sp_flowmap.h: flow files mapped read-only instead of read (core: src/core/fmap.c; io: the
 * .npy and .flo placements in src/io; used by src/loader). Never installed.
 *
 * A mapped flow's values are used where they lie in the page cache: no read() copy and no
 * pass of ours when the file is loaded. The loader defers the non-finite check to the
 * sampler, which does it in the pass that copies the values into the output flow
 * (docs/performance.md). A page the file loses while mapped (another process truncated it)
 * reads as zeros instead of killing the process, and the mapping is marked damaged; the
 * sampler checks the mark before a batch is returned and reports the file
 * (docs/durability.md). */
#ifndef SP_FLOWMAP_H
#define SP_FLOWMAP_H

#include <stddef.h>
#include <stdint.h>

#include "sp/sp_errors.h"
#include "sp/sp_flow.h"
#include "sp/sp_sink.h"
#include "sp_fsutil.h" /* sp_fs_place_fn */

/* One live mapping of a whole file, or none (base == NULL). Initialise with SP_FMAP_NONE. */
typedef struct sp_fmap {
    const unsigned char *base;
    size_t len;
    int slot;         /* registry entry, -1 when none */
    const char *path; /* borrowed from the caller of sp__fs_map_placed for the mapping's life */
    uint64_t dev, ino;
    int64_t mtime_s, mtime_ns; /* the file's identity and modification time when mapped */
} sp_fmap;

#define SP_FMAP_NONE {NULL, 0, -1, NULL, 0, 0, 0, 0}

/* The head/place protocol of sp__fs_read_placed, then the whole file mapped (private,
 * read-only, its pages mapped in on this thread) instead of read: place() returns
 * *dst != NULL (any value; nothing is written there) and *off when the bytes [off, size)
 * may be used in place; *data then
 * points at them, 4-byte aligned, and *map holds the mapping (any earlier one in *map must
 * have been released; path must outlive the mapping). *data = NULL when place() declines, the offset is not aligned, the
 * registry is full or mmap fails, and for files under min_len bytes (whose head is not
 * read): the caller reads the file instead. Errors are those of the open, the head's read
 * and place(). */
sp_status sp__fs_map_placed(const char *path, size_t max_len, size_t min_len, size_t head_max, sp_membuf *head,
                            sp_fs_place_fn place, void *ctx, sp_fmap *map, const unsigned char **data,
                            sp_error *err);
/* Unmaps and forgets the mapping (none: nothing); *m becomes SP_FMAP_NONE. */
void sp__fmap_release(sp_fmap *m);
/* 1 when the file may no longer hold what was mapped: a page of the mapping was lost (the
 * file shrank; its bytes read as zeros since), or the path now names a file of another
 * identity, size or modification time, or none (a stat). Nothing computed from a damaged
 * mapping may be returned. */
int sp__fmap_damaged(const sp_fmap *m);

/* .npy (float32 in the host's byte order, C order, (H, W, 2|3)) and .flo (little-endian
 * hosts) flows mapped: on success with *mapped = 1, out's shape is set and out->data points
 * into *map (out's earlier storage untouched: the caller keeps it); the values are NOT
 * checked for non-finite ones. *mapped = 0: another layout (or no mapping available), out
 * unchanged; read the file with sp_npy_read_flow_into / sp_flo_read_flow_into. Header errors
 * are those, and worded as, of the read functions. */
sp_status sp__npy_map_flow(const char *path, size_t max_len, size_t min_len, sp_flow *out, sp_membuf *head,
                           sp_fmap *map, int *mapped, sp_error *err);
sp_status sp__flo_map_flow(const char *path, size_t max_len, size_t min_len, sp_flow *out, sp_membuf *head,
                           sp_fmap *map, int *mapped, sp_error *err);

#endif /* SP_FLOWMAP_H */
