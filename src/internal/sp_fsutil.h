/* sp_fsutil.h: the durable-file helpers of the core module, shared by every module that
 * writes or reads files (ckpt, dataset, matio_h5, io). Never installed.
 *
 * Every helper except sp__fs_read_whole goes through an sp_fs table, so a test can fail
 * any call. Messages name the file (`shown`, or the path) and carry strerror's reason.
 * docs/durability.md states the commit protocol these helpers implement:
 *
 *   sp__fs_write_atomic: create "<path>.sp-tmp-<tag>-<random>" (O_EXCL | O_NOFOLLOW),
 *   write, fsync, close (checked), rename over path, fsync the parent directory.
 *
 * A temporary's name carries the caller's tag, so a later run of the same family can find
 * and remove exactly the temporaries its own protocol created, and nothing else.
 */
#ifndef SP_FSUTIL_H
#define SP_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "sp/sp_errors.h"
#include "sp/sp_fs.h"
#include "sp/sp_sink.h" /* sp_membuf */

/* Marker of every temporary file or directory the library creates: "<final>.sp-tmp-...". */
#define SP_FS_TMP_TAG ".sp-tmp-"
#define SP_FS_PATH_MAX 4096

/* Maps a negative errno to a status (NOSPC, NOTFOUND, EXISTS, NOMEM, else IO). */
sp_status sp__fs_errno_status(int neg_errno);
/* Sets err to "<op> <shown>: <strerror>" with the status of e (negative errno). A symbolic
 * link where we create (ELOOP, EEXIST on a link) is worded as such. */
sp_status sp__fs_fail(sp_error *err, int neg_errno, const char *op, const char *shown);

/* 64 unpredictable bits (getrandom; a clock-and-pid mix if that fails). */
uint64_t sp__fs_random64(void);

/* Creates path exclusively, writes n bytes, fsyncs when durable, closes (checked). */
sp_status sp__fs_write_file(const sp_fs *fs, const char *path, const void *data, size_t n,
                            int durable, const char *shown, sp_error *err);
/* The same, also returning the CRC32C of the bytes written (computed piecewise while the
 * data is in cache). */
sp_status sp__fs_write_file_crc(const sp_fs *fs, const char *path, const void *data, size_t n,
                                int durable, uint32_t *crc, const char *shown, sp_error *err);
/* Writes all n bytes to an open descriptor (loops on short writes). */
sp_status sp__fs_write_all(const sp_fs *fs, int fd, const void *data, size_t n, const char *shown,
                           sp_error *err);

/* Reads at most max bytes. *n is the real length when <= max; a longer file is
 * SP_ERR_RANGE. *buf is malloc'd with one extra NUL byte. -ENOENT gives SP_ERR_NOTFOUND. */
sp_status sp__fs_read_file(const sp_fs *fs, const char *path, size_t max, unsigned char **buf,
                           size_t *n, const char *shown, sp_error *err);
/* Reads up to cap bytes into dst; *n receives the bytes read; *longer is set when the file
 * holds more than cap bytes. The _crc form also returns the CRC32C of the bytes read. */
sp_status sp__fs_read_into(const sp_fs *fs, const char *path, void *dst, size_t cap, size_t *n,
                           int *longer, const char *shown, sp_error *err);
sp_status sp__fs_read_into_crc(const sp_fs *fs, const char *path, void *dst, size_t cap, size_t *n,
                               int *longer, uint32_t *crc, const char *shown, sp_error *err);

/* Opens the directory and fsyncs it (creation, rename and removal of its entries become
 * durable). */
sp_status sp__fs_fsync_dir(const sp_fs *fs, const char *path, const char *shown, sp_error *err);
/* Opens the directory and syncs the whole file system holding it (many files at once). */
sp_status sp__fs_sync_fs(const sp_fs *fs, const char *dir, sp_error *err);
/* The parent directory of path ("." when it has no slash) into buf. 0 when it does not fit. */
int sp__fs_parent(const char *path, char *buf, size_t cap);

