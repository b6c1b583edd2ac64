/* ckpt_fs.c: the file-system layer of the checkpoint manager.
 *
 * sp_ckpt_fs_posix() is a stateless table over POSIX calls: it loops on EINTR, returns
 * negative errno values, and opens files with O_CLOEXEC. The fault-injecting table
 * (sp_ckpt_faulty_fs) forwards to a base table and fails the Nth counted call; its
 * counters live in the object the caller owns (no global state). The helpers at the end
 * (whole-file write with fsync, bounded reads, directory fsync, recursive removal) are the
 * only way the rest of the module touches files, so every call can be failed by a test.
 */
#include "ckpt_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- POSIX ---- */

static int px_open(void *ctx, const char *path, char flags)
{
    (void)ctx;
    int of = O_CLOEXEC;
    switch (flags) {
    case 'r': of |= O_RDONLY; break;
    case 'w': of |= O_WRONLY | O_CREAT | O_EXCL; break;
    case 'd': of |= O_RDONLY | O_DIRECTORY; break;
    case 'l': of |= O_RDWR | O_CREAT; break;
    default: return -EINVAL;
    }
    int fd;
    do {
        fd = open(path, of, 0644);
    } while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

static int64_t px_read(void *ctx, int fd, void *buf, size_t n)
{
    (void)ctx;
    ssize_t r;
    do {
        r = read(fd, buf, n);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : (int64_t)r;
}

static int64_t px_write(void *ctx, int fd, const void *buf, size_t n)
{
    (void)ctx;
    ssize_t r;
    do {
        r = write(fd, buf, n);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : (int64_t)r;
}

static int px_fsync(void *ctx, int fd)
{
    (void)ctx;
    int r;
    do {
        r = fsync(fd);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

static int px_close(void *ctx, int fd)
{
    (void)ctx;
    /* Linux closes the descriptor even when close() reports EINTR: never retry. */
    return close(fd) < 0 && errno != EINTR ? -errno : 0;
}

static int px_mkdir(void *ctx, const char *path)
{
    (void)ctx;
    return mkdir(path, 0755) < 0 ? -errno : 0;
}

static int px_rename(void *ctx, const char *from, const char *to)
{
    (void)ctx;
    return rename(from, to) < 0 ? -errno : 0;
}

static int px_unlink(void *ctx, const char *path)
{
    (void)ctx;
    return unlink(path) < 0 ? -errno : 0;
}

static int px_rmdir(void *ctx, const char *path)
{
    (void)ctx;
    return rmdir(path) < 0 ? -errno : 0;
}

static int px_list(void *ctx, const char *dir, sp_ckpt_list_fn cb, void *cb_ctx)
{
    (void)ctx;
    DIR *const d = opendir(dir);
    if (d == NULL) return -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        int is_dir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) {
            struct stat st;
            is_dir = fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        }
        rc = cb(cb_ctx, e->d_name, is_dir);
    }
    if (rc == 0 && errno != 0) rc = -errno;
    closedir(d);
    return rc;
}

static int px_stat(void *ctx, const char *path, uint64_t *size, int *is_dir)
{
    (void)ctx;
    struct stat st;
    if (lstat(path, &st) < 0) return -errno;
    if (size) *size = (uint64_t)st.st_size;
    if (is_dir) *is_dir = S_ISDIR(st.st_mode);
    return 0;
}

static int px_lock(void *ctx, int fd)
{
    (void)ctx;
    int r;
    do {
        r = flock(fd, LOCK_EX | LOCK_NB);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

static int64_t px_now(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const sp_ckpt_fs posix_fs = {NULL,     px_open,   px_read,   px_write, px_fsync,
                                    px_close, px_mkdir,  px_rename, px_unlink, px_rmdir,
                                    px_list,  px_stat,   px_lock,   px_now};

const sp_ckpt_fs *sp_ckpt_fs_posix(void)
{
    return &posix_fs;
}

/* ---- fault injection ---- */

/* Returns a negative errno when this counted call must fail. */
static int fault(sp_ckpt_faulty_fs *f, unsigned op)
{
    if (!(f->ops_mask & op)) return 0;
    f->count++;
    if (f->fail_at == 0) return 0;
    if (f->count == f->fail_at || (f->sticky && f->count > f->fail_at)) {
        f->failures++;
        return -f->fail_errno;
    }
    return 0;
}

static int ff_open(void *ctx, const char *path, char flags)
{
    sp_ckpt_faulty_fs *const f = (sp_ckpt_faulty_fs *)ctx;
    int const e = fault(f, SP_FS_OP_OPEN);
    return e ? e : f->base->open(f->base->ctx, path, flags);
}

static int64_t ff_read(void *ctx, int fd, void *buf, size_t n)
{
    sp_ckpt_faulty_fs *const f = (sp_ckpt_faulty_fs *)ctx;
    int const e = fault(f, SP_FS_OP_READ);
    return e ? e : f->base->read(f->base->ctx, fd, buf, n);
}

static int64_t ff_write(void *ctx, int fd, const void *buf, size_t n)
{
    sp_ckpt_faulty_fs *const f = (sp_ckpt_faulty_fs *)ctx;
    int const e = fault(f, SP_FS_OP_WRITE);
    return e ? e : f->base->write(f->base->ctx, fd, buf, n);
}

static int ff_fsync(void *ctx, int fd)
{
    sp_ckpt_faulty_fs *const f = (sp_ckpt_faulty_fs *)ctx;
    int const e = fault(f, SP_FS_OP_FSYNC);
    return e ? e : f->base->fsync(f->base->ctx, fd);
}

static int ff_close(void *ctx, int fd)
{
    sp_ckpt_faulty_fs *const f = (sp_ckpt_faulty_fs *)ctx;
    int const e = fault(f, SP_FS_OP_CLOSE);
    int const r = f->base->close(f->base->ctx, fd); /* the descriptor is released either way */
    return e ? e : r;
}

static int ff_mkdir(void *ctx, const char *path)
{
    sp_ckpt_faulty_fs *const f = (sp_ckpt_faulty_fs *)ctx;
    int const e = fault(f, SP_FS_OP_MKDIR);
    return e ? e : f->base->mkdir(f->base->ctx, path);
}

static int ff_rename(void *ctx, const char *from, const char *to)
{
    sp_ckpt_faulty_fs *const f = (sp_ckpt_faulty_fs *)ctx;
    int const e = fault(f, SP_FS_OP_RENAME);
    return e ? e : f->base->rename(f->base->ctx, from, to);
}

static int ff_unlink(void *ctx, const char *path)
{
    sp_ckpt_faulty_fs *const f = (sp_ckpt_faulty_fs *)ctx;
    return f->base->unlink(f->base->ctx, path);
}

static int ff_rmdir(void *ctx, const char *path)
{
    sp_ckpt_faulty_fs *const f = (sp_ckpt_faulty_fs *)ctx;
    return f->base->rmdir(f->base->ctx, path);
}

static int ff_list(void *ctx, const char *dir, sp_ckpt_list_fn cb, void *cb_ctx)
{
    sp_ckpt_faulty_fs *const f = (sp_ckpt_faulty_fs *)ctx;
    return f->base->list(f->base->ctx, dir, cb, cb_ctx);
}

static int ff_stat(void *ctx, const char *path, uint64_t *size, int *is_dir)
{
    sp_ckpt_faulty_fs *const f = (sp_ckpt_faulty_fs *)ctx;
    return f->base->stat(f->base->ctx, path, size, is_dir);
}

static int ff_lock(void *ctx, int fd)
{
    sp_ckpt_faulty_fs *const f = (sp_ckpt_faulty_fs *)ctx;
    return f->base->lock(f->base->ctx, fd);
}

static int64_t ff_now(void *ctx)
{
    sp_ckpt_faulty_fs *const f = (sp_ckpt_faulty_fs *)ctx;
    return f->clock_ns > 0 ? f->clock_ns : f->base->now_ns(f->base->ctx);
}

void sp_ckpt_faulty_fs_init(sp_ckpt_faulty_fs *f, const sp_ckpt_fs *base, unsigned ops_mask)
{
    memset(f, 0, sizeof *f);
    f->base = base;
    f->ops_mask = ops_mask;
    f->fail_errno = EIO;
    sp_ckpt_fs const t = {f,        ff_open,  ff_read,   ff_write,  ff_fsync, ff_close, ff_mkdir,
                          ff_rename, ff_unlink, ff_rmdir, ff_list,  ff_stat,  ff_lock,  ff_now};
    f->fs = t;
}

/* ---- helpers ---- */

sp_status sp__ckpt_errno_status(int neg_errno)
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

static sp_status fs_fail(sp_error *err, int e, const char *op, const char *shown)
{
    return sp_error_set(err, sp__ckpt_errno_status(e), "%s %s: %s", op, shown, strerror(-e));
}

/* Pieces of this size are checksummed right before they are written (or right after they
 * are read), while they are still in cache: one pass over memory instead of two. */
#define CRC_PIECE ((size_t)1 << 20)

sp_status sp__ckpt_write_file_crc(const sp_ckpt_fs *fs, const char *path, const void *data, size_t n,
                                  int durable, uint32_t *crc, const char *shown, sp_error *err)
{
    int const fd = fs->open(fs->ctx, path, 'w');
    if (fd < 0) return fs_fail(err, fd, "create", shown);
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
    return e ? fs_fail(err, e, op, shown) : SP_OK;
}

sp_status sp__ckpt_write_file(const sp_ckpt_fs *fs, const char *path, const void *data, size_t n,
                              int durable, const char *shown, sp_error *err)
{
    return sp__ckpt_write_file_crc(fs, path, data, n, durable, NULL, shown, err);
}

sp_status sp__ckpt_read_into_crc(const sp_ckpt_fs *fs, const char *path, void *dst, size_t cap,
                                 size_t *n, int *longer, uint32_t *crc, const char *shown, sp_error *err)
{
    int const fd = fs->open(fs->ctx, path, 'r');
    if (fd < 0) {
        if (fd == -ENOENT) return sp_error_set(err, SP_ERR_NOTFOUND, "%s: file is missing", shown);
        return fs_fail(err, fd, "open", shown);
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
    if (e) return fs_fail(err, e, "read", shown);
    *n = got;
    return SP_OK;
}

sp_status sp__ckpt_read_into(const sp_ckpt_fs *fs, const char *path, void *dst, size_t cap,
                             size_t *n, int *longer, const char *shown, sp_error *err)
{
    return sp__ckpt_read_into_crc(fs, path, dst, cap, n, longer, NULL, shown, err);
}

sp_status sp__ckpt_read_file(const sp_ckpt_fs *fs, const char *path, size_t max, unsigned char **buf,
                             size_t *n, const char *shown, sp_error *err)
{
    *buf = NULL;
    uint64_t size = 0;
    int is_dir = 0;
    int const s = fs->stat(fs->ctx, path, &size, &is_dir);
    if (s == -ENOENT) return sp_error_set(err, SP_ERR_NOTFOUND, "%s: file is missing", shown);
    if (s < 0) return fs_fail(err, s, "stat", shown);
    if (is_dir) return sp_error_set(err, SP_ERR_CORRUPT, "%s: is a directory", shown);
    if (size > max) return sp_error_set(err, SP_ERR_RANGE, "%s: %llu bytes, limit %zu", shown,
                                        (unsigned long long)size, max);
    /* The size may change under us; read at most max and report a longer file. */
    size_t const cap = (size_t)size + 1 <= max ? (size_t)size + 1 : max;
    unsigned char *const b = (unsigned char *)malloc(cap + 1);
    if (b == NULL) return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", shown);
    size_t got = 0;
    int longer = 0;
    sp_status const st = sp__ckpt_read_into(fs, path, b, cap, &got, &longer, shown, err);
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

sp_status sp__ckpt_fsync_dir(const sp_ckpt_fs *fs, const char *path, const char *shown, sp_error *err)
{
    int const fd = fs->open(fs->ctx, path, 'd');
    if (fd < 0) return fs_fail(err, fd, "open directory", shown);
    int const e = fs->fsync(fs->ctx, fd);
    int const c = fs->close(fs->ctx, fd);
    if (e) return fs_fail(err, e, "fsync directory", shown);
    return c ? fs_fail(err, c, "close directory", shown) : SP_OK;
}

typedef struct rm_ctx {
    const sp_ckpt_fs *fs;
    const char *dir;
    int first_error;
} rm_ctx;

static int rm_entry(void *ctx, const char *name, int is_dir)
{
    rm_ctx *const r = (rm_ctx *)ctx;
    char path[SP_CKPT_PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", r->dir, name) >= sizeof path) return 0;
    int const e = is_dir ? sp__ckpt_rm_rf(r->fs, path) : r->fs->unlink(r->fs->ctx, path);
    if (e < 0 && r->first_error == 0) r->first_error = e;
    return 0;
}

int sp__ckpt_rm_rf(const sp_ckpt_fs *fs, const char *path)
{
    rm_ctx r = {fs, path, 0};
    int const l = fs->list(fs->ctx, path, rm_entry, &r);
    if (l < 0 && l != -ENOENT && r.first_error == 0) r.first_error = l;
    int const d = fs->rmdir(fs->ctx, path);
    if (d < 0 && d != -ENOENT && r.first_error == 0) r.first_error = d;
    return r.first_error;
}
