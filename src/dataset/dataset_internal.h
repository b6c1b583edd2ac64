/* dataset_internal.h: private types shared by the src/dataset/ files.
 *
 * Module map (one concern per file):
 *   dataset_meta.c    format names, params.jsonl lines, dataset.json, the progress record
 *   dataset_pairs.c   encoding one pair (PNG/TIFF/npy + .flo/npy) and writing its files on
 *                     the pool; appending pairs to HDF5 shards in index order
 *   dataset_layouts.c the other layouts (cai, pykitpiv, liteflownet): names, checks, the
 *                     split rule, file names, their part of dataset.json and the progress
 *   dataset_sides.c   their side files (cai's lists, the HDF5 layouts' spools): create,
 *                     append, sync, resume, and the finish (renames, HDF5 assembly)
 *   dataset_writer.c  the writer object: open (fresh or resumed), write, sync, finish, free
 *   generate.c        sp_generate: sampler + writer + checkpoint manager, the whole job
 *   group_wire.c      a group's messages (group_internal.h), sp_group_init, sp_group_agree
 *   generate_group.c  the same job split between the ranks of a group (docs/scale-out.md)
 * Dependencies go down this list only. Every file operation goes through w->fs and the
 * helpers of src/internal/sp_fsutil.h, so the fault sweep reaches all of them.
 *
 * Files of a dataset directory, and which of them this module may remove (docs/durability.md):
 *   pair_NNNNNN_*.EXT, shard_NNNNN.h5   final names, reached by rename only
 *   <case>_NNNNN_*, FlowData_*.list,    the other layouts' final names (the case is the
 *   pykitpiv.h5, liteflownet.h5         writer's), reached by rename only
 *   params.jsonl                        final name, reached by rename only
 *   dataset.json                        written last: its presence means complete
 *   <final>.sp-tmp-<tag>-<random>       our temporaries; removed only when <tag> is this job
 *                                       family's tag (the partial params file and side
 *                                       files of a checkpointed job are kept: they are the
 *                                       progress)
 *   .synthpix.lock                      the writers' advisory lock (flock); never removed
 * With overwrite (or adopt_partial) a fresh job first removes the files the layout names
 * (sp__layout_name) and nothing else.
 */
#ifndef SP_DATASET_INTERNAL_H
#define SP_DATASET_INTERNAL_H

#include <jansson.h>

#include "sp_fsutil.h"
#include "sp_internal.h"
#include "sp/sp_ckpt.h"
#include "sp/sp_dataset.h"
#include "sp/sp_io.h"
#include "sp/sp_matio_h5.h"
#include "sp/sp_sink.h"

#define SP_DATASET_TAG_MAX 16
#define SP_DATASET_CASE_MAX 64
#define SP_DATASET_SIDE_MAX 2

/* A layout's side file: appended to under a tagged temporary name during the job, made
 * durable with the params file at every sync, cut back to its durable length on resume
 * (exactly like the partial params file), and at the finish renamed into place (cai's
 * lists) or assembled into the layout's HDF5 file and removed (the spools). */
typedef struct sp__side {
    int fd;                     /* -1 when closed */
    char path[SP_FS_PATH_MAX];  /* the temporary ("" before it exists) */
    uint64_t bytes;             /* bytes written so far */
    uint64_t count;             /* lines or records written so far */
} sp__side;

/* One pool worker's encoding buffers. */
typedef struct sp__pair_job {
    sp_membuf buf;
    void *pixels;       /* one quantised image, H*W*2 bytes */
    sp_png_encoder *png; /* PNG output only */
} sp__pair_job;

