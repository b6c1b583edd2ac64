/* fs.c: the two sp_fs tables (sp_fs.h): POSIX and fault-injecting.
 *
 * sp_fs_posix() is a stateless table over POSIX calls: it loops on EINTR, returns negative
 * errno values, and opens every file with O_CLOEXEC; files we create or modify are opened
 * with O_NOFOLLOW (and O_EXCL when created), so a planted symbolic link is refused, never
 * written through. The fault-injecting table (sp_fs_faulty) forwards to a base table and
 * fails the Nth counted call; its counters live in the object the caller owns (no global
 * state). The helpers built on these tables are in fs_file.c.
 */
#include "sp/sp_fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <dirent.h>
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
    case 'w': of |= O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW; break;
    case 'a': of |= O_RDWR | O_NOFOLLOW; break;
    case 'd': of |= O_RDONLY | O_DIRECTORY; break;
    case 'l': of |= O_RDWR | O_CREAT | O_NOFOLLOW; break;
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

static int px_list(void *ctx, const char *dir, sp_fs_list_fn cb, void *cb_ctx)
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

static int px_truncate(void *ctx, int fd, uint64_t size)
{
    (void)ctx;
    int r;
    do {
        r = ftruncate(fd, (off_t)size);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return -errno;
    return lseek(fd, (off_t)size, SEEK_SET) < 0 ? -errno : 0;
}

static int px_syncfs(void *ctx, int fd)
{
    (void)ctx;
    int r;
    do {
        r = syncfs(fd);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

static int px_is_link(void *ctx, const char *path)
{
    (void)ctx;
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

static int px_exchange(void *ctx, const char *a, const char *b)
{
    (void)ctx;
    return renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) < 0 ? -errno : 0;
}

static const sp_fs posix_fs = {
    .ctx = NULL,       .open = px_open,     .read = px_read,     .write = px_write,
    .fsync = px_fsync, .close = px_close,   .mkdir = px_mkdir,   .rename = px_rename,
    .unlink = px_unlink, .rmdir = px_rmdir, .list = px_list,     .stat = px_stat,
    .lock = px_lock,   .now_ns = px_now,    .truncate = px_truncate, .syncfs = px_syncfs,
    .is_link = px_is_link, .exchange = px_exchange};

const sp_fs *sp_fs_posix(void)
{
    return &posix_fs;
}

/* ---- fault injection ---- */

/* Returns a negative errno when this counted call must fail. */
static int fault(sp_fs_faulty *f, unsigned op)
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
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    int const e = fault(f, SP_FS_OP_OPEN);
    return e ? e : f->base->open(f->base->ctx, path, flags);
}

static int64_t ff_read(void *ctx, int fd, void *buf, size_t n)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    int const e = fault(f, SP_FS_OP_READ);
    return e ? e : f->base->read(f->base->ctx, fd, buf, n);
}

static int64_t ff_write(void *ctx, int fd, const void *buf, size_t n)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    int const e = fault(f, SP_FS_OP_WRITE);
    return e ? e : f->base->write(f->base->ctx, fd, buf, n);
}

static int ff_fsync(void *ctx, int fd)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    int const e = fault(f, SP_FS_OP_FSYNC);
    return e ? e : f->base->fsync(f->base->ctx, fd);
}

static int ff_close(void *ctx, int fd)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    int const e = fault(f, SP_FS_OP_CLOSE);
    int const r = f->base->close(f->base->ctx, fd); /* the descriptor is released either way */
    return e ? e : r;
}

static int ff_mkdir(void *ctx, const char *path)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    int const e = fault(f, SP_FS_OP_MKDIR);
    return e ? e : f->base->mkdir(f->base->ctx, path);
}

static int ff_rename(void *ctx, const char *from, const char *to)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    int const e = fault(f, SP_FS_OP_RENAME);
    return e ? e : f->base->rename(f->base->ctx, from, to);
}

static int ff_unlink(void *ctx, const char *path)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    return f->base->unlink(f->base->ctx, path);
}

static int ff_rmdir(void *ctx, const char *path)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    return f->base->rmdir(f->base->ctx, path);
}

static int ff_list(void *ctx, const char *dir, sp_fs_list_fn cb, void *cb_ctx)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    return f->base->list(f->base->ctx, dir, cb, cb_ctx);
}

static int ff_stat(void *ctx, const char *path, uint64_t *size, int *is_dir)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    return f->base->stat(f->base->ctx, path, size, is_dir);
}

static int ff_lock(void *ctx, int fd)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    return f->base->lock(f->base->ctx, fd);
}

static int64_t ff_now(void *ctx)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    return f->clock_ns > 0 ? f->clock_ns : f->base->now_ns(f->base->ctx);
}

static int ff_truncate(void *ctx, int fd, uint64_t size)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    int const e = fault(f, SP_FS_OP_TRUNCATE);
    return e ? e : f->base->truncate(f->base->ctx, fd, size);
}

static int ff_syncfs(void *ctx, int fd)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    int const e = fault(f, SP_FS_OP_SYNCFS);
    return e ? e : f->base->syncfs(f->base->ctx, fd);
}

static int ff_is_link(void *ctx, const char *path)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    return f->base->is_link(f->base->ctx, path);
}

static int ff_exchange(void *ctx, const char *a, const char *b)
{
    sp_fs_faulty *const f = (sp_fs_faulty *)ctx;
    if (f->base->exchange == NULL) return -ENOSYS;
    int const e = fault(f, SP_FS_OP_RENAME);
    return e ? e : f->base->exchange(f->base->ctx, a, b);
}

void sp_fs_faulty_init(sp_fs_faulty *f, const sp_fs *base, unsigned ops_mask)
{
    memset(f, 0, sizeof *f);
    f->base = base;
    f->ops_mask = ops_mask;
    f->fail_errno = EIO;
    sp_fs const t = {.ctx = f,           .open = ff_open,   .read = ff_read,     .write = ff_write,
                     .fsync = ff_fsync,  .close = ff_close, .mkdir = ff_mkdir,   .rename = ff_rename,
                     .unlink = ff_unlink, .rmdir = ff_rmdir, .list = ff_list,    .stat = ff_stat,
                     .lock = ff_lock,    .now_ns = ff_now,  .truncate = ff_truncate,
                     .syncfs = ff_syncfs, .is_link = ff_is_link, .exchange = ff_exchange};
    f->fs = t;
}

