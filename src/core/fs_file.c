/* fs_file.c: the durable-file helpers (src/internal/sp_fsutil.h) over an sp_fs table.
 *
 * Whole-file writes with a CRC computed while the bytes are in cache, bounded reads,
 * directory fsync and file-system sync, the atomic whole-file commit (temporary with a tagged
 * unpredictable name, fsync, rename, fsync of the parent) and its public form
 * sp_fs_replace_file (which also refuses to replace a link or a directory), mkdir -p with checked status, and
 * the removal of trees this library created. Every call goes through the table, so a test
 * can fail any of them; messages name the file and the OS reason.
 */
#include "sp_fsutil.h"
#include "sp_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

sp_status sp__fs_errno_status(int neg_errno)
{
    switch (-neg_errno) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return SP_ERR_NOSPC;
    case ENOENT: return SP_ERR_NOTFOUND;
    case EEXIST:
    case ENOTEMPTY: return SP_ERR_EXISTS;
    case ENOMEM: return SP_ERR_NOMEM;
    default: return SP_ERR_IO;
    }
}

sp_status sp__fs_fail(sp_error *err, int e, const char *op, const char *shown)
{
    if (e == -ELOOP)
        return sp_error_set(err, SP_ERR_IO, "%s %s: is a symbolic link (refused: never written through)", op,
                            shown);
    return sp_error_set(err, sp__fs_errno_status(e), "%s %s: %s", op, shown, strerror(-e));
}

/* Pieces of this size are checksummed right before they are written (or right after they
 * are read), while they are still in cache: one pass over memory instead of two. */
#define CRC_PIECE ((size_t)1 << 20)

sp_status sp__fs_write_file_crc(const sp_fs *fs, const char *path, const void *data, size_t n,
                                  int durable, uint32_t *crc, const char *shown, sp_error *err)
{
    int const fd = fs->open(fs->ctx, path, 'w');
    if (fd < 0) return sp__fs_fail(err, fd, "create", shown);
    const unsigned char *p = (const unsigned char *)data;
    size_t left = n;
    int e = 0;
    const char *op = "write";
    if (crc) *crc = 0;
    while (left > 0 && e == 0) {
        size_t piece = left < CRC_PIECE ? left : CRC_PIECE;
        if (crc) *crc = sp_crc32c(*crc, p, piece);
        while (piece > 0 && e == 0) { /* loops on short writes */
            int64_t const w = fs->write(fs->ctx, fd, p, piece);
            if (w < 0) e = (int)w;
            else if (w == 0) e = -EIO; /* no progress: treat as an I/O error, never spin */
            else {
                p += w;
                piece -= (size_t)w;
                left -= (size_t)w;
            }
        }
    }
    if (e == 0 && durable) {
        e = fs->fsync(fs->ctx, fd);
        op = "fsync";
    }
    int const c = fs->close(fs->ctx, fd);
    if (e == 0 && c < 0) {
        e = c;
        op = "close";
    }
    return e ? sp__fs_fail(err, e, op, shown) : SP_OK;
}

sp_status sp__fs_write_file(const sp_fs *fs, const char *path, const void *data, size_t n,
                              int durable, const char *shown, sp_error *err)
{
    return sp__fs_write_file_crc(fs, path, data, n, durable, NULL, shown, err);
}

sp_status sp__fs_read_into_crc(const sp_fs *fs, const char *path, void *dst, size_t cap,
                                 size_t *n, int *longer, uint32_t *crc, const char *shown, sp_error *err)
{
    int const fd = fs->open(fs->ctx, path, 'r');
    if (fd < 0) {
        if (fd == -ENOENT) return sp_error_set(err, SP_ERR_NOTFOUND, "%s: file is missing", shown);
        return sp__fs_fail(err, fd, "open", shown);
    }
    unsigned char *p = (unsigned char *)dst;
    size_t got = 0;
    int e = 0;
    if (crc) *crc = 0;
    while (got < cap) {
        size_t const limit = crc ? CRC_PIECE : ((size_t)1 << 30);
        size_t const want = cap - got < limit ? cap - got : limit;
        int64_t const r = fs->read(fs->ctx, fd, p + got, want);
        if (r < 0) {
            e = (int)r;
            break;
        }
        if (r == 0) break;
        if (crc) *crc = sp_crc32c(*crc, p + got, (size_t)r);
        got += (size_t)r;
    }
    *longer = 0;
    if (e == 0 && got == cap) {
        unsigned char extra;
        int64_t const r = fs->read(fs->ctx, fd, &extra, 1);
        if (r < 0) e = (int)r;
        *longer = r > 0;
    }
    fs->close(fs->ctx, fd); /* read-only descriptor: nothing to lose */
    if (e) return sp__fs_fail(err, e, "read", shown);
    *n = got;
    return SP_OK;
}

