/* test_group.c: P rank processes joined by sockets into an sp_group, with the calling
 * process as the hub (see test_group.h).
 *
 * Wire format, rank to hub: u32 name length, i32 root, u64 n, the name, n bytes. Hub to
 * rank: i32 status (0 or a negative errno), then on success P u64 lengths, u64 total and
 * `total` bytes (0 for a rank that is not a receiver). Native byte order: both ends are
 * this machine.
 */
#include "test_group.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- rank side ------------------------------------------------------------------------ */

typedef struct rank_ctx {
    int fd;
    unsigned size;
} rank_ctx;

static int write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    while (n > 0) {
        ssize_t const w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    unsigned char *b = (unsigned char *)p;
    while (n > 0) {
        ssize_t const r = read(fd, b, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static int rank_exchange(void *ctx, const char *name, int root, const void *data, size_t n, void **out, size_t *lens)
{
    rank_ctx *const c = (rank_ctx *)ctx;
    *out = NULL;
    uint32_t const nl = (uint32_t)strlen(name);
    int32_t const rt = root;
    uint64_t const nn = n;
    if (write_all(c->fd, &nl, 4) || write_all(c->fd, &rt, 4) || write_all(c->fd, &nn, 8) ||
        write_all(c->fd, name, nl) || (n && write_all(c->fd, data, n)))
        return -EPIPE;
    int32_t status = 0;
    if (read_all(c->fd, &status, 4)) return -EPIPE;
    if (status != 0) return status;
    uint64_t total = 0;
    for (unsigned r = 0; r < c->size; r++) {
        uint64_t l = 0;
        if (read_all(c->fd, &l, 8)) return -EPIPE;
        lens[r] = (size_t)l;
    }
    if (read_all(c->fd, &total, 8)) return -EPIPE;
    if (total == 0) return 0;
    void *const buf = malloc((size_t)total);
    if (buf == NULL) return -ENOMEM;
    if (read_all(c->fd, buf, (size_t)total)) {
        free(buf);
        return -EPIPE;
    }
    *out = buf;
    return 0;
}

/* ---- hub side ---------------------------------------------------------------------------- */

typedef struct request {
    char name[256];
    int32_t root;
    unsigned char *data;
    uint64_t n;
} request;

typedef struct hub {
    unsigned P;
    int fd[SP_TEST_GROUP_MAX];
    pid_t pid[SP_TEST_GROUP_MAX];
    const sp_test_group_opts *o;
    double t0;
    request req[SP_TEST_GROUP_MAX];
} hub;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* Reads n bytes from a rank before the deadline: 0 done, 1 end of file before the first
 * byte, -1 broken, -2 deadline, -3 the kill timer. */
static int hub_read(hub *h, int fd, void *p, size_t n, double deadline)
{
    unsigned char *b = (unsigned char *)p;
    size_t got = 0;
    while (got < n) {
        double const now = now_ms();
        double wait = deadline - now;
        if (h->o->kill_after_us > 0) {
            double const k = h->t0 + 1e-3 * (double)h->o->kill_after_us - now;
            if (k <= 0) return -3;
            if (k < wait) wait = k;
        }
        if (wait <= 0) return -2;
        struct pollfd pf = {fd, POLLIN, 0};
        int const pr = poll(&pf, 1, (int)(wait + 1));
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) continue;
        ssize_t const r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return got == 0 ? 1 : -1;
        got += (size_t)r;
    }
    return 0;
}

static int hub_request(hub *h, unsigned r, double deadline)
{
    request *const q = &h->req[r];
    uint32_t nl = 0;
    int rc = hub_read(h, h->fd[r], &nl, 4, deadline);
    if (rc) return rc;
    if (nl >= sizeof q->name) return -1;
    if ((rc = hub_read(h, h->fd[r], &q->root, 4, deadline)) || (rc = hub_read(h, h->fd[r], &q->n, 8, deadline)) ||
        (rc = hub_read(h, h->fd[r], q->name, nl, deadline)))
        return rc < 0 ? rc : -1;
    q->name[nl] = '\0';
    q->data = (unsigned char *)malloc(q->n ? (size_t)q->n : 1);
    if (q->data == NULL) return -1;
    rc = q->n ? hub_read(h, h->fd[r], q->data, (size_t)q->n, deadline) : 0;
    return rc < 0 ? rc : (rc ? -1 : 0);
}

static void kill_all(hub *h)
{
    for (unsigned r = 0; r < h->P; r++) kill(h->pid[r], SIGKILL);
}

static void reply_status(hub *h, unsigned r, int32_t status)
{
    (void)write_all(h->fd[r], &status, 4);
}

static void reply(hub *h)
{
    uint64_t total = 0;
    for (unsigned r = 0; r < h->P; r++) total += h->req[r].n;
    int32_t const root = h->req[0].root;
    for (unsigned r = 0; r < h->P; r++) {
        int const receives = root < 0 || (unsigned)root == r;
        uint64_t const mine = receives ? total : 0;
        int32_t const ok = 0;
        (void)write_all(h->fd[r], &ok, 4);
        for (unsigned i = 0; i < h->P; i++) (void)write_all(h->fd[r], &h->req[i].n, 8);
        (void)write_all(h->fd[r], &mine, 8);
        for (unsigned i = 0; receives && i < h->P; i++)
            if (h->req[i].n) (void)write_all(h->fd[r], h->req[i].data, (size_t)h->req[i].n);
    }
}

static void free_requests(hub *h)
{
    for (unsigned r = 0; r < h->P; r++) {
        free(h->req[r].data);
        h->req[r].data = NULL;
    }
}

/* The ranks that sent their request get -ETIMEDOUT; a grace period lets them end. */
static void time_out(hub *h, unsigned arrived)
{
    for (unsigned r = 0; r < arrived; r++) reply_status(h, r, -ETIMEDOUT);
    double const until = now_ms() + 5000;
    for (unsigned r = 0; r < arrived; r++) {
        int status;
        while (waitpid(h->pid[r], &status, WNOHANG) == 0 && now_ms() < until) usleep(2000);
    }
}

/* One exchange: 1 = go on, 0 = every rank ended, -1 = stopped (killed). */
static int hub_exchange(hub *h, uint64_t index, sp_test_group_result *res)
{
    double const deadline = now_ms() + (double)(h->o->timeout_ms > 0 ? h->o->timeout_ms : 60000);
    unsigned ended = 0;
    for (unsigned r = 0; r < h->P; r++) {
        int const rc = hub_request(h, r, deadline);
        if (rc == 1) {
            ended++;
            continue;
        }
        if (rc == 0) continue;
        if (rc == -2) {
            res->timed_out = 1;
            time_out(h, r);
        }
        kill_all(h); /* a rank broke the wire, or the timer fired */
        res->killed = 1;
        return -1;
    }
    if (ended == h->P) return 0;
    if (ended > 0) { /* a rank died or ended while others wait: kill them, as mpirun does */
        kill_all(h);
        res->killed = 1;
        return -1;
    }
    for (unsigned r = 1; r < h->P; r++) {
        if (strcmp(h->req[r].name, h->req[0].name) == 0 && h->req[r].root == h->req[0].root) continue;
        snprintf(res->order_error, sizeof res->order_error, "exchange %llu: rank 0 called '%.120s' (root %d), rank %u '%.120s' (root %d)",
                 (unsigned long long)index, h->req[0].name, h->req[0].root, r, h->req[r].name, h->req[r].root);
        kill_all(h);
        res->killed = 1;
        return -1;
    }
    if (h->o->kill_at && index == h->o->kill_at) {
        kill_all(h);
        res->killed = 1;
        return -1;
    }
    reply(h);
    free_requests(h);
    res->exchanges = index;
    return 1;
}

static void run_rank(unsigned P, unsigned r, int fd, sp_test_rank_fn fn, void *ctx, const sp_test_group_opts *o)
{
    rank_ctx rc = {fd, P};
    sp_group g;
    sp_group_init(&g);
    g.rank = r;
    g.size = P;
    g.ctx = &rc;
    g.exchange = rank_exchange;
    g.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 60000;
    int const code = fn(ctx, &g);
    fflush(NULL);
    _exit(code & 0xff);
}

void sp_test_group_run(unsigned P, sp_test_rank_fn fn, void *ctx, const sp_test_group_opts *opts,
                       sp_test_group_result *res)
{
    sp_test_group_opts const none = {0, 0, 0};
    hub h;
    memset(&h, 0, sizeof h);
    memset(res, 0, sizeof *res);
    h.P = P;
    h.o = opts ? opts : &none;
    fflush(NULL);
    for (unsigned r = 0; r < P; r++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) abort();
        pid_t const pid = fork();
        if (pid < 0) abort();
        if (pid == 0) {
            for (unsigned i = 0; i < r; i++) close(h.fd[i]);
            close(sv[0]);
            run_rank(P, r, sv[1], fn, ctx, h.o);
        }
        close(sv[1]);
        h.fd[r] = sv[0];
        h.pid[r] = pid;
    }
    h.t0 = now_ms();
    signal(SIGPIPE, SIG_IGN);
    for (uint64_t i = 1; hub_exchange(&h, i, res) > 0; i++) {
    }
    free_requests(&h);
    for (unsigned r = 0; r < P; r++) {
        int status = 0;
        waitpid(h.pid[r], &status, 0);
        res->exit_code[r] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        close(h.fd[r]);
    }
}
