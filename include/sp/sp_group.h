/* synthpix: a group of processes that write one dataset together (docs/scale-out.md).
 *
 * sp_generate (sp_dataset.h) given a group of P > 1 ranks splits its stream between them by
 * whole flow batches and writes, with one checkpoint root, the dataset one process writes,
 * byte for byte; docs/scale-out.md has the protocol. libsynthpix does not link MPI: the
 * caller supplies the transport as one collective call. `synthpix-mpi` fills it with MPI
 * (cli/synthpix_mpi.c); a Python caller can fill it with mpi4py, a test with sockets.
 *
 *     sp_group g;
 *     sp_group_init(&g);
 *     g.rank = rank; g.size = size; g.ctx = comm; g.exchange = my_exchange;
 *     opt.group = &g;            (sp_generate_options)
 *     sp_generate(&cfg, "out", &opt, &res, &err);   on every rank, with the same arguments
 *
 * Thread safety: sp_generate calls exchange from the thread that called it, never from a
 * pool thread (MPI_THREAD_FUNNELED is enough).
 */
#ifndef SP_GROUP_H
#define SP_GROUP_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* int64_t */

#include "sp/sp_api.h"
#include "sp/sp_errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One collective operation. Every rank of the group calls it with the same name and root,
 * in the same order; `name` says which wait it is ("round 12 report"), for messages and
 * for transports that check the order. Rank r contributes n bytes at data (borrowed for
 * the call; n may differ between ranks and may be 0). root < 0: every rank receives;
 * root >= 0: only that rank does, the others get *out = NULL. A receiver's *out is a block
 * allocated with malloc (the library frees it with free(); NULL allowed when every
 * contribution is empty) holding the contributions in rank order, and lens[i] (an array of
 * `size` entries, the caller's) the length of rank i's. Returns 0, or a negative errno:
 * -ETIMEDOUT when the group did not get there within timeout_ms. After a failed exchange
 * the group is broken (other ranks may still wait): the caller ends the job (MPI_Abort). */
typedef int (*sp_group_exchange_fn)(void *ctx, const char *name, int root, const void *data, size_t n, void **out,
                                    size_t *lens);

typedef struct sp_group {
    size_t struct_size;            /* set by sp_group_init */
    unsigned rank;                 /* this process, 0 .. size - 1; rank 0 holds the locks,
                                    * the checkpoint root, params.jsonl and dataset.json */
    unsigned size;                 /* ranks in the group, >= 1; 1 = the single-process job */
    void *ctx;                     /* passed to exchange; borrowed */
    sp_group_exchange_fn exchange; /* required when size > 1 */
    /* Optional: called when this rank fails on its own between two exchanges (message
     * borrowed for the call). Ranks meet only at checkpoints and at the end, so a
     * transport may end the job here, as a rank that dies would (synthpix-mpi prints the
     * message and calls MPI_Abort). NULL, or when it returns: the rank reports its failure
     * at the next exchange, and every rank stops there with it. */
    void (*fail)(void *ctx, const char *message);
    int64_t timeout_ms;            /* deadline of one exchange, for the transport to apply
                                    * (default 1200000: 20 minutes, Orbax's); it spans a
                                    * unit of rendering and a checkpoint commit */
} sp_group;

SP_API void sp_group_init(sp_group *g);

/* A collective check (exchange `name`): every rank passes its own status (mine_err: its
 * message, NULL allowed) and every rank returns the same result: SP_OK, or the first
 * failing rank's status with its message ("rank 2: ..." for ranks above 0). For front ends
 * that may fail on one rank before sp_generate (a configuration file missing on one node).
 * g borrowed for the call. */
SP_API sp_status sp_group_agree(const sp_group *g, const char *name, sp_status mine, const sp_error *mine_err,
                                sp_error *err);

#ifdef __cplusplus
}
#endif
#endif /* SP_GROUP_H */
