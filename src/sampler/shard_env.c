/* shard_env.c: the shard from a launcher's environment (sp_sampler_options_shard_from_env,
 * `synthpix generate --data-shard auto`).
 *
 * Launchers, in the order they are tried (the first whose rank variable is set wins):
 *   torchrun   RANK, WORLD_SIZE
 *   Open MPI   OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE
 *   SLURM      SLURM_PROCID, SLURM_NTASKS
 *   PMI        PMI_RANK, PMI_SIZE (MPICH, Intel MPI)
 * Both variables of the pair must be decimal integers with 0 <= rank < size <= 65536; an
 * error names the variable and its value, and with none set, every variable looked for.
 * Reads the process environment only (getenv): not safe against a concurrent setenv.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "sp/sp_sampler.h"

#define SP_SHARD_MAX 65536u

static const struct {
    const char *launcher, *rank, *size;
} launchers[] = {
    {"torchrun", "RANK", "WORLD_SIZE"},
    {"Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
    {"SLURM", "SLURM_PROCID", "SLURM_NTASKS"},
    {"PMI", "PMI_RANK", "PMI_SIZE"},
};

/* A decimal integer in [lo, hi] from variable `name`. */
static sp_status env_uint(const char *launcher, const char *name, unsigned lo, unsigned hi, unsigned *out,
                          sp_error *err)
{
    const char *const v = getenv(name);
    SP_RETURN_IF(v == NULL, err, SP_ERR_CONFIG, "shard from the environment (%s): %s is not set", launcher, name);
    char *end = NULL;
    errno = 0;
    unsigned long const x = *v >= '0' && *v <= '9' ? strtoul(v, &end, 10) : 0;
    SP_RETURN_IF(end == NULL || *end != '\0' || errno != 0 || x < lo || x > hi, err, SP_ERR_CONFIG,
                 "shard from the environment (%s): %s='%s' is not an integer in [%u, %u]", launcher, name, v, lo, hi);
    *out = (unsigned)x;
    return SP_OK;
}

sp_status sp_sampler_options_shard_from_env(sp_sampler_options *o, sp_error *err)
{
    for (size_t i = 0; i < SP_ARRAY_LEN(launchers); i++) {
        if (getenv(launchers[i].rank) == NULL) continue;
        unsigned size = 0, rank = 0;
        SP_TRY(env_uint(launchers[i].launcher, launchers[i].size, 1, SP_SHARD_MAX, &size, err));
        SP_TRY(env_uint(launchers[i].launcher, launchers[i].rank, 0, size - 1, &rank, err));
        o->shard_index = rank;
        o->shard_count = size;
        return SP_OK;
    }
    return sp_error_set(err, SP_ERR_CONFIG,
                        "shard from the environment: no launcher's rank is set (looked for RANK and WORLD_SIZE of "
                        "torchrun, OMPI_COMM_WORLD_RANK and OMPI_COMM_WORLD_SIZE of Open MPI, SLURM_PROCID and "
                        "SLURM_NTASKS of SLURM, PMI_RANK and PMI_SIZE of PMI)");
}
