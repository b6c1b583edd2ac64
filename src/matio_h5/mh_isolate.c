/* mh_isolate.c: every .mat and .h5 read runs in a forked child process.
 *
 * Why: the libraries we read through are not safe on hostile files. Fuzzing the Debian
 * builds (libhdf5 1.10.8, libmatio 1.5.23) with bit-flipped and truncated copies of valid
 * files finds heap overflows and use-after-free inside libhdf5 itself (attribute iteration
 * under libmatio's v7.3 reader; H5Dread on damaged layouts, which our HDF5 path no longer
 * calls: h5_raw.c reads the data itself). What remains, libhdf5's metadata parsing and all
 * of libmatio, no check of ours before the call can rule out. A child process contains
 * crashes: it runs the reader, sends the result over a pipe and _exit()s; if it dies
 * instead, the caller gets a one-line error naming the file, never a crash. It does not
 * contain a read outside a buffer that does not crash: such a read must be fixed at its
 * source, and fuzz_h5_in_process_replay runs the .h5 corpus without the child so that ASan
 * sees one.
 *
 * Protocol (child -> parent, native byte order, same binary): a fixed header (status,
 * message, flow shape, image shape), then the flow floats, then the two images. The parent
 * trusts nothing: it checks the shape against the same limits as the readers before
 * allocating, reads exactly the announced bytes, and accepts the result only if the child
 * then exits with status 0.
 *
 * Fork rules: the parent forks while holding the module lock, so no thread of ours is inside
 * libhdf5 or libmatio at that moment (the child would otherwise inherit their locks held);
 * the child marks itself (sp_mh_in_child, the only other process-wide variable of the module,
 * written only in the single-threaded child) so that it does not take the copied lock
 * again, and leaves with _exit so that no atexit handler (HDF5 closing files the parent has
 * open) and no stdio buffer of the parent runs twice.
 *
 * glibc's malloc is fork-safe (fork takes every arena lock), so any thread may call these
 * readers. The sanitizer allocator of gcc 12 is not: a child forked while another thread
 * allocates can deadlock in malloc. Sanitizer builds (SP_SANITIZED) therefore isolate only
 * single-threaded callers, such as the fuzz harnesses replaying the crash corpus, and read
 * in-process when the caller has other threads (the sampler's pool, which reads only the
 * valid files of the test suite).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sp_internal.h"
#include "matio_h5_internal.h"

typedef struct wire_header {
    int32_t status;
    char message[SP_ERROR_MESSAGE_MAX];
    uint64_t h, w, c;    /* flow shape; 0 when status != SP_OK */
    uint64_t ih, iw;     /* image shape; 0 without images */
} wire_header;