sp_status sp__fs_read_into(const sp_fs *fs, const char *path, void *dst, size_t cap,
                             size_t *n, int *longer, const char *shown, sp_error *err)
{
    return sp__fs_read_into_crc(fs, path, dst, cap, n, longer, NULL, shown, err);
}

sp_status sp__fs_read_file(const sp_fs *fs, const char *path, size_t max, unsigned char **buf,
                             size_t *n, const char *shown, sp_error *err)
{
    *buf = NULL;
    uint64_t size = 0;
    int is_dir = 0;
    int const s = fs->stat(fs->ctx, path, &size, &is_dir);
    if (s == -ENOENT) return sp_error_set(err, SP_ERR_NOTFOUND, "%s: file is missing", shown);
    if (s < 0) return sp__fs_fail(err, s, "stat", shown);
    if (is_dir) return sp_error_set(err, SP_ERR_CORRUPT, "%s: is a directory", shown);
    if (size > max) return sp_error_set(err, SP_ERR_RANGE, "%s: %llu bytes, limit %zu", shown,
                                        (unsigned long long)size, max);
    /* The size may change under us; read at most max and report a longer file. */
    size_t const cap = (size_t)size + 1 <= max ? (size_t)size + 1 : max;
    unsigned char *const b = (unsigned char *)malloc(cap + 1);
    if (b == NULL) return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", shown);
    size_t got = 0;
    int longer = 0;
    sp_status const st = sp__fs_read_into(fs, path, b, cap, &got, &longer, shown, err);
    if (st != SP_OK) {
        free(b);
        return st;
    }
    if (longer) {
        free(b);
        return sp_error_set(err, SP_ERR_RANGE, "%s: larger than %zu bytes", shown, max);
    }
    b[got] = 0;
    *buf = b;
    *n = got;
    return SP_OK;
}

sp_status sp__fs_fsync_dir(const sp_fs *fs, const char *path, const char *shown, sp_error *err)
{
    int const fd = fs->open(fs->ctx, path, 'd');
    if (fd < 0) return sp__fs_fail(err, fd, "open directory", shown);
    int const e = fs->fsync(fs->ctx, fd);
    int const c = fs->close(fs->ctx, fd);
    if (e) return sp__fs_fail(err, e, "fsync directory", shown);
    return c ? sp__fs_fail(err, c, "close directory", shown) : SP_OK;
}

typedef struct rm_ctx {
    const sp_fs *fs;
    const char *dir;
    int first_error;
} rm_ctx;

