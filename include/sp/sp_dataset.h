/* synthpix: datasets on disk. A dataset writer turns batches into files, crash-safely, and
 * sp_generate runs the whole job (sampler, writer, checkpoints) that `synthpix generate`,
 * the Python package and the MPI launcher share.
 *
 *     sp_generate_options o; sp_generate_options_init(&o);
 *     o.pairs = 1000; o.checkpoint_dir = "ckpt"; o.resume = 1;
 *     sp_generate_result r;
 *     sp_status st = sp_generate(&cfg, "out", &o, &r, &err);
 *
 * Layout (docs/formats.md): DIR/pair_%06d_img1.EXT, _img2.EXT, _flow.flo (_flow.npy with
 * npy), or with h5 DIR/shard_%05d.h5 of shard_size pairs each; DIR/params.jsonl (one JSON
 * line per pair) and DIR/dataset.json (configuration echo, version, counts), written last.
 * Pair numbers are stream positions, so the first m pairs of any run are the same files.
 * Other layouts put the pairs into the files other projects' loaders read (the Cai et al.
 * 2019 PIV dataset, pykitPIV, PIV-LiteFlowNet; sp_dataset_layout below); params.jsonl and
 * dataset.json are written alongside as for every layout.
 *
 * One job per folder: the writer holds an advisory lock on DIR/.synthpix.lock while it is
 * open (a second writer gets SP_ERR_LOCKED naming the holder's pid), never mixes its files
 * with another dataset's (a folder holding one is refused unless asked to overwrite it),
 * and removes dataset.json before it writes the first pair of a resumed job.
 *
 * Guarantees (docs/durability.md): every file reaches its final name by one rename of a
 * complete temporary (created with O_EXCL | O_NOFOLLOW under an unpredictable name); a
 * folder holding dataset.json holds the complete dataset it describes; every write's
 * status is checked and a failure names the file and the OS reason. With checkpoints, a
 * step is committed only after every pair and params line it covers is durable, and a
 * resumed job rewrites identical bytes, so the finished dataset equals an uninterrupted
 * run's byte for byte. All file operations go through opt->fs (sp_fs.h), so tests can
 * fail any of them.
 *
 * Thread safety: a writer is used by one thread at a time; it encodes the pairs of a batch
 * on the pool it is given. sp_generate uses its arguments from the calling thread only.
 */
#ifndef SP_DATASET_H
#define SP_DATASET_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint64_t, int64_t */

#include "sp/sp_api.h"
#include "sp/sp_config.h"
#include "sp/sp_errors.h"
#include "sp/sp_fs.h"
#include "sp/sp_group.h"
#include "sp/sp_pool.h"
#include "sp/sp_sampler.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sp_dataset_format {
    SP_DATASET_PNG = 0, /* 8/16-bit grayscale PNG images, Middlebury .flo flows (default) */
    SP_DATASET_TIFF,    /* 8/16-bit grayscale TIFF images, .flo flows */
    SP_DATASET_NPY,     /* float32 .npy images (H, W) and flows (Ho, Wo, 2) */
    SP_DATASET_H5,      /* HDF5 shards: images1, images2, flow_fields, params */
    SP_DATASET_FORMAT_COUNT_
} sp_dataset_format;

/* "png", "tiff", "npy", "h5"; NULL for an invalid value. Parses those names (and "tif",
 * "hdf5"): 1 on success. */
SP_API const char *sp_dataset_format_name(sp_dataset_format f);
SP_API int sp_dataset_format_parse(const char *name, sp_dataset_format *out);

/* Which files a dataset is made of (docs/formats.md, "Dataset layouts"). Every layout other
 * than synthpix needs 2 frames, a flow grid equal to the image grid, output_units: pixels
 * and one process (a group, synthpix-mpi, is refused); `format` and `shard_size` apply to
 * the synthpix layout only. */
typedef enum sp_dataset_layout {
    SP_DATASET_LAYOUT_SYNTHPIX = 0, /* pair files or HDF5 shards, as `format` says (default) */
    SP_DATASET_LAYOUT_CAI,          /* <case>_NNNNN_img1.tif, _img2.tif, _flow.flo and the lists
                                     * FlowData_train.list, FlowData_test.list (Cai et al. 2019) */
    SP_DATASET_LAYOUT_PYKITPIV,     /* pykitpiv.h5: I and targets, (N, 2, H, W) float32 */
    SP_DATASET_LAYOUT_LITEFLOWNET,  /* liteflownet.h5: groups train and val, each with data1,
                                     * data2 (n, H, W, 3) uint8 and label (n, H, W, 2) float32 */
    SP_DATASET_LAYOUT_COUNT_
} sp_dataset_layout;