struct sp_dataset_writer {
    const sp_fs *fs;
    char *dir;
    sp_dataset_options opt;
    char tag[SP_DATASET_TAG_MAX + 1];
    int bit_depth;                 /* resolved: 8, 16 or 32 */
    size_t height, width, flow_h, flow_w;
    char *config_yaml;             /* the resolved configuration, echoed */
    uint32_t config_crc;           /* CRC32C of config_yaml: a resume must match it */
    int flow_units_pixels;         /* output_units: pixels (else measure units per second) */
    size_t frames;                 /* images per pair (key frames; 2 for real image pairs) */
    /* params.jsonl, written as a tagged temporary and renamed at finish. */
    int params_fd;
    char params_path[SP_FS_PATH_MAX];
    uint64_t params_bytes;         /* bytes written to it so far */
    int keep_params;               /* a progress record names the file: keep it on failure */
    /* Progress. */
    uint64_t covered;              /* stream position after the last batch */
    uint64_t written;              /* real pairs written */
    /* --format h5 */
    sp_h5_dataset *shard;
    uint64_t shard_index;
    /* Per-pair files: one job per pool worker. */
    sp__pair_job *jobs;
    unsigned njobs;
    sp_membuf lines;               /* params lines of the batch being written */
    int finished;
    int complete;                  /* DIR already held this dataset: nothing to do */
    int lock_fd;                   /* DIR/.synthpix.lock, held while open */
    /* The layout (dataset_layouts.c; SP_DATASET_LAYOUT_SYNTHPIX: no side files). */
    sp_dataset_layout layout;
    double split;                  /* cai, liteflownet: the test (val) fraction */
    char case_name[SP_DATASET_CASE_MAX + 1];
    char found_case[SP_DATASET_CASE_MAX + 1]; /* the cai case DIR/dataset.json names, or "" */
    uint64_t seed;                 /* the configuration's seed: the split rule's key */
    sp__side side[SP_DATASET_SIDE_MAX];
    size_t nside;
    int sides_done;                /* finished: renamed into place, or assembled and removed */
    unsigned char *record;         /* one spool record (pykitpiv, liteflownet) */
    size_t record_bytes;
    /* A group's job (generate_group.c): a rank's params lines are collected here instead
     * of being written, and rank 0 appends every rank's in stream order. */
    int part;                      /* a rank > 0's writer: no lock, no params file, no finish */
    int collect;                   /* params lines go to `pending` (and written to pending_written) */
    sp_membuf pending;
    uint64_t pending_written;
};

/* ---- dataset_meta.c ---- */
/* File extension of the images of format f ("png", "tif", "npy", "h5"). */
const char *sp__dataset_ext(sp_dataset_format f);
/* Appends pair k's params line of batch b to out. */
sp_status sp__params_line(sp_membuf *out, const sp_batch *b, size_t k, sp_error *err);
/* Writes DIR/dataset.json (durable, atomic), removing the layout's spools after its rename
 * and before the folder's fsync. */
sp_status sp__dataset_json_write(sp_dataset_writer *w, sp_error *err);
/* The progress record (malloc'd JSON). */
char *sp__progress_dump(const sp_dataset_writer *w);
/* Checks a progress record against w and takes its counters (covered, written,
 * params_bytes, params file name into *params_name of cap bytes). */
sp_status sp__progress_parse(sp_dataset_writer *w, const char *json, char *params_name, size_t cap,
                             sp_error *err);

/* 1 when name is a file the layouts name (pairs, shards, params.jsonl, dataset.json, the
 * other layouts' files, cai's with w's case or found_case) or the temporary of one. */
int sp__layout_name(const sp_dataset_writer *w, const char *name);
/* 1 when DIR/dataset.json describes exactly the dataset w would write. */
int sp__dataset_json_matches(const sp_dataset_writer *w);

/* ---- dataset_writer.c: a group's job (generate_group.c) ---- */
/* The writer of a rank > 0: pair files or shards into DIR (created when missing) under the
 * job family's tag opt->tmp_tag (rank 0's, required), params lines collected; it takes no
 * lock, claims and removes nothing, creates no params file and never finishes: rank 0's
 * writer, opened before any other rank writes, does all of that. */
sp_status sp__dataset_writer_open_part(sp_dataset_writer **out, const char *dir, const sp_config *cfg,
                                       const sp_geometry *geom, const sp_dataset_options *opt, sp_error *err);
/* From now on sp_dataset_writer_write collects params lines and counts in w->pending. */
void sp__dataset_writer_collect(sp_dataset_writer *w);
/* Closes the shard being written and syncs the file system: every file this writer wrote
 * is durable. */