static int rm_entry(void *ctx, const char *name, int is_dir)
{
    rm_ctx *const r = (rm_ctx *)ctx;
    char path[SP_FS_PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", r->dir, name) >= sizeof path) return 0;
    int const e = is_dir ? sp__fs_rm_rf(r->fs, path) : r->fs->unlink(r->fs->ctx, path);
    if (e < 0 && r->first_error == 0) r->first_error = e;
    return 0;
}

int sp__fs_rm_rf(const sp_fs *fs, const char *path)
{
    rm_ctx r = {fs, path, 0};
    int const l = fs->list(fs->ctx, path, rm_entry, &r);
    if (l < 0 && l != -ENOENT && r.first_error == 0) r.first_error = l;
    int const d = fs->rmdir(fs->ctx, path);
    if (d < 0 && d != -ENOENT && r.first_error == 0) r.first_error = d;
    return r.first_error;
}

sp_status sp__fs_write_all(const sp_fs *fs, int fd, const void *data, size_t n, const char *shown,
                           sp_error *err)
{
    const unsigned char *p = (const unsigned char *)data;
    while (n > 0) {
        int64_t const w = fs->write(fs->ctx, fd, p, n);
        if (w < 0) return sp__fs_fail(err, (int)w, "write", shown);
        if (w == 0) return sp__fs_fail(err, -EIO, "write", shown); /* no progress: never spin */
        p += w;
        n -= (size_t)w;
    }
    return SP_OK;
}

uint64_t sp__fs_random64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v) return v;
    /* No entropy pool yet (early boot): mix what differs between calls and processes. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    v = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)&v;
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    return v ^ (v >> 33);
}

sp_status sp__fs_sync_fs(const sp_fs *fs, const char *dir, sp_error *err)
{
    int const fd = fs->open(fs->ctx, dir, 'd');
    if (fd < 0) return sp__fs_fail(err, fd, "open directory", dir);
    int const e = fs->syncfs(fs->ctx, fd);
    int const c = fs->close(fs->ctx, fd);
    if (e) return sp__fs_fail(err, e, "sync file system of", dir);
    return c ? sp__fs_fail(err, c, "close directory", dir) : SP_OK;
}

int sp__fs_parent(const char *path, char *buf, size_t cap)
{
    const char *const slash = strrchr(path, '/');
    if (slash == NULL) return (size_t)snprintf(buf, cap, ".") < cap;
    size_t const n = slash == path ? 1 : (size_t)(slash - path);
    if (n + 1 > cap) return 0;
    memcpy(buf, path, n);
    buf[n] = '\0';
    return 1;
}

int sp__fs_tmp_name(char *buf, size_t cap, const char *path, const char *tag)
{
    int const n = snprintf(buf, cap, "%s" SP_FS_TMP_TAG "%s-%016llx", path, tag ? tag : "0",
                           (unsigned long long)sp__fs_random64());
    return n > 0 && (size_t)n < cap;
}

/* Creates a fresh temporary for path (a name collision, which needs a planted file with our
 * random name, is retried with new random bits) and returns its descriptor. */
static int create_tmp(const sp_fs *fs, const char *path, const char *tag, char *tmp, size_t cap, sp_error *err)
{
    int fd = -EEXIST;
    for (int attempt = 0; attempt < 8 && fd == -EEXIST; attempt++) {
        if (!sp__fs_tmp_name(tmp, cap, path, tag)) {
            sp_error_set(err, SP_ERR_INVALID, "%s: path too long", path);
            return -ENAMETOOLONG;
        }
        fd = fs->open(fs->ctx, tmp, 'w');
    }
    if (fd < 0) sp__fs_fail(err, fd, "create", tmp);
    return fd;
}

/* The protocol up to the rename: temporary, write, fsync (fsync_file), close, rename. */
static sp_status write_renamed(const sp_fs *fs, const char *path, const char *tag, const void *data, size_t n,
                               int fsync_file, sp_error *err)
{
    char tmp[SP_FS_PATH_MAX];
    int const fd = create_tmp(fs, path, tag, tmp, sizeof tmp, err);
    if (fd < 0) return err ? err->status : sp__fs_errno_status(fd);
    sp_status st = sp__fs_write_all(fs, fd, data, n, tmp, err);
    if (st == SP_OK && fsync_file) {
        int const e = fs->fsync(fs->ctx, fd);
        if (e) st = sp__fs_fail(err, e, "fsync", tmp);
    }
    int const c = fs->close(fs->ctx, fd);
    if (st == SP_OK && c) st = sp__fs_fail(err, c, "close", tmp);
    if (st == SP_OK) {
        int const r = fs->rename(fs->ctx, tmp, path);
        if (r) st = sp__fs_fail(err, r, "rename to", path);
    }
    if (st != SP_OK) fs->unlink(fs->ctx, tmp); /* ours: created above with O_EXCL */
    return st;
}

sp_status sp__fs_write_atomic(const sp_fs *fs, const char *path, const char *tag, const void *data,
                              size_t n, int durable, sp_error *err)
{
    SP_TRY(write_renamed(fs, path, tag, data, n, durable, err));
    if (!durable) return SP_OK;
    char dir[SP_FS_PATH_MAX];
    if (!sp__fs_parent(path, dir, sizeof dir)) return sp_error_set(err, SP_ERR_INVALID, "%s: path too long", path);
    return sp__fs_fsync_dir(fs, dir, dir, err);
}

sp_status sp__fs_write_atomic_no_dir_sync(const sp_fs *fs, const char *path, const char *tag, const void *data,
                                          size_t n, sp_error *err)
{
    return write_renamed(fs, path, tag, data, n, 1, err);
}