/* "synthpix", "cai", "pykitpiv", "liteflownet"; NULL for an invalid value. Parses those
 * names: 1 on success. */
SP_API const char *sp_dataset_layout_name(sp_dataset_layout l);
SP_API int sp_dataset_layout_parse(const char *name, sp_dataset_layout *out);

/* The split rule of the cai and liteflownet layouts: 1 when pair `index` of a stream seeded
 * `seed` goes to the test (cai) or val (liteflownet) part for the test fraction `split` in
 * [0, 1]. The draw is b = sp_random_bits(sp_key_fold_in(sp_key_from_seed(seed), 0x73706c74),
 * index), a Threefry-2x32 word per pair; the pair is a test pair when b < split * 2^32
 * (so split 0: none, split 1: all). Depends on nothing else: any subset of the pairs, in
 * any order, on any number of processes, splits the same way. */
SP_API int sp_dataset_split_is_test(uint64_t seed, uint64_t index, double split);

typedef struct sp_dataset_options {
    size_t struct_size;          /* set by sp_dataset_options_init */
    sp_dataset_format format;    /* default SP_DATASET_PNG */
    int bit_depth;               /* 0 (default): the configuration's bit_depth; 8 or 16; 32
                                  * (float32 images) with SP_DATASET_H5 only */
    uint64_t shard_size;         /* h5: pairs per shard, 1..1000000; default 256 */
    uint64_t pairs;              /* pairs the finished dataset holds (>= 1; default 64) */
    unsigned data_shard_index;   /* recorded in dataset.json when data_shard_count > 1 */
    unsigned data_shard_count;
    sp_pool *pool;               /* borrowed: pairs are encoded on it; NULL = this thread */
    const sp_fs *fs;             /* NULL = sp_fs_posix(); borrowed for the writer's life */
    const char *tmp_tag;         /* marks this job's temporaries ("<final>.sp-tmp-<tag>-<rand>");
                                  * [0-9a-f], at most 16; NULL = a fresh random tag */
    int overwrite;               /* 1: a fresh dataset may replace one found in DIR: the files
                                  * the layouts name (pairs, shards, params.jsonl,
                                  * dataset.json, the other layouts' files, their
                                  * temporaries) are removed first, and nothing else. 0 (default): such a DIR is refused
                                  * (SP_ERR_EXISTS), unless it already holds exactly this
                                  * dataset (sp_dataset_writer_complete). */
    int adopt_partial;           /* 1: the files found are this job family's own partial
                                  * output (a killed job that committed nothing): replaced
                                  * as with overwrite. Set by sp_generate. */
    sp_dataset_layout layout;    /* default SP_DATASET_LAYOUT_SYNTHPIX (the files above) */
    double split;                /* cai, liteflownet: the test (val) fraction in [0, 1], by
                                  * sp_dataset_split_is_test; default 0.1 */
    const char *case_name;       /* cai: the <case> of the file names, 1 to 64 characters of
                                  * [A-Za-z0-9_-]; NULL (default) = "synthpix"; copied */
} sp_dataset_options;

SP_API void sp_dataset_options_init(sp_dataset_options *o);

typedef struct sp_dataset_writer sp_dataset_writer;

/* Opens DIR (created with its parents when missing) for a dataset of cfg's stream whose
 * batches have geometry geom (both borrowed for the call; the configuration is echoed).
 * resume_json (NULL = a fresh dataset) is a progress record from sp_dataset_writer_sync of
 * an earlier job: the writer checks that it describes this dataset (format, bit depth,
 * configuration, pairs; SP_ERR_MISMATCH naming what differs), cuts params.jsonl back to the
 * length it vouches for and continues after the pairs it covers.
 * Errors: SP_ERR_INVALID (options), SP_ERR_MISMATCH, SP_ERR_IO/NOSPC (naming the path). */
SP_API sp_status sp_dataset_writer_open(sp_dataset_writer **out, const char *dir, const sp_config *cfg,
                                        const sp_geometry *geom, const sp_dataset_options *opt,
                                        const char *resume_json, sp_error *err);
/* 1 when DIR already held the complete dataset this writer was asked for (its
 * dataset.json has the same configuration, format, layout, bit depth, shard and pair
 * count): nothing needs writing, and nothing was touched but, when opt->tmp_tag was given,
 * that job family's leftover temporaries (a spool a kill left); finish and write are
 * refused. */
SP_API int sp_dataset_writer_complete(const sp_dataset_writer *w);
/* Frees w (NULL allowed). An unfinished writer removes its temporaries except the partial
 * params.jsonl of a checkpointed job (it is that job's progress). */
SP_API void sp_dataset_writer_free(sp_dataset_writer *w);

