/* ckpt_internal.h: private types and helpers shared by the src/ckpt/ files.
 *
 * Module map (one concern per file):
 *   ckpt_tree.c      sp_tree (the data model) and path rules
 *   ckpt_zarr.c      zarr v2 .zarray writer/parser, chunk geometry
 *   ckpt_manifest.c  _MANIFEST, _TREE_METADATA, _CHECKPOINT_METADATA, _ROOT_METADATA JSON
 *   ckpt_step.c      the commit protocol (write a step) and verified reads (restore, verify)
 *   ckpt_manager.c   options, naming, listing, retention, should_save, public methods
 *   ckpt_async.c     the background worker, its FIFO and the sticky error
 *   ckpt_at.c        a checkpoint at a path without a manager (save_at, restore_at)
 * Dependencies go down this list only (the manager uses everything above it). Files are
 * touched only through the sp_fs table and the helpers of src/internal/sp_fsutil.h (core).
 */
#ifndef SP_CKPT_INTERNAL_H
#define SP_CKPT_INTERNAL_H

#include "sp_fsutil.h"
#include "sp_internal.h"
#include "sp/sp_ckpt.h"

#include <pthread.h>
#include <stdatomic.h>

#define SP_CKPT_PATH_MAX 4096
#define SP_CKPT_LEAF_PATH_MAX 512
#define SP_CKPT_MAX_LEAVES 65536
#define SP_CKPT_MAX_META_BYTES ((size_t)64 << 20)   /* JSON files we agree to read */
#define SP_CKPT_MAX_ARRAY_BYTES ((uint64_t)1 << 40) /* 1 TiB per array */

#define SP_CKPT_MANIFEST "_MANIFEST"
#define SP_CKPT_TREE_META "_TREE_METADATA"
#define SP_CKPT_STEP_META "_CHECKPOINT_METADATA"
#define SP_CKPT_ROOT_META "_ROOT_METADATA"
#define SP_CKPT_LOCK ".lock"
#define SP_CKPT_TMP_TAG ".sp-tmp-"
#define SP_CKPT_DEL_TAG ".sp-del-"
#define SP_CKPT_DAMAGED_TAG ".sp-damaged-"

/* ---- tree (ckpt_tree.c) ---- */
typedef struct sp__leaf {
    char *path;
    sp_leaf_kind kind;
    sp_dtype dtype;
    size_t ndim;
    uint64_t shape[SP_CKPT_MAX_RANK];
    size_t nbytes;
    void *data;   /* arrays; owned unless borrowed */
    int borrowed; /* data is the caller's */
    int64_t i64;
    double f64;
    char *text;   /* strings and JSON */
} sp__leaf;

struct sp_tree {
    sp__leaf *v; /* sorted by path (strcmp) */
    size_t n, cap;
};

/* Path rule check; 1 when valid. */
int sp__ckpt_path_ok(const char *path);
/* Adds a leaf whose array data (if any) is taken over (freed by the tree); used by restore. */
sp_status sp__tree_add_owned(sp_tree *t, sp__leaf *leaf, sp_error *err);
/* Deep copy (async staging). *bytes receives the bytes copied. */
sp_status sp__tree_clone(const sp_tree *src, sp_tree **out, size_t *bytes, sp_error *err);
size_t sp__tree_bytes(const sp_tree *t);
const sp__leaf *sp__tree_get(const sp_tree *t, const char *path);

/* ---- zarr (ckpt_zarr.c) ---- */
typedef struct sp__zarray {
    sp_dtype dtype;
    size_t ndim;
    uint64_t shape[SP_CKPT_MAX_RANK];
    uint64_t chunks[SP_CKPT_MAX_RANK];
    int level; /* -1: no compressor; 1..9 zlib */
} sp__zarray;

/* Chunks along axis 0 only, about chunk_bytes each. */
void sp__zarr_plan(sp__zarray *z, sp_dtype d, size_t ndim, const uint64_t *shape, size_t chunk_bytes,
                   int level);