/* What sp_fs_replace_file may replace: nothing, or a regular file (as far as stat and
 * is_link tell), in an existing folder (which may be a user's link to one). */
static sp_status check_replaceable(const sp_fs *fs, const char *path, sp_error *err)
{
    char dir[SP_FS_PATH_MAX];
    if (!sp__fs_parent(path, dir, sizeof dir)) return sp_error_set(err, SP_ERR_INVALID, "%s: path too long", path);
    int const fd = fs->open(fs->ctx, dir, 'd');
    if (fd == -ENOENT) return sp_error_set(err, SP_ERR_NOTFOUND, "%s: folder %s does not exist", path, dir);
    if (fd == -ENOTDIR) return sp_error_set(err, SP_ERR_NOTFOUND, "%s: %s is not a folder", path, dir);
    if (fd < 0) return sp__fs_fail(err, fd, "open folder", dir);
    fs->close(fs->ctx, fd); /* read-only descriptor: nothing to lose */
    int is_dir = 0;
    int const s = fs->stat(fs->ctx, path, NULL, &is_dir);
    if (s == -ENOENT) return SP_OK;
    if (s < 0) return sp__fs_fail(err, s, "stat", path);
    if (fs->is_link(fs->ctx, path))
        return sp_error_set(err, SP_ERR_EXISTS, "%s: is a symbolic link (refused: never replaced or written through)",
                            path);
    if (is_dir)
        return sp_error_set(err, SP_ERR_EXISTS, "%s: is a directory (refused: only a regular file is replaced)", path);
    return SP_OK;
}

sp_status sp_fs_replace_file(const sp_fs *fs, const char *path, const void *data, size_t n, sp_error *err)
{
    if (fs == NULL) fs = sp_fs_posix();
    SP_RETURN_IF(path == NULL || path[0] == '\0', err, SP_ERR_INVALID, "replace file: empty path");
    SP_RETURN_IF(data == NULL && n > 0, err, SP_ERR_INVALID, "%s: no data", path);
    SP_TRY(check_replaceable(fs, path, err));
    return sp__fs_write_atomic(fs, path, "0", data, n, 1, err);
}

/* path exists: a directory, or a symbolic link leading to one (a user's own link), is fine. */
static sp_status existing_dir(const sp_fs *fs, const char *path, sp_error *err)
{
    int is_dir = 0;
    int const s = fs->stat(fs->ctx, path, NULL, &is_dir);
    if (s < 0) return sp__fs_fail(err, s, "create directory", path);
    if (is_dir) return SP_OK;
    if (!fs->is_link(fs->ctx, path)) return sp_error_set(err, SP_ERR_IO, "%s: %s", path, strerror(ENOTDIR));
    int const fd = fs->open(fs->ctx, path, 'd');
    if (fd < 0) return sp__fs_fail(err, fd, "create directory", path);
    fs->close(fs->ctx, fd);
    return SP_OK;
}

static sp_status mkdir_one(const sp_fs *fs, const char *path, sp_error *err)
{
    int const e = fs->mkdir(fs->ctx, path);
    if (e == 0) return SP_OK;
    return e == -EEXIST ? existing_dir(fs, path, err) : sp__fs_fail(err, e, "create directory", path);
}

/* Creates path after its missing parents; tmp is path's writable copy. Components that
 * exist are only looked at, so mkdir is called for missing ones alone. */
static sp_status mkdirs_rec(const sp_fs *fs, char *tmp, sp_error *err)
{
    if (fs->stat(fs->ctx, tmp, NULL, NULL) == 0) return existing_dir(fs, tmp, err);
    char *const slash = strrchr(tmp, '/');
    if (slash && slash != tmp) {
        *slash = '\0';
        sp_status const st = mkdirs_rec(fs, tmp, err);
        *slash = '/';
        SP_TRY(st);
    }
    return mkdir_one(fs, tmp, err);
}