sp_status sp__dataset_writer_sync_part(sp_dataset_writer *w, sp_error *err);
/* Rank 0: appends params lines gathered from the ranks (whole lines, in stream order) and
 * their count of real pairs. set_covered: the dataset now covers the stream up to pair
 * `covered` (the end of a round). */
sp_status sp__dataset_writer_append(sp_dataset_writer *w, const void *lines, size_t n, uint64_t written,
                                    sp_error *err);
void sp__dataset_writer_set_covered(sp_dataset_writer *w, uint64_t covered);
/* Rank 0, once every rank's part is durable: fsyncs the params file and returns the
 * progress record in *progress_json (free with free()); no file-system sync. */
sp_status sp__dataset_writer_progress(sp_dataset_writer *w, char **progress_json, sp_error *err);

/* ---- generate.c: the job, shared with generate_group.c ---- */

/* What each committed checkpoint cost, in ms: making the data it covers durable (with a
 * group: the slowest rank's), then committing the step (with a group: from every rank's
 * report to the step on disk). */
typedef struct sp__ckpt_times {
    double *durable_ms, *commit_ms;
    size_t n, cap;
} sp__ckpt_times;

typedef struct sp__gen_job {
    const sp_generate_options *opt;
    const sp_fs *fs;
    sp_pool *pool;
    int own_pool;
    sp_sampler *sampler;
    sp_ckpt_manager *ckpt;
    sp_dataset_writer *writer;
    char *resume_json; /* progress record of the restored step */
    char tag[SP_DATASET_TAG_MAX + 1];
    int tag_existed;   /* the root's family tag predates this job */
    int ckpt_due;      /* checkpoint_every came round; with h5, waiting for a shard boundary */
    sp__ckpt_times times;
} sp__gen_job;

/* A monotonic clock, ms. */
double sp__clock_ms(void);
void sp__ckpt_times_add(sp__ckpt_times *t, double durable_ms, double commit_ms);

