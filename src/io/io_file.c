/* io_file.c: whole-file reading and byte swapping shared by the src/io readers.
 *
 * sp__io_read_whole refuses anything that is not a regular file and checks the size against
 * the caller's limit before allocating; it loops on short reads and EINTR, and reports the
 * path and the failing operation. It never writes outside the buffer it allocated.
 */
#include "io/io_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal/sp_internal.h"

static sp_status read_fd(int fd, const char *path, unsigned char *buf, size_t len, sp_error *err)
{
    size_t got = 0;
    while (got < len) {
        ssize_t const r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        SP_RETURN_IF(r < 0, err, SP_ERR_IO, "%s: read failed: %s", path, strerror(errno));
        SP_RETURN_IF(r == 0, err, SP_ERR_IO, "%s: file shrank while reading (%zu of %zu bytes)",
                     path, got, len);
        got += (size_t)r;
    }
    return SP_OK;
}

static sp_status read_open_fd(int fd, const char *path, size_t max_len, unsigned char **buf,
                              size_t *len, sp_error *err)
{
    struct stat st;
    SP_RETURN_IF(fstat(fd, &st) != 0, err, SP_ERR_IO, "%s: stat failed: %s", path, strerror(errno));
    SP_RETURN_IF(!S_ISREG(st.st_mode), err, SP_ERR_IO, "%s: not a regular file", path);
    SP_RETURN_IF(st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)max_len, err, SP_ERR_RANGE,
                 "%s: file is %lld bytes, over the limit of %zu bytes", path,
                 (long long)st.st_size, max_len);
    size_t const n = (size_t)st.st_size;
    unsigned char *const b = (unsigned char *)malloc(n ? n : 1);
    SP_RETURN_IF(b == NULL, err, SP_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    sp_status const s = read_fd(fd, path, b, n, err);
    if (s != SP_OK) {
        free(b);
        return s;
    }
    *buf = b;
    *len = n;
    return SP_OK;
}

sp_status sp__io_read_whole(const char *path, size_t max_len, unsigned char **buf, size_t *len,
                            sp_error *err)
{
    *buf = NULL;
    *len = 0;
    SP_RETURN_IF(path == NULL, err, SP_ERR_INVALID, "(null path): cannot open");
    int const fd = open(path, O_RDONLY | O_CLOEXEC);
    SP_RETURN_IF(fd < 0, err, errno == ENOENT ? SP_ERR_NOTFOUND : SP_ERR_IO,
                 "%s: cannot open: %s", path, strerror(errno));
    sp_status const s = read_open_fd(fd, path, max_len, buf, len, err);
    close(fd);
    return s;
}

void sp__io_byteswap(unsigned char *p, size_t n, size_t es)
{
    for (size_t i = 0; i < n; i++, p += es) {
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            unsigned char const t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
    }
}
