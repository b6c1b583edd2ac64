/* synthpix: crash-safe checkpoint manager (the C equivalent of Orbax's CheckpointManager).
 *
 * A checkpoint is a *step*: a directory `<root>/[prefix_]<step>` holding a small tree of
 * named leaves (arrays, scalars, strings, JSON documents). Arrays are zarr v2 directories
 * (`.zarray` + chunk files) that NumPy/zarr users can open; small state is JSON. Every file
 * of a step is listed with its size and CRC32C in `_MANIFEST`, and restore verifies them.
 * docs/checkpoints.md describes the on-disk layout and the guarantees in full.
 *
 *   sp_tree *t; sp_tree_create(&t);
 *   sp_tree_add_array(t, "sampler/flows", SP_DTYPE_F32, 4, shape, flows, &err);   (copied)
 *   sp_tree_add_json(t, "loader", "{\"epoch\": 3}", &err);
 *   sp_ckpt_options opt; sp_ckpt_options_init(&opt); opt.max_to_keep = 3;
 *   sp_ckpt_manager *m; sp_ckpt_manager_open(&m, "ckpts", &opt, &err);
 *   sp_ckpt_save(m, step, t, NULL, &err);
 *   sp_tree *back; sp_ckpt_restore(m, SP_CKPT_LATEST, NULL, NULL, &back, &err);
 *   sp_ckpt_manager_close(m, 60000, &err); sp_tree_free(t); sp_tree_free(back);
 *
 * Guarantees (beyond Orbax): a step becomes visible only through one atomic rename of a
 * fully fsync'd temporary directory, and disappears only through a rename to a tombstone,
 * so at any instant (kill -9, ENOSPC, EIO) every listed step is complete. The listing is
 * derived from the directories on disk, never from an in-memory guess. The latest
 * committed step is never deleted by retention. An advisory lock (`<root>/.lock`, flock)
 * refuses a second writer; read-only managers never take it.
 *
 * Thread safety: an sp_tree is used by one thread at a time; a tree that is only read
 * (find, count, at, save) may be shared by several threads. An sp_ckpt_manager is used by
 * one caller thread at a time (as Orbax's manager); with enable_async it owns one internal
 * worker thread, and the caller may keep calling the manager while that worker writes.
 * sp_fs objects must be safe for the worker thread when async is on (the POSIX fs is;
 * the fault-injecting fs counts calls without locking and is meant for synchronous tests).
 */
#ifndef SP_CKPT_H
#define SP_CKPT_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* int64_t, uint64_t, uint32_t */

#include "sp/sp_api.h"
#include "sp/sp_errors.h"
#include "sp/sp_fs.h"
#include "sp/sp_io.h" /* sp_dtype */

