/* records.c: sp_records, the loader object the sampler draws its records from
 * (src/internal/sp_records.h).
 *
 * It owns the source, the order (the stream position), the prefetcher, the episodes and
 * the F = `count` current records: the records of the sampler's last refresh (or episode
 * step, or real-image batch). A take moves the order by F positions and fills refs,
 * validity, names and the shard positions (local_pos) the prefetcher is asked for (a seek
 * only moves the position: the sampler's random access); a load
 * reads the record flows, each on its own grid, without resampling them: the output grid
 * is the sampler's business.
 *
 * Loads: without prefetch threads every record of a refresh is one work item on the
 * borrowed pool, each writing only its own flow, status and error; with them, records are
 * taken from the prefetcher in stream order on the calling thread (positions are handed out
 * in order, so the bytes are the same either way). Padding records (past the end of a
 * finite stream) get a zero 2x2 flow. The lowest-numbered failure is reported, so errors
 * are deterministic too.
 * A record's flow may point into a mapped file (src/internal/sp_flowmap.h): its mapping
 * travels with its storage (maps[f], swapped with the prefetcher's like the rest), and the
 * sampler checks the values (sp__records_unchecked) and whether the file changed
 * (sp__records_damaged).
 */
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "loader_internal.h"
#include "sp/sp_matio_h5.h"

/* ---- creation ------------------------------------------------------------------------ */

static sp_status alloc_current(sp_records *r, sp_error *err)
{
    size_t const F = r->count;
    r->refs = (sp_record_ref *)calloc(F, sizeof *r->refs);
    r->valid = (uint8_t *)calloc(F, 1);
    r->names = (const char **)calloc(F, sizeof *r->names);
    r->name_store = (char (*)[SP_SOURCE_NAME_MAX])calloc(F, sizeof *r->name_store);
    r->local_pos = (uint64_t *)calloc(F, sizeof *r->local_pos);
    r->flows = (sp_flow *)calloc(F, sizeof *r->flows);
    r->flow_cap = (size_t *)calloc(F, sizeof *r->flow_cap);
    r->files = (sp_membuf *)calloc(F, sizeof *r->files);
    r->maps = (sp_flow_mapping *)calloc(F, sizeof *r->maps);
    for (size_t f = 0; r->maps && f < F; f++) r->maps[f].map.slot = -1;
    r->load_status = (sp_status *)calloc(F, sizeof *r->load_status);
    r->load_err = (sp_error *)calloc(F, sizeof *r->load_err);
    r->ep_refs = (sp_record_ref *)calloc(F, sizeof *r->ep_refs);
    r->ep_valid = (uint8_t *)calloc(F, 1);
    SP_RETURN_IF(!r->refs || !r->valid || !r->names || !r->name_store || !r->local_pos || !r->flows || !r->flow_cap || !r->files || !r->maps ||
                     !r->load_status ||
                     !r->load_err || !r->ep_refs || !r->ep_valid,
                 err, SP_ERR_NOMEM, "out of memory for %zu records", F);
    sp__records_sync_names(r);
    return SP_OK;
}

/* Loads the first record once, so a bad flow source fails at creation, naming the file. */
static sp_status probe_source(const sp_records *r, sp_error *err)
{
    sp_flow f;
    memset(&f, 0, sizeof f);
    size_t cap = 0;
    sp_membuf file = {0};
    sp_status const st = sp__source_load(r->src, 0, &f, &cap, &file, NULL, err); /* read: checked here */
    sp_flow_release(&f);
    sp_membuf_free(&file);
    return st;
}

/* SP_PREFETCH_AUTO: one thread for flow files (their loads are I/O and parsing the
 * rendering can overlap), none for built-in flows (computed once, or cheap to compute). */
static unsigned prefetch_threads(const sp_config *cfg, const sp_sampler_options *opt)
{
    unsigned const want = opt ? opt->prefetch_threads : SP_PREFETCH_AUTO;
    if (want == SP_PREFETCH_OFF) return 0;
    if (want != SP_PREFETCH_AUTO) return want;
    return cfg->scheduler_class == SP_SOURCE_ANALYTIC || cfg->scheduler_class == SP_SOURCE_KINEMATIC ? 0 : 1;
}