sp_status sp__fs_mkdirs(const sp_fs *fs, const char *path, sp_error *err)
{
    char tmp[SP_FS_PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s", path) >= sizeof tmp)
        return sp_error_set(err, SP_ERR_INVALID, "%s: path too long", path);
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/') tmp[--n] = '\0';
    for (char *p = tmp; (p = strstr(p, "//")) != NULL;) memmove(p, p + 1, strlen(p)); /* a//b is a/b */
    sp_status const st = mkdirs_rec(fs, tmp, err);
    return st == SP_OK || strstr(err ? err->message : "", path) ? st : sp_error_prefix(err, "create directory %s: ", path);
}

static sp_status read_fd(int fd, const char *path, unsigned char *buf, size_t len, sp_error *err)
{
    size_t got = 0;
    while (got < len) {
        ssize_t const r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return sp_error_set(err, SP_ERR_IO, "%s: read failed: %s", path, strerror(errno));
        if (r == 0)
            return sp_error_set(err, SP_ERR_IO, "%s: file shrank while reading (%zu of %zu bytes)", path, got, len);
        got += (size_t)r;
    }
    return SP_OK;
}

static sp_status read_open_fd(int fd, const char *path, size_t max_len, unsigned char **buf, size_t *len,
                              sp_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return sp_error_set(err, SP_ERR_IO, "%s: stat failed: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return sp_error_set(err, SP_ERR_IO, "%s: not a regular file", path);
    if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)max_len)
        return sp_error_set(err, SP_ERR_RANGE, "%s: file is %lld bytes, over the limit of %zu bytes", path,
                            (long long)st.st_size, max_len);
    size_t const n = (size_t)st.st_size;
    unsigned char *const b = (unsigned char *)malloc(n ? n : 1);
    if (b == NULL) return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    sp_status const s = read_fd(fd, path, b, n, err);
    if (s != SP_OK) {
        free(b);
        return s;
    }
    *buf = b;
    *len = n;
    return SP_OK;
}

/* Grows buf to hold n bytes (realloc: its contents are kept). */
static sp_status membuf_reserve(sp_membuf *buf, size_t n, const char *path, sp_error *err)
{
    if (buf->data != NULL && buf->capacity >= n) return SP_OK;
    size_t const cap = n > buf->capacity * 2 ? n : buf->capacity * 2; /* geometric: few regrowths */
    unsigned char *const d = (unsigned char *)realloc(buf->data, cap ? cap : 1);
    SP_RETURN_IF(d == NULL, err, SP_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    buf->data = d;
    buf->capacity = cap ? cap : 1;
    return SP_OK;
}

/* Opens a regular file of at most max_len bytes; *fd and *size on success. */
sp_status sp__fs_open_regular(const char *path, size_t max_len, int *fd, size_t *size, sp_error *err)
{
    if (path == NULL) return sp_error_set(err, SP_ERR_INVALID, "(null path): cannot open");
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return sp_error_set(err, errno == ENOENT ? SP_ERR_NOTFOUND : SP_ERR_IO, "%s: cannot open: %s", path,
                            strerror(errno));
    struct stat st;
    sp_status s = SP_OK;
    if (fstat(*fd, &st) != 0) s = sp_error_set(err, SP_ERR_IO, "%s: stat failed: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode)) s = sp_error_set(err, SP_ERR_IO, "%s: not a regular file", path);
    else if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)max_len)
        s = sp_error_set(err, SP_ERR_RANGE, "%s: file is %lld bytes, over the limit of %zu bytes", path,
                         (long long)st.st_size, max_len);
    if (s != SP_OK) {
        close(*fd);
        *fd = -1;
        return s;
    }
    *size = (size_t)st.st_size;
    return SP_OK;
}

sp_status sp__fs_read_head(int fd, const char *path, sp_membuf *head, size_t have, sp_error *err)
{
    head->size = 0;
    SP_TRY(membuf_reserve(head, have, path, err));
    SP_TRY(read_fd(fd, path, head->data, have, err));
    head->size = have;
    return SP_OK;
}

/* Bytes [off, n) of the open file into dst, given that [0, have) are in head already. */
static sp_status read_rest_into(int fd, const char *path, const unsigned char *head, size_t have, size_t off,
                                size_t n, unsigned char *dst, sp_error *err)
{
    if (off < have) { /* the head holds the first data bytes: copy them, read on from `have` */
        memcpy(dst, head + off, have - off);
        return read_fd(fd, path, dst + (have - off), n - have, err);
    }
    if (off > have && lseek(fd, (off_t)off, SEEK_SET) < 0)
        return sp_error_set(err, SP_ERR_IO, "%s: seek failed: %s", path, strerror(errno));
    return read_fd(fd, path, dst, n - off, err);
}