/* A one-line note for the caller (opt->note). */
void sp__gen_note(const sp__gen_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The sampler, on the caller's pool or a new one. */
sp_status sp__gen_make_sampler(sp__gen_job *j, const sp_config *cfg, sp_error *err);
/* Opens (and locks) the checkpoint root, reads or draws the family tag, and restores the
 * newest good step into the sampler (j->resume_json: its progress record). */
sp_status sp__gen_open_checkpoints(sp__gen_job *j, sp_error *err);
/* Opens the dataset writer: fresh, or resumed from j->resume_json. */
sp_status sp__gen_open_writer(sp__gen_job *j, const sp_config *cfg, const char *dir, sp_error *err);
/* Makes everything written durable, then commits step `step` holding the sampler's state
 * (as it stands) and the writer's progress record; *durable_ms and *commit_ms (NULL
 * allowed) receive the two phases' durations. */
sp_status sp__gen_checkpoint(sp__gen_job *j, int64_t step, double *durable_ms, double *commit_ms, sp_error *err);
/* Commits step `step`: the sampler's state and the progress record (everything it covers
 * is durable already). */
sp_status sp__gen_commit(sp__gen_job *j, int64_t step, const char *progress, sp_error *err);

/* ---- generate_group.c ---- */
/* sp_generate for opt->group of size > 1 (j set up as by sp_generate; freed by it). */
sp_status sp__generate_group(sp__gen_job *j, const sp_config *cfg, const char *dir, sp_generate_result *res,
                             sp_error *err);

/* ---- dataset_layouts.c ---- */
/* Checks opt's layout fields against the configuration and geometry and resolves into *out
 * (a copy of opt) what the layout fixes: the format (cai: TIFF; pykitpiv, liteflownet: h5)
 * and the bit depth *bits (pykitpiv: 32, liteflownet: 8, cai: 8 or 16). */
sp_status sp__layout_resolve(const sp_dataset_options *opt, const sp_config *cfg, const sp_geometry *geom,
                             sp_dataset_options *out, int *bits, sp_error *err);
/* Sets up w's layout fields (case name, split, seed, side files to be); no file is
 * touched. */
void sp__layout_init(sp_dataset_writer *w, const sp_config *cfg);
/* Reads the cai case the dataset.json in DIR names (a dataset of ours) into w->found_case,
 * so that its files count as the layout's too; "" when there is none. */
void sp__layout_find_case(sp_dataset_writer *w);
/* The base name of side file i ("FlowData_train.list", "pykitpiv.h5", ...). */
const char *sp__side_base(const sp_dataset_writer *w, size_t i);
/* Checks a progress record's layout identity (layout, split, case) against w and takes its
 * side files (names, durable bytes, counts): SP_ERR_MISMATCH naming what differs,
 * SP_ERR_CORRUPT for a malformed record. */
sp_status sp__layout_parse_progress(sp_dataset_writer *w, const json_t *u, sp_error *err);

/* The layout's part of the progress record added to u: its identity (layout, split, case)
 * and "side_files": [[name, bytes, count], ...]. Nothing for the synthpix layout. */
void sp__layout_progress(const sp_dataset_writer *w, json_t *u);
/* dataset.json's layout keys (layout, split, case, split counts) added to root (nothing
 * for the synthpix layout), and the layout's file patterns (NULL for the synthpix layout). */
void sp__layout_json(const sp_dataset_writer *w, json_t *root);
json_t *sp__layout_files_json(const sp_dataset_writer *w);
/* 1 when dataset.json's layout keys describe w's layout. */
int sp__layout_json_matches(const sp_dataset_writer *w, const json_t *doc);
/* The path of pair `index`'s file with `suffix` ("img1.png"): pair_%06llu_<suffix>, or
 * cai's <case>_%05llu_<suffix> numbered from 1. 0 when it does not fit. */
int sp__pair_path(const sp_dataset_writer *w, uint64_t index, const char *suffix, char *buf, size_t cap);

/* ---- dataset_sides.c ---- */
/* Creates the side files of a fresh dataset (temporaries with w's tag). */
sp_status sp__sides_create(sp_dataset_writer *w, sp_error *err);
/* Reopens the side files the progress record named, cut back to their durable lengths; a
 * list renamed into place by a killed finish is taken back (dataset.json removed first). */
sp_status sp__sides_reopen(sp_dataset_writer *w, sp_error *err);
/* 1 when name is one of w's side files (kept when a family's temporaries are removed). */
int sp__sides_keep(const sp_dataset_writer *w, const char *name);
/* Appends the side records of pairs [0, count) of b (mask 0 skipped): cai's list lines,
 * the spools' records. */
sp_status sp__sides_write(sp_dataset_writer *w, const sp_batch *b, size_t count, sp_error *err);
/* fsyncs every side file. */
sp_status sp__sides_durable(sp_dataset_writer *w, sp_error *err);
/* The finish: the lists renamed into place, or the spools assembled into the layout's HDF5
 * file (everything durable before; called after the last sync). */
sp_status sp__sides_finish(sp_dataset_writer *w, sp_error *err);
/* After dataset.json's rename (sp__dataset_json_write): the spools removed. */
sp_status sp__sides_remove(sp_dataset_writer *w, sp_error *err);
/* Closes the side files (and removes them unless keep). */
void sp__sides_free(sp_dataset_writer *w, int keep);
/* ---- dataset_pairs.c ---- */
sp_status sp__pairs_jobs_create(sp_dataset_writer *w, sp_error *err);
void sp__pairs_jobs_free(sp_dataset_writer *w);
/* Writes the files of pairs [0, count) of b (mask 0 skipped) on the pool. */
sp_status sp__pairs_write_files(sp_dataset_writer *w, const sp_batch *b, size_t count, sp_error *err);
/* Appends pairs [0, count) of b to the shards, in index order, on this thread. */
sp_status sp__pairs_write_h5(sp_dataset_writer *w, const sp_batch *b, size_t count, sp_error *err);
sp_status sp__shard_close(sp_dataset_writer *w, sp_error *err);

#endif /* SP_DATASET_INTERNAL_H */