static sp_status records_init(sp_records *r, const sp_config *cfg, const sp_sampler_options *opt, sp_error *err)
{
    r->randomize = cfg->randomize;
    r->loop = cfg->loop;
    r->episode_length = cfg->episode_length;
    int const flow_files = opt ? opt->flow_files : SP_FLOW_FILES_AUTO;
    SP_RETURN_IF(flow_files != SP_FLOW_FILES_AUTO && flow_files != SP_FLOW_FILES_READ && flow_files != SP_FLOW_FILES_MAP,
                 err, SP_ERR_INVALID, "sampler options: flow_files %d is not SP_FLOW_FILES_AUTO, _READ or _MAP",
                 flow_files);
    SP_TRY(sp__source_create(&r->src, cfg, err));
    sp__source_set_mapping(r->src, flow_files);
    uint64_t const n = sp__source_count(r->src);
    if (cfg->episode_length > 0) SP_TRY(sp__episodes_create(&r->episodes, r->src, cfg->episode_length, err));
    /* In episodic mode the order's records are the episodes. */
    sp__loader_init(&r->order, r->episodes ? sp__episodes_count(r->episodes) : n, cfg->randomize, cfg->loop, cfg->seed);
    /* Shards take whole refreshes (blocks of F records): a shard's refresh is one of the
     * unsharded stream. */
    if (opt && (opt->shard_count > 1 || opt->shard_index > 0))
        SP_TRY(sp__loader_shard(&r->order, opt->shard_index, opt->shard_count ? opt->shard_count : 1, r->count, err));
    if (!cfg->include_images) SP_TRY(probe_source(r, err)); /* real pairs: the sampler's probe reads it */
    SP_TRY(alloc_current(r, err));
    /* Two refreshes' worth of records ahead: the next refresh is always fully queued. Real
     * pairs are read with their images (sp__records_read_pair); episodic steps map positions
     * to records differently. */
    unsigned const threads = prefetch_threads(cfg, opt);
    if (threads && !cfg->include_images && cfg->episode_length == 0) {
        r->prefetch_threads = threads;
        SP_TRY(sp__prefetch_create(&r->prefetch, r->src, &r->order, threads, 2 * r->count, err));
    }
    return SP_OK;
}

sp_status sp__records_create(sp_records **out, const sp_config *cfg, const sp_sampler_options *opt, size_t count,
                             sp_pool *pool, sp_error *err)
{
    *out = NULL;
    SP_ASSERT(count >= 1 && pool != NULL);
    sp_records *const r = (sp_records *)calloc(1, sizeof *r);
    SP_RETURN_IF(r == NULL, err, SP_ERR_NOMEM, "out of memory");
    r->count = count;
    r->pool = pool;
    sp_status const st = records_init(r, cfg, opt, err);
    if (st != SP_OK) {
        sp__records_free(r);
        return st;
    }
    *out = r;
    return SP_OK;
}

void sp__records_free(sp_records *r)
{
    if (r == NULL) return;
    sp__prefetch_free(r->prefetch); /* first: its threads read the source */
    sp__episodes_free(r->episodes);
    for (size_t f = 0; r->flows && f < r->count; f++) {
        if (r->maps) sp__mapping_drop(&r->flows[f], &r->maps[f]);
        sp_flow_release(&r->flows[f]);
    }
    for (size_t f = 0; r->files && f < r->count; f++) sp_membuf_free(&r->files[f]);
    free(r->flows);
    free(r->maps);
    free(r->flow_cap);
    free(r->files);
    free(r->refs);
    free(r->valid);
    free(r->names);
    free(r->name_store);
    free(r->local_pos);
    free(r->load_status);
    free(r->load_err);
    free(r->ep_refs);
    free(r->ep_valid);
    sp__source_free(r->src);
    free(r);
}

uint64_t sp__records_source_count(const sp_records *r)
{
    return sp__source_count(r->src);
}

/* ---- taking records -------------------------------------------------------------------- */

void sp__records_sync_names(sp_records *r)
{
    for (size_t f = 0; f < r->count; f++)
        r->names[f] = r->valid[f] ? sp__source_name(r->src, r->refs[f].record, r->name_store[f]) : "";
}

sp_status sp__records_take(sp_records *r, sp_error *err)
{
    size_t nvalid = 0;
    sp_record_ref last = {0, 0, 0, 0};
    for (size_t f = 0; f < r->count; f++) {
        r->local_pos[f] = r->order.next;
        r->valid[f] = (uint8_t)sp__loader_next(&r->order, &r->refs[f]);
        if (r->valid[f]) {
            last = r->refs[f];
            nvalid++;
        } else {
            r->refs[f] = last; /* padding: epoch of the last record, seed and name blanked */
            r->refs[f].seed = 0;
        }
    }
    sp__records_sync_names(r);
    SP_RETURN_IF(nvalid == 0, err, SP_ERR_END, "end of data: %llu records read", (unsigned long long)r->order.next);
    return SP_OK;
}

