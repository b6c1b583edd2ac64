/* loader_internal.h: private types and helpers shared by the src/loader/ files.
 *
 * Module map (one concern per file):
 *   loader.c         the order: stream position -> (record, epoch, record seed); seeded
 *                    Feistel permutation per epoch, shards of whole blocks (sp_loader, a
 *                    value type)
 *   source.c         the records themselves: analytic, kinematic, file lists and
 *                    directories; count, names, thread-safe loading (sp_source)
 *   prefetch.c       records loaded ahead, in stream order, on dedicated threads
 *   episodic.c       episodic mode: the episode list, running episodes, time steps
 *   records.c        sp_records, the loader object the sampler uses (src/internal/
 *                    sp_records.h): creation, taking and loading the current records
 *   records_state.c  the loader's part of the saved state, read out and put back
 * Dependencies go down this list only (records.c and records_state.c use everything above
 * them). Nothing here knows about images, particles or the output grid (src/sampler), or
 * about checkpoint files (src/pipeline).
 */
#ifndef SP_LOADER_INTERNAL_H
#define SP_LOADER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sp_flowmap.h"
#include "sp_records.h"
#include "sp/sp_config.h"
#include "sp/sp_flow.h"
#include "sp/sp_sink.h" /* sp_membuf */
#include "sp/sp_pool.h"
#include "sp/sp_rng.h"

/* ---- loader (loader.c): stream position -> (record, epoch, record seed) ------------- */

typedef struct sp_loader {
    uint64_t records;  /* n: records per epoch */
    int shuffle;       /* reshuffle every epoch with a seeded permutation */
    int loop;          /* infinite epochs; otherwise one */
    sp_key order_key;  /* PRNGKey(seed) folded with the shuffle tag */
    sp_key seed_key;   /* PRNGKey(seed) folded with the record-seed tag */
    uint64_t next;     /* next position of this shard's stream (the global one unsharded) */
    uint64_t seed;     /* the configuration seed (for the saved state) */
    uint64_t shard_index, shard_count; /* 0 <= index < count; (0, 1) = no sharding */
    uint64_t block;    /* global positions per block (a refresh's F records); 1 unsharded */
    uint64_t base;     /* the global block this shard's stream starts from (0, or a restore's) */
} sp_loader;

void sp__loader_init(sp_loader *l, uint64_t records, int shuffle, int loop, uint64_t seed);
/* Restricts the stream to shard `index` of `count` in blocks of `block` global positions
 * (>= 1): shard s reads blocks base + s, base + s + count, ... (Grain's elastic rule), so
 * shards are disjoint and together read the whole stream. Record seeds stay those of the
 * global position. Errors name the option (SP_ERR_CONFIG). */
sp_status sp__loader_shard(sp_loader *l, uint64_t index, uint64_t count, uint64_t block, sp_error *err);
/* This shard's stream restarts at global block `base` (next = 0): the elastic restore. */
void sp__loader_rebase(sp_loader *l, uint64_t base);
/* The global position below which shards in lockstep with this one (same next) have read
 * every position: (base + (next / block) count) block. */
uint64_t sp__loader_global(const sp_loader *l);
/* The first position of this shard's stream past a finite stream; UINT64_MAX when looping. */
uint64_t sp__loader_end(const sp_loader *l);
/* The global position, record and epoch of this shard's position i (loop or not). */
void sp__loader_ref(const sp_loader *l, uint64_t i, sp_record_ref *ref);
/* Returns 0 when a finite stream is exhausted. */
int sp__loader_next(sp_loader *l, sp_record_ref *ref);
/* The record at position t of an epoch's permutation of [0, n): a bijection for every n. */
uint64_t sp__permute(uint64_t t, uint64_t n, sp_key epoch_key);
sp_key sp__epoch_key(const sp_loader *l, uint32_t epoch);

/* ---- sources (source.c) ------------------------------------------------------------ */

typedef struct sp_source sp_source;

/* A record's mapped file (src/internal/sp_flowmap.h), travelling with its flow and storage:
 * while `map` is live the flow's data points into it and `owned` keeps the flow's own
 * storage (cap floats) for later loads that read; `unchecked` = the values have not been
 * checked for non-finite ones (the sampler does it, sp__records_unchecked). Zero-initialise
 * with map = SP_FMAP_NONE. */
typedef struct sp_flow_mapping {
    sp_fmap map;
    float *owned;
    int unchecked;
} sp_flow_mapping;

/* Puts out back on its own storage when it points into mp's mapping, and unmaps it (NULL
 * or nothing mapped: nothing). Before any other use of out's storage. */
void sp__mapping_drop(sp_flow *out, sp_flow_mapping *mp);

sp_status sp__source_create(sp_source **out, const sp_config *cfg, sp_error *err);
void sp__source_free(sp_source *s);
uint64_t sp__source_count(const sp_source *s);
/* Thread-safe: loads record i into out, reusing its storage: out->data holds *cap floats
 * (NULL/0 at first) and is kept when the record fits, grown otherwise; file records are read
 * into *file (reused likewise). So once the buffers have grown to the largest record, a load
 * allocates nothing (.mat and .h5 readers excepted: they run in a child process). A
 * non-finite value is an error naming the record and its position. On error out keeps its
 * storage (its contents are unspecified). */