char *sp__zarray_dump(const sp__zarray *z); /* malloc'd JSON, NULL on NOMEM */
sp_status sp__zarray_parse(const char *text, size_t n, sp__zarray *z, sp_error *err);
/* Number of chunks (0 for an empty array), bytes of one chunk, bytes of one axis-0 row. */
uint64_t sp__zarr_nchunks(const sp__zarray *z);
uint64_t sp__zarr_chunk_bytes(const sp__zarray *z);
uint64_t sp__zarr_row_bytes(const sp__zarray *z);
void sp__zarr_chunk_key(const sp__zarray *z, uint64_t i, char *buf, size_t cap);
/* Parses a zarr dtype as we write it (little-endian or one-byte descr, "<f4"); 1 on success. */
int sp__zarr_dtype_parse(const char *s, sp_dtype *out);

/* ---- manifest and metadata (ckpt_manifest.c) ---- */
typedef struct sp__mfile {
    char *path;
    uint64_t size;
    uint32_t crc;
    int used; /* restore bookkeeping */
} sp__mfile;

typedef struct sp__metric {
    char *name;
    double value;
} sp__metric;

typedef struct sp__manifest {
    int64_t step;
    int64_t init_ns, commit_ns;
    sp__mfile *files; /* sorted by path after parse */
    size_t n_files, cap_files;
    sp__metric *metrics;
    size_t n_metrics;
    char **items;
    size_t n_items;
} sp__manifest;

sp_status sp__manifest_add(sp__manifest *mf, const char *path, uint64_t size, uint32_t crc);
char *sp__manifest_dump(const sp__manifest *mf, size_t *len);
sp_status sp__manifest_parse(const char *text, size_t n, sp__manifest *mf, sp_error *err);
void sp__manifest_free(sp__manifest *mf);
sp__mfile *sp__manifest_find(sp__manifest *mf, const char *path);
const sp__metric *sp__manifest_metric(const sp__manifest *mf, const char *name);
/* The top-level item names, comma-separated, into buf (truncated to cap). */
void sp__manifest_items_join(const sp__manifest *mf, char *buf, size_t cap);

char *sp__treemeta_dump(const sp_tree *t, size_t *len);
/* Array leaves get dtype/shape (data NULL), scalars and strings their values, JSON leaves
 * text NULL (their file is "<path>.json"). */
sp_status sp__treemeta_parse(const char *text, size_t n, sp_tree **out, sp_error *err);

char *sp__stepmeta_dump(const sp__manifest *mf, const char *custom_json, size_t *len);
sp_status sp__stepmeta_parse(const char *text, size_t n, int64_t step, sp_error *err);

char *sp__rootmeta_dump(const char *prefix, int fixed_length, size_t *len);
/* prefix_buf receives "" for no prefix. */
sp_status sp__rootmeta_parse(const char *text, size_t n, char *prefix_buf, size_t cap,
                             int *fixed_length, sp_error *err);

/* ---- steps (ckpt_step.c) ---- */
typedef struct sp__save_meta {
    sp__metric *metrics;
    size_t n_metrics;
    char *custom_json; /* NULL or a JSON object */
} sp__save_meta;

void sp__save_meta_free(sp__save_meta *s);

typedef struct sp__step_ctx {
    const sp_fs *fs;
    const char *root;
    int durable;
    int level;
    size_t chunk_bytes;
    atomic_int *cancel; /* NULL or a flag checked between files */
    uint64_t nonce;     /* makes the temporary name unique */
    /* NULL: publish by renaming the complete temporary to a free final name (SP_ERR_EXISTS
     * when it is taken). Otherwise called instead, with the temporary and the final path
     * (ckpt_at.c replaces an existing checkpoint this way); SP_OK means published. */
    sp_status (*publish)(void *publish_ctx, const char *tmp, const char *final_path, sp_error *err);
    void *publish_ctx;
} sp__step_ctx;

/* Copies the metrics and custom metadata of save args (validated) into meta. */
sp_status sp__save_meta_copy(const sp_ckpt_save_args *a, sp__save_meta *meta, sp_error *err);

/* The commit protocol. name is the final directory name. *mf_out (NULL allowed) receives
 * the manifest built so far (free it); *published is 1 once the rename succeeded. */
sp_status sp__step_write(const sp__step_ctx *c, const char *name, int64_t step, const sp_tree *t,
                         const sp__save_meta *meta, sp__manifest *mf_out, int *published,
                         sp_error *err);
/* Reads and checks <root>/<name>/_MANIFEST; step < 0 accepts the step it records
 * (mf->step), a checkpoint written by sp_ckpt_save_at or a manager's step directory. */