/* Writes the pairs of b whose index is below opt->pairs (padding pairs, mask 0, are
 * skipped) and appends their params lines. b is borrowed for the call. */
SP_API sp_status sp_dataset_writer_write(sp_dataset_writer *w, const sp_batch *b, sp_error *err);
/* Pairs the dataset covers so far: the stream position after the last batch written (or
 * resumed from). */
SP_API uint64_t sp_dataset_writer_covered(const sp_dataset_writer *w);
/* Pairs written (real records; padding excluded), including those of resumed jobs. */
SP_API uint64_t sp_dataset_writer_written(const sp_dataset_writer *w);

/* 1 when the writer can make its progress durable now: always for per-pair files; with
 * h5, only at a shard boundary (a checkpoint covers whole shards). */
SP_API int sp_dataset_writer_can_sync(const sp_dataset_writer *w);
/* Closes a full shard, makes every pair and params line written so far durable, then
 * returns in *progress_json (free with free()) the record a later sp_dataset_writer_open
 * resumes from. SP_ERR_BUSY when sp_dataset_writer_can_sync is 0. */
SP_API sp_status sp_dataset_writer_sync(sp_dataset_writer *w, char **progress_json, sp_error *err);
/* Completes the dataset: closes the last shard, makes everything durable, moves
 * params.jsonl into place and writes dataset.json (pairs = the pairs written). */
SP_API sp_status sp_dataset_writer_finish(sp_dataset_writer *w, sp_error *err);

/* ---- the whole job ------------------------------------------------------------------ */

/* Progress: pairs covered so far (start_pairs of them by earlier jobs) out of total. */
typedef void (*sp_generate_progress_fn)(void *ctx, uint64_t covered, uint64_t total, uint64_t start_pairs);

typedef struct sp_generate_options {
    size_t struct_size;            /* set by sp_generate_options_init */
    sp_dataset_options dataset;    /* format, bit depth, shard size, pairs, fs; pool and the
                                    * data shard fields are filled from `sampler` below */
    sp_sampler_options sampler;    /* threads, pool, data shards, prefetch threads */
    const char *checkpoint_dir;    /* NULL (default): no checkpoints */
    uint64_t checkpoint_every;     /* batches between checkpoints (default 100; with h5 the
                                    * first shard boundary after each mark) */
    int64_t max_to_keep;           /* checkpoints kept (default 2; the latest is always kept) */
    int resume;                    /* 1: continue from the latest good checkpoint (start
                                    * afresh when there is none); 0: a root holding
                                    * checkpoints is refused (SP_ERR_EXISTS) */
    sp_generate_progress_fn progress; /* NULL = none; called after every batch */
    void *progress_ctx;
    /* Called once with a one-line note the caller may show (a resume, a damaged step
     * skipped); NULL = none. */
    void (*note)(void *ctx, const char *line);
    void *note_ctx;
    /* Scale-out (docs/scale-out.md): NULL or size 1 = this process writes everything.
     * size P > 1: every rank calls sp_generate with the same arguments and its own group
     * (borrowed for the call); the ranks split the stream by whole flow batches and write
     * the dataset one process writes, byte for byte, with one checkpoint root (rank 0's
     * locks, params.jsonl, dataset.json and steps). All ranks return the same status. */
    const sp_group *group;
} sp_generate_options;

SP_API void sp_generate_options_init(sp_generate_options *o);

typedef struct sp_generate_result {
    uint64_t pairs_written;  /* pairs in the finished dataset (all jobs) */
    uint64_t start_pairs;    /* pairs covered by the checkpoint this job resumed from */
    uint64_t pairs_this_run; /* pairs this job rendered and wrote */
    unsigned threads;        /* pool size used */
    int already_complete;    /* DIR held this exact dataset already: nothing was written */
    int started;             /* 1 once the job got past its checks and began writing: a
                              * failure before it (configuration, input files, options,
                              * a checkpoint of another dataset) changed nothing on disk */
} sp_generate_result;

/* Renders opt->dataset.pairs pairs of cfg's stream into DIR (see the top of this file).
 * cfg and dir are borrowed for the call; res may be NULL. A finite stream (loop: false)
 * that ends first gives a smaller dataset. Errors: those of sp_sampler_create (nothing is
 * created), SP_ERR_EXISTS (checkpoints present without resume), SP_ERR_MISMATCH (the
 * checkpoint belongs to another dataset), SP_ERR_IO/NOSPC (the message names the file);
 * after a runtime failure the last committed checkpoint is intact and resumable. */
SP_API sp_status sp_generate(const sp_config *cfg, const char *dir, const sp_generate_options *opt,
                             sp_generate_result *res, sp_error *err);

#ifdef __cplusplus
}
#endif
#endif /* SP_DATASET_H */