void sp__records_reset(sp_records *r)
{
    r->order.next = 0;
    r->episode = 0;
    r->timestep = 0;
}

void sp__records_seek(sp_records *r, uint64_t position)
{
    SP_ASSERT(r->episodes == NULL);
    r->order.next = position;
}

/* ---- loading ------------------------------------------------------------------------------ */

/* Padding (past the end of a finite stream): a zero 2x2 flow, in the record's storage. */
static sp_status zero_flow(sp_records *r, size_t f, sp_error *err)
{
    sp_flow *const fl = &r->flows[f];
    sp__mapping_drop(fl, &r->maps[f]);
    if (fl->data == NULL || r->flow_cap[f] < 8) {
        sp_flow_release(fl);
        SP_TRY(sp_flow_alloc(fl, 2, 2, 2, err));
        r->flow_cap[f] = 8;
    }
    fl->height = fl->width = fl->channels = 2;
    memset(fl->data, 0, 8 * sizeof(float));
    return SP_OK;
}

static void load_item(void *ctx, size_t f, unsigned worker)
{
    sp_records *const r = (sp_records *)ctx;
    (void)worker;
    if (!r->valid[f]) {
        r->load_status[f] = zero_flow(r, f, &r->load_err[f]);
        return;
    }
    if (r->prefetch != NULL) return; /* taken in stream order already */
    r->load_status[f] = sp__source_load(r->src, r->refs[f].record, &r->flows[f], &r->flow_cap[f], &r->files[f],
                                        &r->maps[f], &r->load_err[f]);
}

/* Takes the current records from the prefetcher, in stream order, on this thread; each
 * record's old storage goes back to the prefetcher for reuse. */
static void take_prefetched(sp_records *r)
{
    for (size_t f = 0; f < r->count; f++) {
        if (!r->valid[f]) continue;
        r->load_status[f] = sp__prefetch_take(r->prefetch, r->local_pos[f], &r->flows[f], &r->flow_cap[f],
                                              &r->files[f], &r->maps[f], &r->load_err[f]);
    }
}

sp_status sp__records_load(sp_records *r, sp_error *err)
{
    if (r->prefetch) take_prefetched(r);
    sp_pool_run(r->pool, r->count, load_item, r);
    for (size_t f = 0; f < r->count; f++) {
        if (r->load_status[f] != SP_OK) {
            if (err) *err = r->load_err[f];
            return r->load_status[f];
        }
    }
    return SP_OK;
}

sp_status sp__records_read_pair(const sp_records *r, uint64_t record, sp_flow *flow, float **i1, float **i2,
                                size_t *ih, size_t *iw, sp_error *err)
{
    char name[SP_SOURCE_NAME_MAX];
    return sp_mat_read_flow(sp__source_name(r->src, record, name), 1, flow, i1, i2, ih, iw, err);
}

/* ---- the current records ------------------------------------------------------------- */

const sp_record_ref *sp__records_ref(const sp_records *r, size_t f)
{
    SP_ASSERT(f < r->count);
    return &r->refs[f];
}

int sp__records_valid(const sp_records *r, size_t f)
{
    SP_ASSERT(f < r->count);
    return r->valid[f];
}

const char *sp__records_name(const sp_records *r, size_t f)
{
    SP_ASSERT(f < r->count);
    return r->names[f];
}

const sp_flow *sp__records_flow(const sp_records *r, size_t f)
{
    SP_ASSERT(f < r->count);
    return &r->flows[f];
}

int sp__records_unchecked(const sp_records *r, size_t f)
{
    SP_ASSERT(f < r->count);
    return r->valid[f] && r->maps[f].unchecked;
}

void sp__records_set_checked(sp_records *r, size_t f)
{
    SP_ASSERT(f < r->count);
    r->maps[f].unchecked = 0;
}

int sp__records_damaged(const sp_records *r, size_t f)
{
    SP_ASSERT(f < r->count);
    return sp__fmap_damaged(&r->maps[f].map);
}

void sp__records_retake(sp_records *r)
{
    SP_ASSERT(r->episodes == NULL);
    r->order.next = r->local_pos[0]; /* a take fills local_pos with next, next + 1, ... */
}

int sp__records_mapped(const sp_records *r, size_t f)
{
    SP_ASSERT(f < r->count);
    return r->maps[f].map.base != NULL;
}