sp_status sp__step_manifest(const sp_fs *fs, const char *root, const char *name, int64_t step,
                            sp__manifest *mf, sp_error *err);
/* Restore of one step; see sp_ckpt_restore (a->partial, metadata_only, scalar_placeholders are
 * read; restored_step is not). step < 0 as for sp__step_manifest; *step_out (NULL allowed)
 * receives the step the manifest records. */
sp_status sp__step_read(const sp_fs *fs, const char *root, const char *name, int64_t step,
                        const sp_tree *target, const sp_ckpt_restore_args *a, sp_tree **out,
                        int64_t *step_out, sp_error *err);
sp_status sp__step_verify(const sp_fs *fs, const char *root, const char *name, int64_t step,
                          sp_ckpt_damage_fn cb, void *cb_ctx, sp_error *err);
/* Reads a file of a step through the manifest check; *buf malloc'd (+NUL). */
sp_status sp__step_read_verified(const sp_fs *fs, const char *root, const char *name,
                                 sp__manifest *mf, const char *rel, unsigned char **buf, size_t *n,
                                 sp_error *err);

/* ---- manager (ckpt_manager.c, ckpt_async.c) ---- */
typedef struct sp__step_rec {
    int64_t step;
    int64_t commit_ns;
    int damaged;
    int has_metric;
    double metric;
} sp__step_rec;

typedef struct sp__job {
    struct sp__job *next;
    int64_t step;
    sp_tree *tree; /* owned staged copy */
    sp__save_meta meta;
    size_t bytes;
} sp__job;

/* Lock order: mu is the only lock. The worker never holds mu across file-system calls;
 * the caller's thread holds it only to read or swap the fields it guards. */
struct sp_ckpt_manager {
    /* Immutable after open. */
    char *root;
    sp_ckpt_options opt; /* strings below replace the caller's pointers */
    char *prefix;        /* NULL = none */
    char *best_metric;
    int64_t *save_on_steps;
    const sp_fs *fs;
    int lock_fd; /* -1 when read-only */
    atomic_ullong nonce; /* temporary/tombstone name uniquifier */
    /* Guarded by mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* worker waits for jobs */
    pthread_cond_t cv_idle; /* waiters wait for the queue to drain / staging to free */
    sp__step_rec *steps;    /* ascending by step */
    size_t n_steps, cap_steps;
    char **foreign;         /* step-named directories without a manifest: not ours */
    size_t n_foreign;
    sp__job *head, *tail;
    int busy;              /* the worker is running a job */
    size_t staged_bytes;   /* queued + in-flight */
    int64_t last_queued;   /* highest step queued or in flight, -1 none */
    int64_t inflight;      /* step being written by the worker, -1 none */
    sp_error sticky;       /* sticky.status != SP_OK: an async save failed */
    int stop;
    /* Worker. */
    int have_worker;
    pthread_t worker;
    atomic_int cancel;
};

/* Commit + retention for one step (sync path and worker). Takes mu only briefly. */
sp_status sp__mgr_commit(sp_ckpt_manager *m, int64_t step, const sp_tree *t, const sp__save_meta *meta,
                         sp_error *err);
void sp__mgr_step_name(const sp_ckpt_manager *m, int64_t step, char *buf, size_t cap);

sp_status sp__async_start(sp_ckpt_manager *m, sp_error *err);
sp_status sp__async_enqueue(sp_ckpt_manager *m, int64_t step, const sp_tree *t, sp__save_meta *meta,
                            int64_t timeout_ms, sp_error *err);
/* Waits for an empty queue and idle worker; SP_ERR_TIMEOUT after timeout_ms (-1: none). */
sp_status sp__async_wait_idle(sp_ckpt_manager *m, int64_t timeout_ms, sp_error *err);
void sp__async_stop(sp_ckpt_manager *m);

/* Retention decision over recs[0..n) (ascending): keep[i] = 1 to keep. Pure, for tests. */
void sp__ckpt_retention(const sp_ckpt_options *opt, int has_best, const sp__step_rec *recs, size_t n,
                        unsigned char *keep);
/* Step-name parsing per Orbax _StandardNameFormat; returns 1 and *step on a match. */
int sp__ckpt_parse_step_name(const char *name, const char *prefix, int fixed_length, int64_t *step);

#endif /* SP_CKPT_INTERNAL_H */