static int write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    while (n > 0) {
        ssize_t const r = write(fd, b, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

/* 0 when n bytes were read; -1 on EOF or error. */
static int read_all(int fd, void *p, size_t n)
{
    unsigned char *b = (unsigned char *)p;
    while (n > 0) {
        ssize_t const r = read(fd, b, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        b += (size_t)r;
        n -= (size_t)r;
    }
    return 0;
}

/* Threads of this process, from /proc/self/stat (field 20); 0 when unknown. */
static long process_threads(void)
{
    char buf[1024];
    FILE *const f = fopen("/proc/self/stat", "r");
    if (f == NULL) return 0;
    size_t const n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    for (int field = 2; p != NULL && field < 20; field++) p = strchr(p + 1, ' ');
    return p ? strtol(p + 1, NULL, 10) : 0;
}

/* SP_MH_ISOLATE=0 (set for libFuzzer builds, whose coverage feedback a child process would
 * hide) reads in-process: crashes inside libhdf5 then surface as the fuzzer's findings. */
#ifndef SP_MH_ISOLATE
#define SP_MH_ISOLATE 1
#endif

static int fork_is_safe(void)
{
    return SP_MH_ISOLATE && (!SP_SANITIZED || process_threads() == 1);
}

static void child_main(int fd, sp__mh_reader fn, const void *args)
{
    sp__mh_set_child();
    sp__mh_out out;
    memset(&out, 0, sizeof out);
    sp_error e;
    sp_error_clear(&e);
    wire_header h;
    memset(&h, 0, sizeof h);
    h.status = (int32_t)fn(args, &out, &e);
    memcpy(h.message, e.message, sizeof h.message);
    h.message[sizeof h.message - 1] = '\0';
    if (h.status == SP_OK) {
        h.h = out.flow.height, h.w = out.flow.width, h.c = out.flow.channels;
        h.ih = out.img1 ? out.ih : 0, h.iw = out.img1 ? out.iw : 0;
    }
    size_t const nf = (size_t)(h.h * h.w * h.c), ni = (size_t)(h.ih * h.iw);
    int ok = write_all(fd, &h, sizeof h) == 0;
    if (ok && nf) ok = write_all(fd, out.flow.data, nf * sizeof(float)) == 0;
    if (ok && ni) ok = write_all(fd, out.img1, ni * sizeof(float)) == 0;
    if (ok && ni) ok = write_all(fd, out.img2, ni * sizeof(float)) == 0;
    _exit(ok ? 0 : 3);
}

static sp_status read_result(int fd, const char *name, sp__mh_out *out, sp_error *err, int *complete)
{
    wire_header h;
    *complete = 0;
    if (read_all(fd, &h, sizeof h) != 0) return SP_ERR_CORRUPT; /* the child died: reported by the caller */
    h.message[sizeof h.message - 1] = '\0';
    if (h.status != SP_OK) {
        *complete = 1;
        return sp_error_set(err, h.status < SP_ERR_LAST_ ? SP_ERR_CORRUPT : (sp_status)h.status, "%s", h.message);
    }
    size_t const dims[3] = {(size_t)h.h, (size_t)h.w, (size_t)h.c};
    size_t nf = 0, ni = 0;
    int const images = h.ih != 0;
    size_t const idims[2] = {(size_t)h.ih, (size_t)h.iw};
    SP_RETURN_IF(sp__mh_check_shape(name, "flow", 3, dims, &nf, err) != SP_OK || (h.c != 2 && h.c != 3) ||
                     (images && sp__mh_check_shape(name, "image", 2, idims, &ni, err) != SP_OK),
                 err, SP_ERR_INTERNAL, "%s: the reader process sent an invalid result", name);
    SP_TRY(sp_flow_alloc(&out->flow, dims[0], dims[1], dims[2], err));
    if (read_all(fd, out->flow.data, nf * sizeof(float)) != 0) return SP_ERR_CORRUPT;
    if (images) {
        out->img1 = (float *)malloc(ni * sizeof(float));
        out->img2 = (float *)malloc(ni * sizeof(float));
        SP_RETURN_IF(out->img1 == NULL || out->img2 == NULL, err, SP_ERR_NOMEM, "%s: out of memory for the images",
                     name);
        if (read_all(fd, out->img1, ni * sizeof(float)) != 0 || read_all(fd, out->img2, ni * sizeof(float)) != 0)
            return SP_ERR_CORRUPT;
        out->ih = idims[0], out->iw = idims[1];
    }
    *complete = 1;
    return SP_OK;
}

static void out_release(sp__mh_out *o)
{
    sp_flow_release(&o->flow);
    free(o->img1);
    free(o->img2);
    memset(o, 0, sizeof *o);
}

static sp_status child_failed(const char *name, int wstatus, sp_error *err)
{
    if (WIFSIGNALED(wstatus))
        return sp_error_set(err, SP_ERR_CORRUPT, "%s: the file is damaged (the HDF5/MATLAB reader crashed on it, "
                            "signal %d)", name, WTERMSIG(wstatus));
    return sp_error_set(err, SP_ERR_CORRUPT, "%s: the file is damaged (the HDF5/MATLAB reader failed on it, exit "
                        "status %d)", name, WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
}

sp_status sp__mh_isolated(const char *name, sp__mh_reader fn, const void *args, sp__mh_out *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    if (sp__mh_is_child() || !fork_is_safe()) return fn(args, out, err); /* see the map comment */
    int fds[2];
    SP_RETURN_IF(pipe2(fds, O_CLOEXEC) != 0, err, SP_ERR_IO, "%s: cannot create a pipe: %s", name, strerror(errno));
    sp__mh_lock_state ls;
    sp__mh_lock(&ls);
    pid_t const pid = fork();
    sp__mh_unlock(&ls);
    if (pid == 0) {
        close(fds[0]);
        child_main(fds[1], fn, args);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return sp_error_set(err, SP_ERR_IO, "%s: cannot start the reader process: %s", name, strerror(errno));
    }
    int complete = 0;
    sp_status st = read_result(fds[0], name, out, err, &complete);
    close(fds[0]);
    int wstatus = 0;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    if (!complete || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
        out_release(out);
        return complete && st != SP_OK ? st : child_failed(name, wstatus, err);
    }
    if (st != SP_OK) out_release(out);
    return st;
}