sp_status sp__fs_read_placed(const char *path, size_t max_len, size_t head_max, sp_membuf *head,
                             sp_fs_place_fn place, void *ctx, sp_error *err)
{
    head->size = 0;
    int fd = -1;
    size_t n = 0;
    SP_TRY(sp__fs_open_regular(path, max_len, &fd, &n, err));
    size_t const have = n < head_max ? n : head_max;
    sp_status s = membuf_reserve(head, have, path, err);
    if (s == SP_OK) s = read_fd(fd, path, head->data, have, err);
    unsigned char *dst = NULL;
    size_t off = 0;
    if (s == SP_OK) s = place(ctx, head->data, have, n, &dst, &off, err);
    if (s == SP_OK && dst == NULL) { /* the whole file into head */
        s = membuf_reserve(head, n, path, err);
        if (s == SP_OK) s = read_fd(fd, path, head->data + have, n - have, err);
        if (s == SP_OK) head->size = n;
    } else if (s == SP_OK) {
        SP_ASSERT(off <= n);
        s = read_rest_into(fd, path, head->data, have, off, n, dst, err);
        if (s == SP_OK) head->size = have;
    }
    close(fd);
    return s;
}

sp_status sp__fs_read_whole_into(const char *path, size_t max_len, sp_membuf *buf, sp_error *err)
{
    buf->size = 0;
    int fd = -1;
    size_t n = 0;
    SP_TRY(sp__fs_open_regular(path, max_len, &fd, &n, err));
    sp_status s = membuf_reserve(buf, n, path, err);
    if (s == SP_OK) s = read_fd(fd, path, buf->data, n, err);
    if (s == SP_OK) buf->size = n;
    close(fd);
    return s;
}

sp_status sp__fs_read_whole(const char *path, size_t max_len, unsigned char **buf, size_t *len, sp_error *err)
{
    *buf = NULL;
    *len = 0;
    if (path == NULL) return sp_error_set(err, SP_ERR_INVALID, "(null path): cannot open");
    int const fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sp_error_set(err, errno == ENOENT ? SP_ERR_NOTFOUND : SP_ERR_IO, "%s: cannot open: %s", path,
                            strerror(errno));
    sp_status const s = read_open_fd(fd, path, max_len, buf, len, err);
    close(fd);
    return s;
}

/* The pid holding a flock on the file with this device and inode, from /proc/locks lines
 * "N: FLOCK  ADVISORY  WRITE <pid> <maj>:<min>:<inode> 0 EOF"; 0 when not found. */
static long flock_holder(dev_t dev, ino_t ino)
{
    FILE *const f = fopen("/proc/locks", "re");
    if (f == NULL) return 0;
    char line[256];
    long pid = 0;
    while (pid == 0 && fgets(line, sizeof line, f)) {
        char kind[16];
        long p = 0;
        unsigned maj = 0, min = 0;
        unsigned long long inode = 0;
        if (sscanf(line, "%*[^:]: %15s %*s %*s %ld %x:%x:%llu", kind, &p, &maj, &min, &inode) != 5) continue;
        if (strcmp(kind, "FLOCK") == 0 && inode == (unsigned long long)ino && makedev(maj, min) == dev) pid = p;
    }
    fclose(f);
    return pid;
}

sp_status sp__fs_lock_file(const sp_fs *fs, const char *path, int *fd, long *holder_pid, sp_error *err)
{
    *fd = -1;
    *holder_pid = 0;
    int const f = fs->open(fs->ctx, path, 'l');
    if (f < 0) return sp__fs_fail(err, f, "open lock file", path);
    int const e = fs->lock(fs->ctx, f);
    if (e == 0) {
        *fd = f;
        return SP_OK;
    }
    struct stat st;
    if ((e == -EWOULDBLOCK || e == -EAGAIN) && fstat(f, &st) == 0) *holder_pid = flock_holder(st.st_dev, st.st_ino);
    fs->close(fs->ctx, f);
    if (e == -EWOULDBLOCK || e == -EAGAIN) return sp_error_set(err, SP_ERR_LOCKED, "%s is locked", path);
    return sp__fs_fail(err, e, "lock", path);
}