sp_status sp__source_load(const sp_source *s, uint64_t i, sp_flow *out, size_t *cap, sp_membuf *file,
                          sp_flow_mapping *mp, sp_error *err);
/* With mp != NULL, sp__source_load maps host-layout .npy and .flo files instead of reading
 * them as `mode` says (SP_FLOW_FILES_AUTO: files of at least SP_SOURCE_MAP_MIN_BYTES; MAP:
 * all; READ: none); a mapped record has mp->unchecked = 1: the caller checks the values.
 * mp == NULL always reads and checks. */
void sp__source_set_mapping(sp_source *s, int mode);
/* The record's name: a file path (valid while s lives), or for built-in records
 * "analytic://KIND/i" or "kinematic://i", written into buf (SP_SOURCE_NAME_MAX bytes) and
 * returned. Built-in names are not stored: a million records would take 64 MB. */
#define SP_SOURCE_NAME_MAX 64
const char *sp__source_name(const sp_source *s, uint64_t i, char *buf);
/* FNV-1a 64 over every record's name (with its NUL) and then the count; computed once. */
uint64_t sp__source_fingerprint(const sp_source *s);
/* 1 for analytic and kinematic sources (names made on demand), 0 for files. */
int sp__source_is_builtin(const sp_source *s);

/* ---- prefetch (prefetch.c): records loaded ahead on dedicated threads ------------ */

typedef struct sp_prefetch sp_prefetch;

/* threads >= 1; capacity = records kept loaded ahead. loader is copied (its counters are not
 * used); src is borrowed for the prefetcher's life. */
sp_status sp__prefetch_create(sp_prefetch **out, const sp_source *src, const sp_loader *loader, unsigned threads,
                              size_t capacity, sp_error *err);
void sp__prefetch_free(sp_prefetch *p); /* accepts NULL; joins the threads */
/* The record at this shard's stream position i, swapped into out, cap and file: the caller
 * gets the loaded flow and its storage, and hands its old storage to the prefetcher, which
 * reuses it for a later position (no allocation in the steady state). With the load's
 * status and error. Positions are normally taken in increasing order; any other position
 * restarts the window there (restore, reset). */
sp_status sp__prefetch_take(sp_prefetch *p, uint64_t i, sp_flow *out, size_t *cap, sp_membuf *file,
                            sp_flow_mapping *mp, sp_error *err);

/* ---- episodes (episodic.c) ---------------------------------------------------------- */

typedef struct sp_episodes sp_episodes;

/* The episode list of the source's record names for episode length L > 0. SP_ERR_CONFIG
 * naming episode_length when no sequence is that long. */
sp_status sp__episodes_create(sp_episodes **out, const sp_source *src, int L, sp_error *err);
void sp__episodes_free(sp_episodes *e); /* accepts NULL */
uint64_t sp__episodes_count(const sp_episodes *e);
/* The source record of episode `episode` at time step t (0 <= t < L). */
uint64_t sp__episode_record(const sp_episodes *e, uint64_t episode, int64_t t);

/* ---- the loader object (records.c), see sp_records.h ------------------------------------ */

struct sp_records {
    sp_source *src;
    sp_loader order;           /* the stream position lives here (order.next) */
    sp_prefetch *prefetch;     /* NULL without prefetch threads */
    unsigned prefetch_threads; /* its threads (a restore onto another shard starts a new one) */
    sp_pool *pool;             /* borrowed: runs the loads of sp__records_load */
    size_t count;              /* F: records handed out per take */
    int randomize, loop;       /* configuration, for the state's identity */
    int episode_length;        /* L; 0 = not episodic */
    /* The current records, `count` entries. */
    sp_record_ref *refs;
    uint8_t *valid;
    const char **names;        /* kept in step with refs/valid: the source's name or "" */
    char (*name_store)[SP_SOURCE_NAME_MAX]; /* F: built-in records' names */
    uint64_t *local_pos;       /* shard stream position of each (what the prefetcher is asked) */
    sp_flow *flows;
    size_t *flow_cap;          /* floats each flows[f].data holds (reused storage) */
    sp_membuf *files;          /* each record's file bytes (reused storage) */
    sp_flow_mapping *maps;     /* each record's mapped file, if any */
    sp_status *load_status;    /* per record, written by the load of that record only */
    sp_error *load_err;
    /* Episodic mode (episodic.c). */
    sp_episodes *episodes;     /* NULL unless L > 0 */
    uint64_t episode;          /* episodes started */
    int64_t timestep;          /* time step of the next batch; L = ended */
    sp_record_ref *ep_refs;    /* count: the running episodes (loader refs: record = episode) */
    uint8_t *ep_valid;         /* count: 0 = padding episode at the end of a finite stream */
};

/* records.c: names[f] from refs[f]/valid[f], for every f (after any change to them). */
void sp__records_sync_names(sp_records *r);

#endif /* SP_LOADER_INTERNAL_H */
