/* test_group.h: a group of P processes joined by sockets (sp_group.h), for the scale-out
 * tests, so the protocol is tested in every build, MPI or not.
 *
 * sp_test_group_run forks P rank processes; each calls fn(ctx, &group) and exits with
 * what it returns (0..255). The calling process is the hub (the launcher, as mpirun is):
 * it relays every exchange (each rank's contribution read, the concatenation in rank order
 * sent to the receivers), checks that every rank called the same exchange (name and
 * root) in the same order, and applies the deadline. Like mpirun, when a rank dies the hub
 * kills the others (SIGKILL). It can also kill every rank on purpose, at the Nth exchange
 * or after a delay, to test crashes at chosen or random moments.
 *
 * The process calling sp_test_group_run must have no threads of its own (it forks).
 */
#ifndef SP_TEST_GROUP_H
#define SP_TEST_GROUP_H

#include <stdint.h>

#include "sp/sp_group.h"

#define SP_TEST_GROUP_MAX 16

typedef struct sp_test_group_opts {
    int64_t timeout_ms;       /* deadline of one exchange (0 = 60 s); the waiting ranks get
                               * -ETIMEDOUT, then every rank is killed */
    uint64_t kill_at;         /* > 0: SIGKILL every rank once every rank has sent exchange
                               * number kill_at (1-based), before any reply */
    int64_t kill_after_us;    /* > 0: SIGKILL every rank after this long */
} sp_test_group_opts;

typedef struct sp_test_group_result {
    int exit_code[SP_TEST_GROUP_MAX]; /* a rank's exit code, or 128 + signal */
    uint64_t exchanges;               /* exchanges completed */
    int killed;                       /* the hub killed the ranks (on purpose or after a death) */
    int timed_out;                    /* an exchange ran past its deadline */
    char order_error[512];            /* not empty: ranks called different exchanges */
} sp_test_group_result;

typedef int (*sp_test_rank_fn)(void *ctx, const sp_group *g);

/* Runs fn on P ranks (1 <= P <= SP_TEST_GROUP_MAX); opts may be NULL. */
void sp_test_group_run(unsigned P, sp_test_rank_fn fn, void *ctx, const sp_test_group_opts *opts,
                       sp_test_group_result *res);

#endif /* SP_TEST_GROUP_H */
