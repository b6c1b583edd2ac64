/* synthpix_mpi.c: `synthpix-mpi`, the generate command on the ranks of an MPI job
 * (Open MPI; docs/scale-out.md):
 *
 *     mpirun -n 4 synthpix-mpi [--collective-timeout S] generate [generate's options]
 *
 * Every rank runs `generate` (cmd_generate.c) with an sp_group whose transport is MPI on a
 * duplicate of MPI_COMM_WORLD. One exchange is two non-blocking collectives: the sizes
 * (MPI_Iallgather), then the bytes (MPI_Iallgatherv, or MPI_Igatherv to one root); each is
 * waited for with MPI_Test and short naps (not MPI's busy wait, which would take a core
 * from the rendering threads of the ranks sharing the node), under the deadline
 * --collective-timeout (default 1200 s). MPI is called from the main thread only
 * (MPI_THREAD_FUNNELED). Threads: "all cores" (--threads 0, the default configuration's)
 * means this machine's cores divided among the ranks on it.
 *
 * Output: rank 0 speaks for the group; the other ranks' stderr is muted (their failures at
 * start and at checkpoints reach rank 0 through the library's reports and are printed
 * there, naming the rank). A rank that fails between checkpoints, or whose exchange runs
 * past the deadline, prints so itself (on its saved stderr) and ends the whole job with
 * MPI_Abort, as a rank that dies would: the others may be far from the next exchange, or
 * stuck in a collective. The last committed checkpoint stays resumable.
 * Exit status: the generate command's, the same on every rank (0, 1 runtime, 2 usage).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_common.h"
#include "sp/sp.h"

typedef struct mpi_ctx {
    MPI_Comm comm;
    int rank, size;
    int64_t timeout_ms;
    int err_fd; /* this rank's own stderr, kept when rank > 0 is muted */
    int broken; /* an exchange failed: the job must end with MPI_Abort */
} mpi_ctx;