#ifdef __cplusplus
extern "C" {
#endif

#define SP_CKPT_FORMAT_VERSION 1 /* on-disk format; readers refuse other major versions */

/* ---------------------------------------------------------------------------------------
 * Data model: a tree of named leaves.
 * A path is 1..16 '/'-separated components, each 1..64 characters of [A-Za-z0-9_.-]
 * starting with a letter or digit and not ending in ".json"; at most 512 bytes in total.
 * No path may be a prefix component-wise of another (a leaf is never also an interior
 * node). A tree holds at most 65536 leaves; arrays have rank 0..32.
 * ------------------------------------------------------------------------------------- */

/* Element types: sp_dtype of sp_io.h (the library's one dtype enum). Every value is
 * supported; zarr stores them as |b1 |u1 |i1 <u2 <i2 <u4 <i4 <u8 <i8 <f4 <f8. */

typedef enum sp_leaf_kind {
    SP_LEAF_ARRAY = 1,  /* dtype + shape + C-order data */
    SP_LEAF_I64 = 2,    /* integer scalar (JSON) */
    SP_LEAF_F64 = 3,    /* double scalar, stored bit-exactly (NaN and infinities survive) */
    SP_LEAF_STRING = 4, /* UTF-8 text without NUL bytes (JSON string) */
    SP_LEAF_JSON = 5    /* a JSON document, restored byte-for-byte as given */
} sp_leaf_kind;

#define SP_CKPT_MAX_RANK 32

/* A read-only view of one leaf. Every pointer is owned by the tree and valid until the
 * tree is freed or modified. */
typedef struct sp_leaf_view {
    const char *path;
    sp_leaf_kind kind;
    sp_dtype dtype;         /* arrays only */
    size_t ndim;            /* arrays only, 0..SP_CKPT_MAX_RANK */
    const uint64_t *shape;  /* arrays only; ndim entries (NULL when ndim == 0) */
    size_t nbytes;          /* arrays: element size * product(shape); strings/JSON: length */
    const void *data;       /* arrays: C-order elements, NULL in a metadata-only tree */
    int64_t i64;            /* SP_LEAF_I64 */
    double f64;             /* SP_LEAF_F64 */
    const char *text;       /* SP_LEAF_STRING and SP_LEAF_JSON, NUL-terminated */
} sp_leaf_view;

typedef struct sp_tree sp_tree;


SP_API sp_status sp_tree_create(sp_tree **out);
SP_API void sp_tree_free(sp_tree *t); /* accepts NULL */

/* Adds an array leaf. shape (ndim entries) and data (product(shape) elements in C order)
 * are copied. A bool array must hold only 0/1 bytes (NumPy's bool). Errors: SP_ERR_INVALID (bad path,
 * dtype, rank, duplicate or prefix conflict; the message names the path), SP_ERR_RANGE
 * (size overflow), SP_ERR_NOMEM. */
SP_API sp_status sp_tree_add_array(sp_tree *t, const char *path, sp_dtype dtype, size_t ndim,
                                   const uint64_t *shape, const void *data, sp_error *err);
/* As sp_tree_add_array but data is *borrowed* until the tree is freed (no copy): for large
 * arrays saved synchronously. An async save still copies it into staging memory. */
SP_API sp_status sp_tree_add_array_ref(sp_tree *t, const char *path, sp_dtype dtype, size_t ndim,
                                       const uint64_t *shape, const void *data, sp_error *err);
SP_API sp_status sp_tree_add_i64(sp_tree *t, const char *path, int64_t v, sp_error *err);
SP_API sp_status sp_tree_add_f64(sp_tree *t, const char *path, double v, sp_error *err);
/* text is copied; it must be valid UTF-8 (checked). */
SP_API sp_status sp_tree_add_string(sp_tree *t, const char *path, const char *text, sp_error *err);
/* json_text is validated (any JSON value; SP_ERR_INVALID with the parser's message) and
 * copied verbatim. */
SP_API sp_status sp_tree_add_json(sp_tree *t, const char *path, const char *json_text, sp_error *err);

/* Looks a leaf up by exact path; SP_ERR_NOTFOUND when absent. *out is a view (see above). */
SP_API sp_status sp_tree_find(const sp_tree *t, const char *path, sp_leaf_view *out);
/* Typed lookups for restoring state: SP_ERR_NOTFOUND when the path is absent,
 * SP_ERR_MISMATCH (the message names the path and what differs) when the leaf has another
 * kind, dtype or shape. sp_tree_get_text accepts string and JSON leaves; *out is owned by
 * the tree. sp_tree_copy_array copies an array leaf into caller memory dst of exactly
 * dst_bytes bytes (borrowed for the call) after checking dtype and shape (shape has ndim
 * entries; NULL when ndim is 0). */
SP_API sp_status sp_tree_get_i64(const sp_tree *t, const char *path, int64_t *out, sp_error *err);
SP_API sp_status sp_tree_get_f64(const sp_tree *t, const char *path, double *out, sp_error *err);
SP_API sp_status sp_tree_get_text(const sp_tree *t, const char *path, const char **out, sp_error *err);
SP_API sp_status sp_tree_copy_array(const sp_tree *t, const char *path, sp_dtype dtype, size_t ndim,
                                    const uint64_t *shape, void *dst, size_t dst_bytes, sp_error *err);
/* Number of leaves, and the i-th leaf in ascending byte order of path (i < count). */
SP_API size_t sp_tree_count(const sp_tree *t);
SP_API sp_status sp_tree_at(const sp_tree *t, size_t i, sp_leaf_view *out);

/* ---------------------------------------------------------------------------------------
 * Manager options (Orbax CheckpointManagerOptions).
 * ------------------------------------------------------------------------------------- */

typedef enum sp_ckpt_best_mode { SP_CKPT_BEST_MAX = 0, SP_CKPT_BEST_MIN = 1 } sp_ckpt_best_mode;

/* A user save predicate (Orbax should_save_fn): last_saved is -1 when nothing is saved. */
typedef int (*sp_ckpt_should_save_fn)(void *ctx, int64_t step, int64_t last_saved);

typedef struct sp_ckpt_options {
    size_t struct_size; /* set by sp_ckpt_options_init; lets the struct grow */
    /* Retention (evaluated after each successful commit; OR of the rules; the latest
     * committed step is always kept). */
    int64_t max_to_keep;        /* -1 (default) keep all; N >= 0 keep the newest N (or the
                                 * best N with best_metric). 0 keeps only the latest. */
    int64_t keep_period;        /* 0 (default) off; K > 0 keeps every step % K == 0 */
    int64_t keep_time_interval_ns; /* 0 off; T > 0 keeps the oldest step, then each next
                                    * step committed >= T ns after the last one kept */
    const char *best_metric;    /* NULL (default): latest-N. Else the metric name ranked
                                 * for best-N; copied at open */
    sp_ckpt_best_mode best_mode; /* default SP_CKPT_BEST_MAX */
    int keep_checkpoints_without_metrics; /* default 1 (Orbax) */
    /* Save decision (should_save). */
    int64_t save_interval_steps; /* default 1: step % N == 0; 0 disables the interval rule */
    const int64_t *save_on_steps; /* extra steps (copied at open); NULL when n is 0 */
    size_t n_save_on_steps;
    sp_ckpt_should_save_fn should_save_fn; /* replaces interval/steps/initial rules */
    void *should_save_ctx;                 /* borrowed for the manager's life */
    /* Naming: "[prefix_]step", zero-padded to step_format_fixed_length digits (0 = none). */
    const char *step_prefix;      /* NULL = none; copied; [A-Za-z0-9_.-], at most 64 bytes */
    int step_format_fixed_length; /* 0..18 */
    int detect_naming;            /* 1: take prefix/padding from <root>/_ROOT_METADATA when
                                   * present (the CLI does this); default 0: the options
                                   * name the steps. An invalid _ROOT_METADATA (a prefix
                                   * that is not a plain name, ...) is SP_ERR_CORRUPT
                                   * either way. */
    int require_root;             /* 1: the root must already hold _ROOT_METADATA, else
                                   * SP_ERR_NOTFOUND and nothing is created (the ckpt
                                   * tools); default 0 */
    /* Root handling. */
    int create;                  /* default 1: mkdir the root when missing */
    int cleanup_tmp_directories; /* default 0: at open, remove stray temporaries */
    int read_only;               /* default 0: never writes, never locks */
    /* Writing. */
    int enable_async;            /* default 0 (Orbax: 1). See sp_ckpt_save. */
    size_t async_staging_cap;    /* bytes of staged trees (queued + in flight); default
                                  * 1 GiB. A tree larger than the cap is saved
                                  * synchronously after the queue drains. */
    int64_t async_timeout_ms;    /* deadline of internal waits (restore, delete, reload wait
                                  * for pending saves); default 1200000 (Orbax 1200 s) */
    int compression_level;       /* -1 (default) none; 1..9 zarr "zlib" compressor */
    size_t chunk_bytes;          /* target chunk size along axis 0, default 16 MiB */
    int durable;                 /* default 1: fsync files and directories. 0 only for
                                  * throw-away data (benchmarks of everything but fsync). */
    const sp_fs *fs;        /* NULL = sp_fs_posix(); borrowed for the manager's life */
} sp_ckpt_options;

SP_API void sp_ckpt_options_init(sp_ckpt_options *opt);

/* Flax legacy save_checkpoint/restore_checkpoint arguments mapped onto the options:
 * keep -> max_to_keep, keep_every_n_steps -> keep_period (Orbax modulo semantics, not
 * Flax's "distance since last kept"), prefix -> step_prefix (Flax's prefix includes the
 * underscore: "checkpoint_" becomes step_prefix "checkpoint"; a prefix not ending in '_'
 * is SP_ERR_UNSUPPORTED). Flax `overwrite` maps to sp_ckpt_save_args.force; restore with
 * target NULL is Flax's restore without target. prefix is borrowed: the caller keeps it
 * alive until sp_ckpt_manager_open returns. *prefix_buf receives the stripped prefix. */
SP_API sp_status sp_ckpt_options_from_flax(sp_ckpt_options *opt, int64_t keep, int64_t keep_every_n_steps,
                                           const char *prefix, char *prefix_buf, size_t prefix_buf_size,
                                           sp_error *err);

/* ---------------------------------------------------------------------------------------
 * Manager.
 * ------------------------------------------------------------------------------------- */

typedef struct sp_ckpt_manager sp_ckpt_manager;

#define SP_CKPT_LATEST ((int64_t)-1) /* restore/metadata selector: latest committed step */
#define SP_CKPT_NONE ((int64_t)-1)   /* "no step" result of latest_step / best_step */

/* Opens (and with opt->create makes) a root. root is copied; opt is read during the call
 * (strings and arrays it points to are copied; fs and should_save_ctx are borrowed for the
 * manager's life). Errors: SP_ERR_LOCKED (another writer holds the root; the message names
 * its pid), SP_ERR_NOTFOUND (root missing and !create), SP_ERR_INVALID, SP_ERR_IO. */
SP_API sp_status sp_ckpt_manager_open(sp_ckpt_manager **out, const char *root, const sp_ckpt_options *opt,
                                      sp_error *err);
/* Waits up to timeout_ms (-1 = no limit) for pending saves, then stops the worker (a save
 * still running after the deadline is canceled: it leaves only a temporary directory),
 * releases the lock and frees the manager. Returns the sticky async error if one is
 * pending, SP_ERR_TIMEOUT when the deadline passed, else SP_OK. Accepts NULL. */
SP_API sp_status sp_ckpt_manager_close(sp_ckpt_manager *m, int64_t timeout_ms, sp_error *err);

typedef struct sp_ckpt_metric {
    const char *name; /* borrowed for the call */
    double value;     /* finite */
} sp_ckpt_metric;

typedef struct sp_ckpt_save_args {
    size_t struct_size;            /* set by sp_ckpt_save_args_init */
    int force;                     /* 1: save even when should_save says no (never overwrites) */
    const sp_ckpt_metric *metrics; /* copied; NULL when n_metrics is 0 */
    size_t n_metrics;
    const char *custom_metadata_json; /* a JSON object stored in _CHECKPOINT_METADATA; copied */
    int64_t timeout_ms;            /* async back-pressure deadline; default -1 (no limit) */
} sp_ckpt_save_args;

SP_API void sp_ckpt_save_args_init(sp_ckpt_save_args *a);

/* Saves tree as step (>= 0). args may be NULL (defaults). Sets *saved (NULL allowed) to 1
 * when a save was performed or queued, 0 when should_save declined (not an error).
 * Synchronous mode: returns after the step is committed and retention ran.
 * Async mode: returns after the tree was copied into staging memory; the write, commit and
 * retention run on the worker thread, one save at a time in FIFO order, and their
 * outcome surfaces through wait_until_finished/check_for_errors/the next save/close.
 * The tree is borrowed for the call only (async copies it).
 * Errors: SP_ERR_EXISTS (step already committed or queued), SP_ERR_READONLY, SP_ERR_NOSPC,
 * SP_ERR_IO (the message names the operation and path), the sticky error of an earlier
 * async save, SP_ERR_TIMEOUT (staging back-pressure deadline). On any error, the steps
 * committed before are untouched. */
SP_API sp_status sp_ckpt_save(sp_ckpt_manager *m, int64_t step, const sp_tree *tree,
                              const sp_ckpt_save_args *args, int *saved, sp_error *err);

typedef struct sp_ckpt_restore_args {
    size_t struct_size;
    int partial;          /* with a target: allow the checkpoint to hold extra leaves */
    int fallback;         /* step == SP_CKPT_LATEST and it is damaged: try older steps */
    int metadata_only;    /* return leaves without array data (data NULL) */
    int64_t *restored_step; /* NULL or receives the step actually restored */
    int scalar_placeholders; /* with a target: a rank-0 array leaf of the target stands
                              * for an array of its dtype and any shape, which comes back
                              * with its stored shape (Orbax and Flax targets such as
                              * np.array(0)); default 0: shapes must match exactly */
} sp_ckpt_restore_args;

SP_API void sp_ckpt_restore_args_init(sp_ckpt_restore_args *a);

/* Restores a step (SP_CKPT_LATEST = newest committed). Every file read is checked against
 * the manifest's size and CRC32C; a damaged file fails with SP_ERR_CHECKSUM or
 * SP_ERR_CORRUPT naming "<step dir>/<file>". Without a target the tree is rebuilt from
 * the stored metadata. With a target (borrowed for the call) every target leaf must exist
 * with the same kind, dtype and shape (SP_ERR_MISMATCH naming the path), and extra stored
 * leaves are an error unless args->partial. *out receives a new tree (free with
 * sp_tree_free). args may be NULL. Waits for pending async saves first. */
SP_API sp_status sp_ckpt_restore(sp_ckpt_manager *m, int64_t step, const sp_tree *target,
                                 const sp_ckpt_restore_args *args, sp_tree **out, sp_error *err);

/* Committed steps known to the manager (derived from disk at open/reload, changed only by
 * commits and deletes). */
SP_API int64_t sp_ckpt_latest_step(sp_ckpt_manager *m);
/* Copies up to cap steps, ascending, into steps (NULL when cap is 0); returns the count. */
SP_API size_t sp_ckpt_all_steps(sp_ckpt_manager *m, int64_t *steps, size_t cap);
/* Best step by best_metric (ties: the newer wins), or latest_step without best_metric;
 * SP_CKPT_NONE when no step has the metric. */
SP_API int64_t sp_ckpt_best_step(sp_ckpt_manager *m);
/* Orbax should_save: read_only -> 0; step <= latest (committed or queued) -> 0; else the
 * user predicate if set, otherwise interval OR save_on_steps OR "no step yet". */
SP_API int sp_ckpt_should_save(sp_ckpt_manager *m, int64_t step);

/* Blocks until every queued save has finished or timeout_ms passed (-1 = no limit;
 * SP_ERR_TIMEOUT). Returns the sticky error if set. */
SP_API sp_status sp_ckpt_wait_until_finished(sp_ckpt_manager *m, int64_t timeout_ms, sp_error *err);
/* Non-blocking: the sticky error (copied into err) or SP_OK. */
SP_API sp_status sp_ckpt_check_for_errors(sp_ckpt_manager *m, sp_error *err);
/* Acknowledges the sticky error so saving can go on. */
SP_API void sp_ckpt_clear_error(sp_ckpt_manager *m);

/* Deletes a step: rename to a tombstone, then remove. SP_ERR_NOTFOUND when unknown. */
SP_API sp_status sp_ckpt_delete(sp_ckpt_manager *m, int64_t step, sp_error *err);
/* Moves a damaged step aside: renames it to "<step dir>.sp-damaged-<ns>" (never deleted,
 * kept for inspection; no longer listed). *moved_to (NULL allowed, cap bytes) receives the
 * new path. SP_ERR_NOTFOUND when unknown. */
SP_API sp_status sp_ckpt_quarantine(sp_ckpt_manager *m, int64_t step, char *moved_to, size_t cap, sp_error *err);

/* Directories of the root named like steps but holding no _MANIFEST: never committed by a
 * manager, so not ours. They are never listed, restored, retained or removed; these tell
 * the caller about them (names valid until the next reload or close). */
SP_API size_t sp_ckpt_foreign_count(sp_ckpt_manager *m);
SP_API const char *sp_ckpt_foreign_name(sp_ckpt_manager *m, size_t i);

/* Re-lists the root from disk. */
SP_API sp_status sp_ckpt_reload(sp_ckpt_manager *m, sp_error *err);

typedef struct sp_ckpt_step_info {
    int64_t step;
    int64_t init_ns;       /* when the save started (ns since the epoch) */
    int64_t commit_ns;     /* when it committed */
    uint64_t total_bytes;  /* sum of the sizes of every file of the step */
    uint64_t n_files;
    int damaged;           /* 1: the manifest is missing or unreadable (fields above 0) */
    int has_metric;        /* best_metric present in the step's metrics */
    double metric;
    char dir_name[96];     /* step directory name */
    char items[512];       /* top-level item names, comma-separated (truncated) */
} sp_ckpt_step_info;

/* Step metadata. metadata_json (NULL allowed) receives the verified _CHECKPOINT_METADATA
 * text (free with free()); NULL when the step is damaged. */
SP_API sp_status sp_ckpt_metadata(sp_ckpt_manager *m, int64_t step, sp_ckpt_step_info *info,
                                  char **metadata_json, sp_error *err);

/* Verifies every file of a step against its manifest (full read, sizes, CRC32C) and
 * checks that the metadata parses. cb (NULL allowed) is called once per damaged file with a
 * message that starts with the file's path relative to the root. Returns SP_OK, SP_ERR_CHECKSUM or
 * SP_ERR_CORRUPT (first damage in err). */
typedef void (*sp_ckpt_damage_fn)(void *ctx, sp_status s, const char *message /* "<step dir>/<file>: why" */);
SP_API sp_status sp_ckpt_verify(sp_ckpt_manager *m, int64_t step, sp_ckpt_damage_fn cb, void *cb_ctx,
                                sp_error *err);

/* The root directory (owned by the manager). */
SP_API const char *sp_ckpt_root(const sp_ckpt_manager *m);

/* ---------------------------------------------------------------------------------------
 * A checkpoint at a path, without a manager (Orbax's Checkpointer: save(path, item, force),
 * restore(path, item)). The directory `path` itself is one step (the same layout, manifest
 * and checks as a manager's step; it records step 0), written with the same commit
 * protocol: a temporary "<path>.sp-tmp-<pid>-<n>" next to it, every file fsync'd, one
 * rename. No lock is taken: one writer per path at a time.
 * ------------------------------------------------------------------------------------- */

/* Saves tree (borrowed for the call) as the checkpoint `path`; missing parent directories
 * are created. args may be NULL (defaults); its custom_metadata_json and metrics are stored
 * as in sp_ckpt_save, timeout_ms is not used, and force means:
 *   0: an existing `path` is SP_ERR_EXISTS and nothing is written;
 *   1: an existing checkpoint at `path` is replaced crash-safely: the new one is written
 *      and made durable beside it, then the two are swapped in one atomic rename
 *      (RENAME_EXCHANGE) and the old one is removed, so a kill at any moment leaves either
 *      the old or the new checkpoint whole at `path`. On a file system that cannot swap,
 *      the old one is renamed to "<path>.sp-old-<pid>-<n>" before the new one is renamed
 *      into place; a kill between those two renames leaves the old one whole under that
 *      name, and sp_ckpt_restore_at restores it from there.
 * Only a synthpix checkpoint (a directory with a readable _MANIFEST) is replaced: a file, a
 * symbolic link or another directory at `path` is SP_ERR_EXISTS and left untouched. After a
 * successful save, temporaries and old copies of `path` left by writers that no longer run
 * are removed. On any error the checkpoint that was at `path` (if any) is unchanged. */
SP_API sp_status sp_ckpt_save_at(const char *path, const sp_tree *tree, const sp_ckpt_save_args *args,
                                 sp_error *err);
/* Restores the checkpoint at `path`: one written by sp_ckpt_save_at or a manager's step
 * directory. target, args and *out as for sp_ckpt_restore (args->fallback is not used;
 * *args->restored_step receives the step the checkpoint records). Every file is checked
 * against the manifest. When `path` is missing but a forced save was killed between its two
 * renames (see sp_ckpt_save_at), the old checkpoint is restored from "<path>.sp-old-*".
 * Errors: SP_ERR_NOTFOUND (no checkpoint at path), SP_ERR_MISMATCH (target), SP_ERR_CHECKSUM
 * and SP_ERR_CORRUPT naming the damaged file. A restore that runs while another process
 * replaces the same path may fail with such an error; it never returns mixed data. */
SP_API sp_status sp_ckpt_restore_at(const char *path, const sp_tree *target, const sp_ckpt_restore_args *args,
                                    sp_tree **out, sp_error *err);
/* Metadata of the checkpoint at `path` (found as by sp_ckpt_restore_at): info (step,
 * times, sizes, items, dir_name) and, when metadata_json is not NULL, the verified
 * _CHECKPOINT_METADATA text (free with free(); its "custom_metadata" holds what the save
 * was given). Errors as sp_ckpt_restore_at. */
SP_API sp_status sp_ckpt_metadata_at(const char *path, sp_ckpt_step_info *info, char **metadata_json,
                                     sp_error *err);

#if defined(SP_EXPERIMENTAL_API)
/* The same calls through a file-system table (fault injection in tests). fs is borrowed. */
SP_API sp_status sp_ckpt_save_at_fs(const sp_fs *fs, const char *path, const sp_tree *tree,
                                    const sp_ckpt_save_args *args, sp_error *err);
SP_API sp_status sp_ckpt_restore_at_fs(const sp_fs *fs, const char *path, const sp_tree *target,
                                       const sp_ckpt_restore_args *args, sp_tree **out, sp_error *err);
#endif


#ifdef __cplusplus
}
#endif
#endif /* SP_CKPT_H */