/* "<path>.sp-tmp-<tag>-<16 random hex digits>" into buf; 0 when it does not fit. */
int sp__fs_tmp_name(char *buf, size_t cap, const char *path, const char *tag);
/* The whole-file commit protocol (see the top of this file). tag names the run family
 * ("0" when the caller has none). With durable == 0 the fsyncs are skipped (the caller makes
 * a batch of files durable at once, e.g. with sp__fs_sync_fs, before it relies on them). On
 * failure the temporary is removed and nothing new has the final name. */
sp_status sp__fs_write_atomic(const sp_fs *fs, const char *path, const char *tag, const void *data,
                              size_t n, int durable, sp_error *err);
/* The same, durable, but without the final fsync of the directory: the caller fsyncs it
 * itself, after the further changes to the directory that fsync is to cover too. */
sp_status sp__fs_write_atomic_no_dir_sync(const sp_fs *fs, const char *path, const char *tag, const void *data,
                                          size_t n, sp_error *err);

/* mkdir -p: creates every missing component of path (0755). An existing non-directory
 * component is an error naming it. */
sp_status sp__fs_mkdirs(const sp_fs *fs, const char *path, sp_error *err);

/* Takes an exclusive advisory lock (flock) on the lock file at path, created when missing
 * (O_NOFOLLOW: a symbolic link there is refused by name). *fd receives the descriptor to
 * keep open while the lock is held (close it to release). When another process holds the
 * lock: SP_ERR_LOCKED, and *holder_pid the holder's pid (from /proc/locks; 0 unknown). */
sp_status sp__fs_lock_file(const sp_fs *fs, const char *path, int *fd, long *holder_pid, sp_error *err);

/* Removes a tree of files that this library created (best effort); never follows a
 * symbolic link. Returns 0 or the first negative errno. */
int sp__fs_rm_rf(const sp_fs *fs, const char *path);

/* Reads the whole regular file at path (an input: flows, images) into a fresh malloc'd
 * buffer (*buf, never NULL on success) of *len bytes; files longer than max_len give
 * SP_ERR_RANGE before anything is allocated. Plain POSIX: inputs are not fault-injected. */
sp_status sp__fs_read_whole(const char *path, size_t max_len, unsigned char **buf, size_t *len,
                            sp_error *err);

/* The same into a reused buffer: buf->data is kept when buf->capacity holds the file, grown
 * (realloc) otherwise; buf->size receives the length. For the loader's steady state. */
sp_status sp__fs_read_whole_into(const char *path, size_t max_len, sp_membuf *buf, sp_error *err);

/* Opens a regular file of at most max_len bytes read-only: *fd (the caller closes it) and
 * *size. Messages name the path and the OS reason, or the limit. */
sp_status sp__fs_open_regular(const char *path, size_t max_len, int *fd, size_t *size, sp_error *err);
/* The first `have` bytes of the open file into head (reused; head->size = have). */
sp_status sp__fs_read_head(int fd, const char *path, sp_membuf *head, size_t have, sp_error *err);

/* A file read in two parts, so its data can land where it will be used (the loader's flow
 * files, read straight into the flow's storage). The first min(size, head_max) bytes are
 * read into head (reused like sp__fs_read_whole_into's buffer); then place(ctx, head bytes,
 * their count, file size, &dst, &off, err) decides: *dst = NULL reads the rest into head
 * too (head->size = the file size, as sp__fs_read_whole_into), otherwise bytes [off, size)
 * are read into *dst, which place() sized (head->size = the head's count). An error from
 * place() is returned as it is. Plain POSIX, like sp__fs_read_whole. */
typedef sp_status (*sp_fs_place_fn)(void *ctx, const unsigned char *head, size_t head_len, size_t file_size,
                                    unsigned char **dst, size_t *off, sp_error *err);
sp_status sp__fs_read_placed(const char *path, size_t max_len, size_t head_max, sp_membuf *head,
                             sp_fs_place_fn place, void *ctx, sp_error *err);

uint32_t sp__crc32c_portable(uint32_t crc, const void *data, size_t n);

#endif /* SP_FSUTIL_H */