/* Waits for req with MPI_Test: spins briefly, then naps up to 2 ms between tests. */
static int wait_request(MPI_Request *req, double deadline)
{
    unsigned spins = 0;
    useconds_t nap = 50;
    for (;;) {
        int done = 0;
        if (MPI_Test(req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return -EIO;
        if (done) return 0;
        if (sp_cli_now() > deadline) return -ETIMEDOUT;
        if (++spins > 200) {
            usleep(nap);
            if (nap < 2000) nap *= 2;
        }
    }
}

static int broken(mpi_ctx *m, const char *name, int rc)
{
    char line[512];
    int const n = snprintf(line, sizeof line,
                           "synthpix-mpi: rank %d: %s at '%s'%s; ending the job\n", m->rank,
                           rc == -ETIMEDOUT ? "the other processes did not answer" : "a collective failed", name,
                           rc == -ETIMEDOUT ? " within --collective-timeout" : "");
    if (n > 0) (void)!write(m->err_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    m->broken = 1;
    return rc;
}

/* Receive counts and displacements in bytes; -EMSGSIZE past MPI's int counts. */
static int layout(const mpi_ctx *m, const long long *sizes, int *counts, int *displs, size_t *total)
{
    long long sum = 0;
    for (int r = 0; r < m->size; r++) {
        if (sizes[r] < 0 || sizes[r] > INT_MAX || sum > INT_MAX - sizes[r]) return -EMSGSIZE;
        counts[r] = (int)sizes[r];
        displs[r] = (int)sum;
        sum += sizes[r];
    }
    *total = (size_t)sum;
    return 0;
}

static int bytes(mpi_ctx *m, int root, const void *data, size_t n, const long long *sizes, void **out, double deadline)
{
    int *const counts = (int *)calloc((size_t)m->size, sizeof *counts);
    int *const displs = (int *)calloc((size_t)m->size, sizeof *displs);
    size_t total = 0;
    int rc = counts && displs ? layout(m, sizes, counts, displs, &total) : -ENOMEM;
    int const receives = root < 0 || root == m->rank;
    unsigned char *const buf = rc == 0 && receives ? (unsigned char *)malloc(total ? total : 1) : NULL;
    if (rc == 0 && receives && buf == NULL) rc = -ENOMEM;
    static const unsigned char none = 0;
    const void *const send = n ? data : &none;
    MPI_Request req;
    if (rc == 0 && root < 0)
        rc = MPI_Iallgatherv(send, (int)n, MPI_BYTE, buf, counts, displs, MPI_BYTE, m->comm, &req) == MPI_SUCCESS ? 0 : -EIO;
    else if (rc == 0)
        rc = MPI_Igatherv(send, (int)n, MPI_BYTE, buf, counts, displs, MPI_BYTE, root, m->comm, &req) == MPI_SUCCESS ? 0 : -EIO;
    if (rc == 0) rc = wait_request(&req, deadline);
    free(counts);
    free(displs);
    if (rc != 0) free(buf);
    else *out = buf;
    return rc;
}

static int mpi_exchange(void *ctx, const char *name, int root, const void *data, size_t n, void **out, size_t *lens)
{
    mpi_ctx *const m = (mpi_ctx *)ctx;
    *out = NULL;
    if (m->broken) return -EPIPE;
    if (n > INT_MAX) return broken(m, name, -EMSGSIZE);
    double const deadline = sp_cli_now() + (double)m->timeout_ms / 1000.0;
    long long const mine = (long long)n;
    long long *const sizes = (long long *)calloc((size_t)m->size, sizeof *sizes);
    if (sizes == NULL) return broken(m, name, -ENOMEM);
    MPI_Request req;
    int rc = MPI_Iallgather(&mine, 1, MPI_LONG_LONG, sizes, 1, MPI_LONG_LONG, m->comm, &req) == MPI_SUCCESS ? 0 : -EIO;
    if (rc == 0) rc = wait_request(&req, deadline);
    if (rc == 0) rc = bytes(m, root, data, n, sizes, out, deadline);
    for (int r = 0; rc == 0 && r < m->size; r++) lens[r] = (size_t)sizes[r];
    free(sizes);
    return rc == 0 ? 0 : broken(m, name, rc);
}

/* A rank that fails between two exchanges ends the job at once, as a rank that dies would:
 * its message on its own stderr, then MPI_Abort (the last checkpoint stays resumable). */
static void mpi_fail(void *ctx, const char *message)
{
    mpi_ctx *const m = (mpi_ctx *)ctx;
    char line[SP_ERROR_MESSAGE_MAX + 64];
    int const n = snprintf(line, sizeof line, "synthpix-mpi: rank %d: %s; ending the job\n", m->rank, message);
    if (n > 0) (void)!write(m->err_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    MPI_Abort(MPI_COMM_WORLD, SP_EXIT_RUNTIME);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mpirun -n P synthpix-mpi [--collective-timeout S] generate [OPTIONS]\n\n"
               "Writes one dataset with P processes: the same files, byte for byte, and one checkpoint\n"
               "root that any number of processes (or `synthpix generate --resume`) continues.\n"
               "OPTIONS are `synthpix generate`'s (synthpix-mpi generate --help). Every rank needs\n"
               "the same options and the same files; give each rank --threads so that the ranks of a\n"
               "node share its cores.\n\n"
               "  --collective-timeout S  seconds a rank waits for the others at one exchange (a unit of\n"
               "                          rendering and a checkpoint commit) before it ends the job\n"
               "                          (default 1200)\n");
}

/* Leading options; the index of "generate" in argv, or -1 (usage error) / 0 (done). */
static int leading_options(int argc, char **argv, mpi_ctx *m)
{
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        uint64_t s = 0;
        if (strcmp(argv[i], "--help") == 0) {
            if (m->rank == 0) usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            if (m->rank == 0) printf("synthpix-mpi %s (MPI ranks: %d)\n", sp_version_string(), m->size);
            return 0;
        }
        if (strcmp(argv[i], "--collective-timeout") != 0 || i + 1 >= argc || sp_cli_parse_u64(argv[i + 1], &s) != 0 ||
            s < 1 || s > 604800) {
            if (m->rank == 0) fprintf(stderr, "synthpix-mpi: '%s': expected --collective-timeout S (1 to 604800 seconds)\n", argv[i]);
            return -1;
        }
        m->timeout_ms = (int64_t)s * 1000;
        i++;
    }
    if (i < argc && strcmp(argv[i], "generate") == 0) return i;
    if (m->rank == 0) {
        fprintf(stderr, "synthpix-mpi: %s\n\n", i < argc ? "only the generate command runs on MPI ranks" : "no command");
        usage(stderr);
    }
    return -1;
}

/* Ranks above 0 keep their stderr for their own transport messages and mute the rest
 * (stdout too: `generate --help` is printed once). */
static void mute_followers(mpi_ctx *m)
{
    m->err_fd = dup(STDERR_FILENO);
    if (m->err_fd < 0) m->err_fd = STDERR_FILENO;
    if (m->rank == 0) return;
    int const null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        close(null);
    }
}

/* The ranks sharing this machine (its memory), which share its cores. */
static unsigned node_ranks(MPI_Comm comm)
{
    MPI_Comm node;
    int n = 1;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS) return 1;
    MPI_Comm_size(node, &n);
    MPI_Comm_free(&node);
    return n > 0 ? (unsigned)n : 1;
}

int main(int argc, char **argv)
{
    int provided = 0;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "synthpix-mpi: MPI_Init_thread failed\n");
        return SP_EXIT_RUNTIME;
    }
    mpi_ctx m;
    memset(&m, 0, sizeof m);
    MPI_Comm_dup(MPI_COMM_WORLD, &m.comm);
    MPI_Comm_rank(m.comm, &m.rank);
    MPI_Comm_size(m.comm, &m.size);
    m.timeout_ms = 1200000;
    int const at = leading_options(argc, argv, &m);
    int rc = at < 0 ? SP_EXIT_USAGE : SP_EXIT_OK;
    if (at > 0) {
        mute_followers(&m);
        sp_group g;
        sp_group_init(&g);
        g.rank = (unsigned)m.rank;
        g.size = (unsigned)m.size;
        g.ctx = &m;
        g.exchange = mpi_exchange;
        g.fail = mpi_fail;
        g.timeout_ms = m.timeout_ms;
        rc = sp_cmd_generate_group(argc - at, argv + at, NULL, &g, node_ranks(m.comm));
    }
    if (m.broken) MPI_Abort(MPI_COMM_WORLD, rc ? rc : SP_EXIT_RUNTIME);
    MPI_Comm_free(&m.comm);
    MPI_Finalize();
    return rc;
}
