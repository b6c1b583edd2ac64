/* synthpix: the file-system layer and CRC32C.
 *
 * Every file the library writes or reads back for durability (checkpoint steps, dataset
 * files, HDF5 shards, params.jsonl, dataset.json) goes through one table of calls, sp_fs,
 * so a test can fail the Nth call with any errno and check what survives. The POSIX table
 * is the default everywhere an options struct takes an `fs` (NULL = sp_fs_posix()).
 *
 * Calls return 0 (or a non-negative descriptor or byte count) on success and a negative
 * errno value on failure. Paths are NUL-terminated. Files the library creates are opened
 * with O_EXCL and O_NOFOLLOW, so a planted file or symbolic link is never written through;
 * see docs/durability.md for the commit protocol built on these calls.
 *
 * Thread safety: the POSIX table is stateless and may be used by any number of threads. A
 * table written by a caller must be safe for every thread that uses it (the checkpoint
 * manager's async worker, the dataset writer's pool).
 */
#ifndef SP_FS_H
#define SP_FS_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* int64_t, uint64_t, uint32_t */

#include "sp/sp_api.h"
#include "sp/sp_errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called for each directory entry except "." and ".."; is_dir is 0 for a symbolic link,
 * whatever it points to. A non-zero result stops the walk and is returned by list. */
typedef int (*sp_fs_list_fn)(void *cb_ctx, const char *name, int is_dir);

typedef struct sp_fs {
    void *ctx; /* passed to every call; borrowed */
    /* flags: 'r' read only (follows symbolic links: inputs may be links);
     *        'w' create a new file, write only (O_EXCL | O_NOFOLLOW: -EEXIST when anything,
     *            even a dangling link, has the name);
     *        'a' an existing regular file, read-write (O_NOFOLLOW: -ELOOP for a link);
     *        'd' a directory, read only (for fsync, syncfs and locks);
     *        'l' create or open a lock file, read-write (O_NOFOLLOW: -ELOOP for a link).
     * Returns a descriptor >= 0. */
    int (*open)(void *ctx, const char *path, char flags);
    int64_t (*read)(void *ctx, int fd, void *buf, size_t n);        /* may be short */
    int64_t (*write)(void *ctx, int fd, const void *buf, size_t n); /* may be short */
    int (*fsync)(void *ctx, int fd);
    int (*close)(void *ctx, int fd);
    int (*mkdir)(void *ctx, const char *path);
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*unlink)(void *ctx, const char *path);
    int (*rmdir)(void *ctx, const char *path);
    int (*list)(void *ctx, const char *dir, sp_fs_list_fn cb, void *cb_ctx);
    /* lstat: never follows a final symbolic link. size and is_dir may be NULL. */
    int (*stat)(void *ctx, const char *path, uint64_t *size, int *is_dir);
    int (*lock)(void *ctx, int fd); /* exclusive, non-blocking: -EWOULDBLOCK when held */
    int64_t (*now_ns)(void *ctx);   /* wall clock, ns since the Unix epoch */
    /* Cuts the file to size bytes and moves the file offset there. */
    int (*truncate)(void *ctx, int fd, uint64_t size);
    /* Flushes every dirty file of the file system holding fd (Linux syncfs). */
    int (*syncfs)(void *ctx, int fd);
    /* lstat's file type: 1 when path is a symbolic link, 0 when it is anything else. */
    int (*is_link)(void *ctx, const char *path);
    /* Swaps two existing names in one atomic step (Linux renameat2 RENAME_EXCHANGE): after
     * it, a names what b named and b what a named. May be NULL; a table or a file system
     * that cannot do it returns -ENOSYS, -EINVAL or -EOPNOTSUPP, and callers fall back to
     * two renames (sp_ckpt_save_at says what that changes). */
    int (*exchange)(void *ctx, const char *a, const char *b);
} sp_fs;

/* The POSIX file system (stateless; the returned pointer is static and immutable). */
SP_API const sp_fs *sp_fs_posix(void);

/* Replaces the whole file at path with the n bytes at data, atomically and durably, as the
 * library commits its own files (docs/durability.md): a temporary "<path>.sp-tmp-0-<random>"
 * is created next to it (O_EXCL | O_NOFOLLOW), written, fsync'd and closed, renamed over
 * path, and the folder is fsync'd. A reader sees the old file or the new one, never a part of
 * either. path must name nothing or a regular file: a symbolic link there (wherever it
 * points) or a directory is refused with SP_ERR_EXISTS and left as it is; a missing folder
 * is SP_ERR_NOTFOUND. (sp_fs's stat cannot tell a FIFO or a device from a regular file; a
 * caller that may meet one checks with lstat first.) On failure the temporary is removed and
 * path still holds its old bytes, except when only the final folder fsync fails: the new file
 * is then in place and the error names the folder.
 * fs: NULL = sp_fs_posix(), borrowed for the call; data borrowed for the call. */
SP_API sp_status sp_fs_replace_file(const sp_fs *fs, const char *path, const void *data, size_t n, sp_error *err);

/* CRC32C (Castagnoli, reflected, init and xorout 0xFFFFFFFF) continued from crc (0 to
 * start): sp_crc32c(0, "123456789", 9) == 0xE3069283. */
SP_API uint32_t sp_crc32c(uint32_t crc, const void *data, size_t n);

#if defined(SP_EXPERIMENTAL_API)
/* ---- experimental: fault injection (tests) ------------------------------------------ */

/* Which calls a faulty fs counts. */
enum {
    SP_FS_OP_OPEN = 1u << 0,
    SP_FS_OP_WRITE = 1u << 1,
    SP_FS_OP_FSYNC = 1u << 2,
    SP_FS_OP_RENAME = 1u << 3,
    SP_FS_OP_MKDIR = 1u << 4,
    SP_FS_OP_READ = 1u << 5,
    SP_FS_OP_CLOSE = 1u << 6,
    SP_FS_OP_TRUNCATE = 1u << 7,
    SP_FS_OP_SYNCFS = 1u << 8,
    SP_FS_OP_ALL = 0x1ffu /* exchange counts as a rename */
};

/* Wraps another fs and fails the Nth counted call. Counters live in the object (no global
 * state); calls are counted without locking, so use it from one thread at a time. */
typedef struct sp_fs_faulty {
    sp_fs fs;            /* the table to pass as an options' fs */
    const sp_fs *base;   /* borrowed; must outlive this object */
    unsigned ops_mask;   /* which calls are counted (SP_FS_OP_*) */
    uint64_t fail_at;    /* 1-based index of the counted call to fail; 0 = never */
    int fail_errno;      /* positive errno to return, e.g. ENOSPC or EIO */
    int sticky;          /* 1: every counted call after fail_at fails too (a full disk) */
    uint64_t count;      /* counted calls so far (read it after a run to size a sweep) */
    uint64_t failures;   /* calls failed so far */
    int64_t clock_ns;    /* > 0: now_ns returns this value (a settable simulated clock) */
} sp_fs_faulty;

/* base borrowed; counts every op in ops_mask, fails none until fail_at is set. */
SP_API void sp_fs_faulty_init(sp_fs_faulty *f, const sp_fs *base, unsigned ops_mask);
#endif /* SP_EXPERIMENTAL_API */

#ifdef __cplusplus
}
#endif
#endif /* SP_FS_H */
