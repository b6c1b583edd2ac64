/* synthpix: an explicit thread pool. No global pool exists: whoever needs threads creates
 * a pool and may share it between objects (a renderer, a loader's prefetcher).
 *
 * sp_pool_run is a blocking parallel-for: items 0..n-1 are handed out in increasing order
 * to the workers and the calling thread; it returns when all are done. Work functions must
 * write disjoint outputs; results are then independent of the thread count.
 *
 * Thread safety: sp_pool_run may be called from one thread at a time per pool.
 */
#ifndef SP_POOL_H
#define SP_POOL_H

#include <stddef.h> /* size_t */

#include "sp/sp_api.h"
#include "sp/sp_errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sp_pool sp_pool;

/* worker is in [0, sp_pool_size(pool)): an index for per-thread scratch memory. */
typedef void (*sp_pool_fn)(void *ctx, size_t item, unsigned worker);

/* threads: total threads including the caller; 0 = the number of online cores. */
SP_API sp_status sp_pool_create(sp_pool **out, unsigned threads);
SP_API void sp_pool_free(sp_pool *pool); /* accepts NULL; joins the workers */
SP_API unsigned sp_pool_size(const sp_pool *pool);
/* Runs fn(ctx, i, worker) for every i < n. ctx is borrowed for the call. */
SP_API void sp_pool_run(sp_pool *pool, size_t n, sp_pool_fn fn, void *ctx);
/* The number of online cores (at least 1). */
SP_API unsigned sp_cpu_count(void);

#ifdef __cplusplus
}
#endif
#endif /* SP_POOL_H */
