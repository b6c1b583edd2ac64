/* cmd_generate.c: `synthpix generate`: write a dataset of image pairs to a directory.
 *
 * Layout (PRODUCT section 9): DIR/pair_%06d_img1.EXT, _img2.EXT, _flow.flo (or _flow.npy
 * with --format npy), DIR/params.jsonl (one JSON line per pair) and DIR/dataset.json
 * (configuration echo, version, counts). Pair numbers are stream positions, so the first
 * m pairs of any run are the same files.
 *
 * Failure rules: the configuration and the flow source are checked before anything is
 * created, so a bad configuration or input file writes nothing. Every file is written to
 * a temporary name and renamed, so no partial file ever carries a final name; params.jsonl
 * is renamed into place and dataset.json written last, after the data are synced, so a
 * dataset with dataset.json is complete. Exit codes: 0 success, 2 usage or configuration
 * error, 1 runtime error.
 *
 * --format h5 (docs/real-data.md): pairs go to HDF5 shards DIR/shard_%05d.h5 of --shard-size
 * pairs each (default 256: about 170 MB for 256x256 images at 8 bits with their flows, a
 * size that copies and loads well); shard s holds pairs [s N, (s + 1) N), so shard names
 * depend only on pair indices. Each shard is written under a temporary name and renamed
 * when full (or at the end), so no partial shard ever has a final name.
 *
 * Checkpoints (--checkpoint-dir D, docs/resume.md): params.jsonl grows as
 * DIR/params.jsonl.partial. Every K batches the run makes what it wrote durable (fsync of
 * params.jsonl.partial, syncfs of DIR), and only then commits a checkpoint step holding the
 * sampler state and, as the "user" item, the durable length of params.jsonl.partial and the
 * pairs written. --resume restores the latest good step, truncates params.jsonl.partial to
 * that length and goes on: pairs after the checkpoint are rewritten with the same bytes, so
 * the finished dataset equals an uninterrupted run's. A step is numbered by the batches it
 * covers.
 *
 * --data-shard I/N passes the loader's shard (docs/resume.md) through: N runs read disjoint
 * records covering each epoch; --prefetch T gives the loader T record-loading threads. Both
 * are sampler options, so the stream (and a checkpoint's identity) follows them.
 */
#include <dirent.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_common.h"
#include "sp/sp.h"

typedef enum gen_format { GEN_PNG, GEN_TIFF, GEN_NPY, GEN_H5 } gen_format;

typedef struct gen_options {
    const char *config;
    const char *out;
    uint64_t pairs;
    gen_format format;
    int bit_depth; /* 0 = from the configuration */
    int threads;   /* -1 = from the configuration */
    int quiet;
    uint64_t shard_size; /* --format h5: pairs per shard */
    const char *ckpt_dir;  /* NULL = no checkpoints */
    uint64_t ckpt_every;   /* batches between checkpoints */
    int64_t max_to_keep;
    int resume;
    unsigned data_shard_index, data_shard_count; /* --data-shard I/N; count 0 = unsharded */
    unsigned prefetch;                           /* --prefetch T: record-loading threads */
} gen_options;

typedef struct pair_job {
    sp_status status;
    sp_error err;
    sp_membuf buf;
    void *pixels; /* quantised image, H*W*2 bytes */
} pair_job;

typedef struct gen_state {
    const gen_options *opt;
    const sp_batch *batch;
    pair_job *jobs; /* one per pool worker */
    size_t first, count; /* pairs of the batch to write: [first, first + count) of k */
    int bit_depth;
    sp_status status;   /* first failure (by pair index) */
    sp_error err;
    size_t failed_k;
} gen_state;

static const char *const ext_name[] = {"png", "tif", "npy", "h5"};

static void generate_usage(FILE *f)
{
    fprintf(f,
            "usage: synthpix generate [-c FILE] [-o DIR] [-n PAIRS] [--format png|tiff|npy|h5]\n"
            "                         [--bit-depth 8|16] [--threads N] [--quiet]\n"
            "                         [--data-shard I/N] [--prefetch T]\n"
            "                         [--checkpoint-dir D [--checkpoint-every K] [--max-to-keep M] [--resume]]\n\n"
            "Renders image pairs and writes them to DIR (default ./synthpix-out):\n"
            "  pair_NNNNNN_img1.png, pair_NNNNNN_img2.png, pair_NNNNNN_flow.flo, params.jsonl, dataset.json\n\n"
            "  -c, --config FILE   YAML configuration (default: the embedded default, see `synthpix config default`)\n"
            "  -o, --output DIR    output directory, created if needed (default synthpix-out)\n"
            "  -n, --pairs N       number of pairs (default 64)\n"
            "      --format F      png (default), tiff (8/16-bit images, .flo flows), npy (float32 images and flows)\n"
            "                      or h5 (HDF5 shards shard_NNNNN.h5: images1, images2, flow_fields, params)\n"
            "      --bit-depth B   8 or 16 bits per pixel for png/tiff/h5, or 32 (float32) for h5\n"
            "                      (default: the configuration's bit_depth)\n"
            "      --shard-size N  pairs per HDF5 shard with --format h5 (default 256)\n"
            "      --threads N     worker threads, 0 = all cores (default: the configuration's threads)\n"
            "      --data-shard I/N  read shard I (0-based) of N of the flow records: in every epoch\n"
            "                      shard I takes positions I, I+N, I+2N, ... of the shuffled record order, so\n"
            "                      N runs (on N machines) read disjoint records that together cover each\n"
            "                      epoch; pair numbers start at 0 in every shard (default: unsharded)\n"
            "      --prefetch T    load flow records ahead on T extra threads (default 0); the output\n"
            "                      bytes never depend on T\n"
            "  -q, --quiet         no progress bar or summary\n"
            "      --checkpoint-dir D    save the stream state to D every K batches, once the pairs it covers are on disk\n"
            "      --checkpoint-every K  batches between checkpoints (default 100; with --format h5, the\n"
            "                      first shard boundary after every K batches)\n"
            "      --max-to-keep M       checkpoints kept in D (default 2; the latest is always kept)\n"
            "      --resume              continue from the latest checkpoint in D (start afresh when D has none);\n"
            "                            the finished dataset is byte-identical to an uninterrupted run's\n"
            "  -h, --help          this help\n\n"
            "Exit status: 0 success, 2 usage or configuration error, 1 runtime error.\n");
}

/* "I/N" with 0 <= I < N <= 65536; 0 on success. */
static int parse_data_shard(const char *text, gen_options *o)
{
    const char *const slash = strchr(text, '/');
    if (slash == NULL || slash == text || (size_t)(slash - text) >= 32) return -1;
    char first[32];
    memcpy(first, text, (size_t)(slash - text));
    first[slash - text] = '\0';
    uint64_t i = 0, n = 0;
    if (sp_cli_parse_u64(first, &i) != 0 || sp_cli_parse_u64(slash + 1, &n) != 0) return -1;
    if (n == 0 || n > 65536 || i >= n) return -1;
    o->data_shard_index = (unsigned)i;
    o->data_shard_count = (unsigned)n;
    return 0;
}

static int parse_options(int argc, char **argv, gen_options *o)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'}, {"output", required_argument, NULL, 'o'},
        {"pairs", required_argument, NULL, 'n'},  {"format", required_argument, NULL, 'f'},
        {"bit-depth", required_argument, NULL, 'b'}, {"threads", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {"shard-size", required_argument, NULL, 2001},
        {"data-shard", required_argument, NULL, 2002},     {"prefetch", required_argument, NULL, 2003},
        {"checkpoint-dir", required_argument, NULL, 1001}, {"checkpoint-every", required_argument, NULL, 1002},
        {"max-to-keep", required_argument, NULL, 1003},    {"resume", no_argument, NULL, 1004},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->out = "synthpix-out";
    o->pairs = 64;
    o->threads = -1;
    o->shard_size = 256;
    o->ckpt_every = 100;
    o->max_to_keep = 2;
    optind = 1;
    int ch;
    uint64_t v;
    while ((ch = getopt_long(argc, argv, "c:o:n:qh", longs, NULL)) != -1) {
        switch (ch) {
        case 'c': o->config = optarg; break;
        case 'o': o->out = optarg; break;
        case 'n':
            if (sp_cli_parse_u64(optarg, &o->pairs) != 0 || o->pairs == 0) {
                fprintf(stderr, "synthpix generate: --pairs: '%s' is not a positive integer\n", optarg);
                return SP_EXIT_USAGE;
            }
            break;
        case 'f':
            if (strcmp(optarg, "png") == 0) o->format = GEN_PNG;
            else if (strcmp(optarg, "tiff") == 0 || strcmp(optarg, "tif") == 0) o->format = GEN_TIFF;
            else if (strcmp(optarg, "npy") == 0) o->format = GEN_NPY;
            else if (strcmp(optarg, "h5") == 0 || strcmp(optarg, "hdf5") == 0) o->format = GEN_H5;
            else {
                fprintf(stderr, "synthpix generate: --format: '%s' is not one of png, tiff, npy, h5\n", optarg);
                return SP_EXIT_USAGE;
            }
            break;
        case 'b':
            if (sp_cli_parse_u64(optarg, &v) != 0 || (v != 8 && v != 16 && v != 32)) {
                fprintf(stderr, "synthpix generate: --bit-depth: '%s' is not 8, 16 or 32\n", optarg);
                return SP_EXIT_USAGE;
            }
            o->bit_depth = (int)v;
            break;
        case 't':
            if (sp_cli_parse_u64(optarg, &v) != 0 || v > 1024) {
                fprintf(stderr, "synthpix generate: --threads: '%s' is not an integer in [0, 1024]\n", optarg);
                return SP_EXIT_USAGE;
            }
            o->threads = (int)v;
            break;
        case 'q': o->quiet = 1; break;
        case 2001:
            if (sp_cli_parse_u64(optarg, &o->shard_size) != 0 || o->shard_size == 0 || o->shard_size > 1000000) {
                fprintf(stderr, "synthpix generate: --shard-size: '%s' is not an integer in [1, 1000000]\n", optarg);
                return SP_EXIT_USAGE;
            }
            break;
        case 2002:
            if (parse_data_shard(optarg, o) != 0) {
                fprintf(stderr, "synthpix generate: --data-shard: '%s' is not I/N with integers 0 <= I < N <= 65536\n",
                        optarg);
                return SP_EXIT_USAGE;
            }
            break;
        case 2003:
            if (sp_cli_parse_u64(optarg, &v) != 0 || v > 64) {
                fprintf(stderr, "synthpix generate: --prefetch: '%s' is not an integer in [0, 64]\n", optarg);
                return SP_EXIT_USAGE;
            }
            o->prefetch = (unsigned)v;
            break;
        case 1001: o->ckpt_dir = optarg; break;
        case 1002:
        case 1003:
            if (sp_cli_parse_u64(optarg, &v) != 0 || v == 0 || v > ((uint64_t)1 << 40)) {
                fprintf(stderr, "synthpix generate: --%s: '%s' is not a positive integer\n",
                        ch == 1002 ? "checkpoint-every" : "max-to-keep", optarg);
                return SP_EXIT_USAGE;
            }
            if (ch == 1002) o->ckpt_every = v;
            else o->max_to_keep = (int64_t)v;
            break;
        case 1004: o->resume = 1; break;
        case 'h': generate_usage(stdout); return -1;
        default: generate_usage(stderr); return SP_EXIT_USAGE;
        }
    }
    if (o->bit_depth == 32 && o->format != GEN_H5) {
        fprintf(stderr, "synthpix generate: --bit-depth 32 (float32 images) needs --format h5\n");
        return SP_EXIT_USAGE;
    }
    if (optind != argc) {
        fprintf(stderr, "synthpix generate: unexpected argument '%s'\n", argv[optind]);
        return SP_EXIT_USAGE;
    }
    if (o->resume && o->ckpt_dir == NULL) {
        fprintf(stderr, "synthpix generate: --resume needs --checkpoint-dir\n");
        return SP_EXIT_USAGE;
    }
    return SP_EXIT_OK;
}

/* ---- writing one pair ----------------------------------------------------------------- */

static sp_status write_buffer(const char *dir, uint64_t index, const char *suffix, const sp_membuf *b, sp_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/pair_%06llu_%s", dir, (unsigned long long)index, suffix);
    return sp_write_file_atomic(path, b->data, b->size, 0, err);
}

static sp_status encode_image(const gen_state *g, pair_job *j, const float *img, sp_error *err)
{
    const sp_batch *const b = g->batch;
    size_t const H = b->height, W = b->width, npx = H * W;
    sp_sink const sink = sp_sink_membuf(&j->buf);
    j->buf.size = 0;
    if (g->opt->format == GEN_NPY) {
        size_t const shape[2] = {H, W};
        return sp_npy_write(&sink, SP_DTYPE_F32, 2, shape, img, err);
    }
    size_t const bpp = g->bit_depth == 16 ? 2 : 1;
    if (bpp == 2) sp_quantize_u16(img, npx, (uint16_t *)j->pixels);
    else sp_quantize_u8(img, npx, (uint8_t *)j->pixels);
    if (g->opt->format == GEN_TIFF) return sp_tiff_write_gray(&sink, W, H, g->bit_depth, j->pixels, W * bpp, err);
    return sp_png_write_gray(&sink, W, H, g->bit_depth, j->pixels, W * bpp, -1, err);
}

static sp_status encode_flow(const gen_state *g, pair_job *j, size_t k, sp_error *err)
{
    const sp_batch *const b = g->batch;
    size_t const nf = b->flow_height * b->flow_width * 2;
    sp_sink const sink = sp_sink_membuf(&j->buf);
    j->buf.size = 0;
    float *const data = b->flow_fields + k * nf;
    if (g->opt->format == GEN_NPY) {
        size_t const shape[3] = {b->flow_height, b->flow_width, 2};
        return sp_npy_write(&sink, SP_DTYPE_F32, 3, shape, data, err);
    }
    sp_flow const f = {b->flow_height, b->flow_width, 2, data};
    return sp_flo_write(&sink, &f, err);
}

static sp_status write_pair(const gen_state *g, pair_job *j, size_t k, sp_error *err)
{
    const sp_batch *const b = g->batch;
    size_t const npx = b->height * b->width;
    uint64_t const index = b->first_pair + k;
    char suffix[32];
    const char *const ext = ext_name[g->opt->format];
    snprintf(suffix, sizeof suffix, "img1.%s", ext);
    sp_status st = encode_image(g, j, b->images1 + k * npx, err);
    if (st == SP_OK) st = write_buffer(g->opt->out, index, suffix, &j->buf, err);
    snprintf(suffix, sizeof suffix, "img2.%s", ext);
    if (st == SP_OK) st = encode_image(g, j, b->images2 + k * npx, err);
    if (st == SP_OK) st = write_buffer(g->opt->out, index, suffix, &j->buf, err);
    if (st == SP_OK) st = encode_flow(g, j, k, err);
    if (st == SP_OK) st = write_buffer(g->opt->out, index, g->opt->format == GEN_NPY ? "flow.npy" : "flow.flo", &j->buf, err);
    return st;
}

typedef struct write_ctx {
    gen_state *g;
    sp_status *status; /* per pair of the batch */
    sp_error *errs;
} write_ctx;

static void write_item(void *ctx, size_t item, unsigned worker)
{
    write_ctx *const w = (write_ctx *)ctx;
    size_t const k = w->g->first + item;
    if (!w->g->batch->mask[k]) { /* padding at the end of a finite stream: nothing to write */
        w->status[item] = SP_OK;
        return;
    }
    w->status[item] = write_pair(w->g, &w->g->jobs[worker], k, &w->errs[item]);
}

/* ---- params.jsonl ------------------------------------------------------------------------ */

static void append_params(sp_membuf *out, const sp_batch *b, size_t k)
{
    const sp_pair_params *const p = &b->params[k];
    char line[2048];
    int const n = snprintf(line, sizeof line,
        "{\"index\": %llu, \"record_seed\": %u, \"key\": [%u, %u], \"seeding_density\": %.9g, "
        "\"diameter_range\": [%.9g, %.9g], \"intensity_range\": [%.9g, %.9g], \"rho_range\": [%.9g, %.9g], "
        "\"particles\": %u, \"source\": \"",
        (unsigned long long)(b->first_pair + k), b->seeds[k], b->keys[k].k[0], b->keys[k].k[1],
        (double)p->seeding_density, (double)p->diameter_range[0], (double)p->diameter_range[1],
        (double)p->intensity_range[0], (double)p->intensity_range[1], (double)p->rho_range[0],
        (double)p->rho_range[1], p->particles);
    sp_sink const sink = sp_sink_membuf(out);
    sp_sink_write(&sink, line, (size_t)n, NULL);
    /* The source name, JSON-escaped. */
    for (const char *c = b->files[k]; *c; c++) {
        char esc[8];
        size_t len = 1;
        esc[0] = *c;
        if (*c == '"' || *c == '\\') { esc[0] = '\\'; esc[1] = *c; len = 2; }
        else if ((unsigned char)*c < 0x20) len = (size_t)snprintf(esc, sizeof esc, "\\u%04x", (unsigned)(unsigned char)*c);
        sp_sink_write(&sink, esc, len, NULL);
    }
    int const m = snprintf(line, sizeof line, "\", \"record\": %llu, \"epoch\": %d, \"batch\": %llu, \"repetition\": %u}\n",
                           (unsigned long long)b->records[k], (int)b->epoch[k], (unsigned long long)b->batch_index,
                           b->repetition);
    sp_sink_write(&sink, line, (size_t)m, NULL);
}

/* ---- progress ------------------------------------------------------------------------------ */

static void progress(uint64_t done, uint64_t total, double elapsed)
{
    double const rate = elapsed > 0 ? (double)done / elapsed : 0;
    double const eta = rate > 0 ? (double)(total - done) / rate : 0;
    int const width = 30;
    int const filled = (int)((double)width * (double)done / (double)total);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %llu/%llu pairs  %.1f pairs/s  ETA %02d:%02d ", bar, (unsigned long long)done,
            (unsigned long long)total, rate, (int)(eta / 60), (int)eta % 60);
    fflush(stderr);
}

/* ---- the run ------------------------------------------------------------------------------- */

static sp_status write_dataset_json(const gen_options *o, const sp_config *cfg, const sp_geometry *geo,
                                    uint64_t pairs, int bit_depth, sp_error *err)
{
    sp_membuf yaml = {0};
    sp_sink const sink = sp_sink_membuf(&yaml);
    sp_status st = sp_config_write_yaml(cfg, &sink, err);
    if (st == SP_OK) st = sp_sink_write(&sink, "", 1, err); /* NUL */
    if (st != SP_OK) {
        sp_membuf_free(&yaml);
        return st;
    }
    json_t *const root = json_object();
    json_object_set_new(root, "format", json_string("synthpix-dataset"));
    json_object_set_new(root, "synthpix_version", json_string(SP_VERSION_STRING));
    json_object_set_new(root, "pairs", json_integer((json_int_t)pairs));
    if (o->data_shard_count > 1)
        json_object_set_new(root, "data_shard", json_pack("{s:I, s:I}", "index", (json_int_t)o->data_shard_index,
                                                          "count", (json_int_t)o->data_shard_count));
    json_object_set_new(root, "image_format", json_string(o->format == GEN_NPY ? "npy" : ext_name[o->format]));
    json_object_set_new(root, "bit_depth", o->format == GEN_NPY ? json_null() : json_integer(bit_depth));
    json_object_set_new(root, "image_shape", json_pack("[I, I]", (json_int_t)geo->height, (json_int_t)geo->width));
    json_object_set_new(root, "flow_shape", json_pack("[I, I, I]", (json_int_t)geo->flow_h, (json_int_t)geo->flow_w, (json_int_t)2));
    json_object_set_new(root, "flow_units", json_string(cfg->output_units == SP_UNITS_PIXELS ? "pixels" : "measure units per second"));
    if (o->format == GEN_H5)
        json_object_set_new(root, "files", json_pack("{s:s, s:I, s:s}", "shards", "shard_%05d.h5", "shard_size",
                                                     (json_int_t)o->shard_size, "params", "params.jsonl"));
    else json_object_set_new(root, "files", json_pack("{s:s, s:s, s:s, s:s}", "image1", o->format == GEN_NPY ? "pair_%06d_img1.npy" : (o->format == GEN_TIFF ? "pair_%06d_img1.tif" : "pair_%06d_img1.png"),
                                                 "image2", o->format == GEN_NPY ? "pair_%06d_img2.npy" : (o->format == GEN_TIFF ? "pair_%06d_img2.tif" : "pair_%06d_img2.png"),
                                                 "flow", o->format == GEN_NPY ? "pair_%06d_flow.npy" : "pair_%06d_flow.flo", "params", "params.jsonl"));
    json_object_set_new(root, "configuration", json_string((const char *)yaml.data));
    sp_membuf_free(&yaml);
    char *const text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    char path[4096];
    snprintf(path, sizeof path, "%s/dataset.json", o->out);
    size_t const len = strlen(text);
    text[len] = '\0';
    sp_membuf body = {0};
    sp_sink const bs = sp_sink_membuf(&body);
    sp_sink_write(&bs, text, len, NULL);
    sp_sink_write(&bs, "\n", 1, NULL);
    free(text);
    st = sp_write_file_atomic(path, body.data, body.size, 1, err);
    sp_membuf_free(&body);
    return st;
}

static int make_dir(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(tmp, 0755);
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0) {
        struct stat sb;
        if (stat(tmp, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "synthpix generate: cannot create output directory %s\n", dir);
            return -1;
        }
    }
    return 0;
}

typedef struct run_ctx {
    const gen_options *opt;
    sp_h5_dataset *shard;   /* --format h5: the shard being written, or NULL */
    uint64_t shard_index;
    sp_config cfg;
    sp_pool *pool;
    sp_sampler *sampler;
    pair_job *jobs;
    FILE *params;
    char params_tmp[4096];
    int bit_depth;
    sp_ckpt_manager *ckpt;     /* NULL without --checkpoint-dir */
    uint64_t start_pairs;      /* pairs covered by the restored checkpoint (0 when fresh) */
    uint64_t params_bytes;     /* durable length of params.jsonl.partial at the checkpoint */
    uint64_t config_crc;       /* CRC32C of the configuration echo: a resume must match it */
    int ckpt_due;              /* --checkpoint-every has come round; with h5, waiting for a shard boundary */
} run_ctx;

static sp_status checkpoint_after(run_ctx *r, const sp_batch *b, uint64_t written, sp_error *err);

/* ---- --format h5 ----------------------------------------------------------------------------- */

static sp_status close_shard(run_ctx *r, sp_error *err)
{
    sp_h5_dataset *const d = r->shard;
    r->shard = NULL;
    return d ? sp_h5_dataset_close(d, err) : SP_OK;
}

static sp_status open_shard(run_ctx *r, uint64_t index, const sp_batch *b, sp_error *err)
{
    sp_membuf yaml = {0};
    sp_sink const sink = sp_sink_membuf(&yaml);
    sp_status st = sp_config_write_yaml(sp_sampler_config(r->sampler), &sink, err);
    if (st == SP_OK) st = sp_sink_write(&sink, "", 1, err); /* NUL */
    char path[4096];
    snprintf(path, sizeof path, "%s/shard_%05llu.h5", r->opt->out, (unsigned long long)index);
    if (st == SP_OK)
        st = sp_h5_dataset_create(&r->shard, path, b->height, b->width, b->flow_height, b->flow_width, r->bit_depth,
                                  (const char *)yaml.data, err);
    sp_membuf_free(&yaml);
    r->shard_index = index;
    return st;
}

/* Pairs are appended in index order on this thread (HDF5 calls are serialised anyway). */
static sp_status append_h5(run_ctx *r, const sp_batch *b, size_t k, sp_error *err)
{
    uint64_t const index = b->first_pair + k, shard = index / r->opt->shard_size;
    sp_status const cs = r->shard && shard != r->shard_index ? close_shard(r, err) : SP_OK;
    if (cs != SP_OK) return cs;
    sp_status const os = r->shard == NULL ? open_shard(r, shard, b, err) : SP_OK;
    if (os != SP_OK) return os;
    size_t const npx = b->height * b->width, nf = b->flow_height * b->flow_width * 2;
    const sp_pair_params *const p = &b->params[k];
    sp_h5_pair_meta m;
    memset(&m, 0, sizeof m);
    m.index = index, m.record_seed = b->seeds[k], m.key[0] = b->keys[k].k[0], m.key[1] = b->keys[k].k[1];
    m.seeding_density = p->seeding_density, m.particles = p->particles, m.epoch = b->epoch[k];
    memcpy(m.diameter_range, p->diameter_range, sizeof m.diameter_range);
    memcpy(m.intensity_range, p->intensity_range, sizeof m.intensity_range);
    memcpy(m.rho_range, p->rho_range, sizeof m.rho_range);
    m.record = b->records[k], m.source = b->files[k];
    return sp_h5_dataset_append_pair(r->shard, b->images1 + k * npx, b->images2 + k * npx, b->flow_fields + k * nf, &m,
                                     err);
}

static void write_h5_pairs(run_ctx *r, const sp_batch *b, size_t count, sp_status *status, sp_error *errs)
{
    sp_status st = SP_OK;
    for (size_t k = 0; k < count; k++) {
        if (st == SP_OK && b->mask[k]) st = append_h5(r, b, k, &errs[k]);
        status[k] = st;
        if (k > 0 && st != SP_OK && status[k - 1] != SP_OK) errs[k] = errs[k - 1];
    }
}

static sp_status write_batch(run_ctx *r, const sp_batch *b, uint64_t limit, uint64_t *written, sp_error *err)
{
    gen_state g;
    memset(&g, 0, sizeof g);
    g.opt = r->opt;
    g.batch = b;
    g.jobs = r->jobs;
    g.bit_depth = r->bit_depth;
    g.first = 0;
    g.count = b->first_pair + b->batch_size <= limit ? b->batch_size : (size_t)(limit - b->first_pair);
    sp_status *const status = (sp_status *)calloc(g.count, sizeof *status);
    sp_error *const errs = (sp_error *)calloc(g.count, sizeof *errs);
    if (status == NULL || errs == NULL) {
        free(status);
        free(errs);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    write_ctx w = {&g, status, errs};
    if (r->opt->format == GEN_H5) write_h5_pairs(r, b, g.count, status, errs);
    else sp_pool_run(r->pool, g.count, write_item, &w);
    sp_status st = SP_OK;
    sp_membuf lines = {0};
    for (size_t k = 0; k < g.count && st == SP_OK; k++) {
        if (status[k] != SP_OK) {
            st = status[k];
            if (err) *err = errs[k];
        } else if (b->mask[k]) {
            append_params(&lines, b, k);
            (*written)++;
        }
    }
    if (st == SP_OK && lines.size && fwrite(lines.data, 1, lines.size, r->params) != lines.size)
        st = sp_error_set(err, SP_ERR_IO, "%s: write failed", r->params_tmp);
    sp_membuf_free(&lines);
    free(status);
    free(errs);
    return st;
}

static sp_status run_batches(run_ctx *r, uint64_t *written, sp_error *err)
{
    double const t0 = sp_cli_now();
    int const tty = !r->opt->quiet && isatty(STDERR_FILENO);
    uint64_t produced = r->start_pairs;
    while (produced < r->opt->pairs) {
        const sp_batch *b = NULL;
        sp_status const st = sp_sampler_next(r->sampler, &b, err);
        if (st == SP_ERR_END) break; /* a finite stream ran out: keep what was written */
        if (st != SP_OK) return st;
        sp_status const ws = write_batch(r, b, r->opt->pairs, written, err);
        if (ws != SP_OK) return ws;
        produced = b->first_pair + b->batch_size;
        sp_status const cs = r->ckpt && produced <= r->opt->pairs ? checkpoint_after(r, b, *written, err) : SP_OK;
        if (cs != SP_OK) return cs;
        if (tty) progress(produced < r->opt->pairs ? produced : r->opt->pairs, r->opt->pairs, sp_cli_now() - t0);
    }
    if (tty) fprintf(stderr, "\n");
    return SP_OK;
}

static sp_status open_partial_params(run_ctx *r, sp_error *err);

static sp_status open_params(run_ctx *r, sp_error *err)
{
    if (r->ckpt) return open_partial_params(r, err);
    snprintf(r->params_tmp, sizeof r->params_tmp, "%s/params.jsonl.tmp-%ld", r->opt->out, (long)getpid());
    r->params = fopen(r->params_tmp, "wb");
    if (r->params == NULL) return sp_error_set(err, SP_ERR_IO, "%s: cannot create", r->params_tmp);
    return SP_OK;
}

/* Syncs every file of the directory at once, then moves params.jsonl into place. */
static sp_status finish_files(run_ctx *r, sp_error *err)
{
    sp_status st = close_shard(r, err); /* the last, possibly short, shard */
    if (fflush(r->params) != 0 || fsync(fileno(r->params)) != 0) st = sp_error_set(err, SP_ERR_IO, "%s: write failed", r->params_tmp);
    if (fclose(r->params) != 0 && st == SP_OK) st = sp_error_set(err, SP_ERR_IO, "%s: close failed", r->params_tmp);
    r->params = NULL;
    int const dfd = open(r->opt->out, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        if (st == SP_OK && syncfs(dfd) != 0) st = sp_error_set(err, SP_ERR_IO, "%s: sync failed", r->opt->out);
        close(dfd);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/params.jsonl", r->opt->out);
    if (st == SP_OK && rename(r->params_tmp, path) != 0) st = sp_error_set(err, SP_ERR_IO, "%s: rename failed", path);
    return st;
}

static int setup(run_ctx *r, const gen_options *o)
{
    int const rc = sp_cli_load_config(o->config, &r->cfg);
    if (rc != SP_EXIT_OK) return rc;
    /* --threads sizes the pool only: the configuration (echoed in dataset.json) stays as
     * loaded, so datasets made with different thread counts are byte-identical. */
    int const threads = o->threads >= 0 ? o->threads : r->cfg.threads;
    r->bit_depth = o->bit_depth ? o->bit_depth : r->cfg.bit_depth;
    if (sp_pool_create(&r->pool, (unsigned)(threads > 0 ? threads : 0)) != SP_OK) return SP_EXIT_RUNTIME;
    sp_sampler_options so;
    sp_sampler_options_init(&so);
    so.pool = r->pool;
    so.shard_index = o->data_shard_index;
    so.shard_count = o->data_shard_count;
    so.prefetch_threads = o->prefetch;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_sampler_create(&r->sampler, &r->cfg, &so, &e);
    if (st != SP_OK) {
        fprintf(stderr, "synthpix generate: %s\n", e.message[0] ? e.message : sp_strerror(st));
        return sp_cli_exit_code(st);
    }
    const sp_geometry *const g = sp_sampler_geometry(r->sampler);
    unsigned const workers = sp_pool_size(r->pool);
    r->jobs = (pair_job *)calloc(workers, sizeof *r->jobs);
    if (r->jobs == NULL) return SP_EXIT_RUNTIME;
    for (unsigned w = 0; w < workers; w++) {
        r->jobs[w].pixels = malloc(g->height * g->width * 2);
        if (r->jobs[w].pixels == NULL) return SP_EXIT_RUNTIME;
    }
    return SP_EXIT_OK;
}

static void teardown(run_ctx *r)
{
    sp_h5_dataset_abort(r->shard); /* a failed run leaves no partial shard */
    if (r->params) {
        fclose(r->params);
        if (r->ckpt == NULL) unlink(r->params_tmp); /* a checkpointed run's partial file is its progress */
    }
    sp_ckpt_manager_close(r->ckpt, -1, NULL);
    if (r->jobs) {
        for (unsigned w = 0; w < sp_pool_size(r->pool); w++) {
            free(r->jobs[w].pixels);
            sp_membuf_free(&r->jobs[w].buf);
        }
        free(r->jobs);
    }
    sp_sampler_free(r->sampler);
    sp_pool_free(r->pool);
    sp_config_free(&r->cfg);
}

/* ---- checkpoints (--checkpoint-dir) ------------------------------------------------------ */

static uint32_t config_crc(const sp_config *cfg)
{
    sp_membuf yaml = {0};
    sp_sink const sink = sp_sink_membuf(&yaml);
    uint32_t const crc = sp_config_write_yaml(cfg, &sink, NULL) == SP_OK ? sp_crc32c(0, yaml.data, yaml.size) : 0;
    sp_membuf_free(&yaml);
    return crc;
}

static int ckpt_fail(const char *what, sp_status st, const sp_error *e)
{
    fprintf(stderr, "synthpix generate: %s: %s\n", what, e->message[0] ? e->message : sp_strerror(st));
    return st == SP_ERR_MISMATCH ? SP_EXIT_USAGE : sp_cli_exit_code(st);
}

/* Makes everything written so far durable, then commits step = batches covered. The order
 * is the guarantee: a committed step never covers a pair or a params line that a crash could
 * still lose. */
static sp_status checkpoint_after(run_ctx *r, const sp_batch *b, uint64_t written, sp_error *err)
{
    uint64_t const batches = b->batch_index + 1;
    if (batches % r->opt->ckpt_every == 0) r->ckpt_due = 1;
    if (!r->ckpt_due) return SP_OK;
    if (r->opt->format == GEN_H5) {
        /* With shards, a checkpoint covers whole shards: the first shard boundary at or after
         * the --checkpoint-every mark. The complete shard is closed (fsync'd, renamed) first,
         * so a resumed run starts a new shard and never reopens one. */
        if ((b->first_pair + b->batch_size) % r->opt->shard_size != 0) return SP_OK;
        sp_status const cs = close_shard(r, err);
        if (cs != SP_OK) return cs;
    }
    r->ckpt_due = 0;
    if (fflush(r->params) != 0 || fsync(fileno(r->params)) != 0)
        return sp_error_set(err, SP_ERR_IO, "%s: write failed", r->params_tmp);
    long const bytes = ftell(r->params);
    int const dfd = open(r->opt->out, O_RDONLY | O_DIRECTORY);
    int const synced = dfd >= 0 && syncfs(dfd) == 0;
    if (dfd >= 0) close(dfd);
    if (bytes < 0 || !synced) return sp_error_set(err, SP_ERR_IO, "%s: sync failed", r->opt->out);
    json_t *const u = json_pack("{s:I, s:I, s:I, s:I, s:s, s:i, s:I}", "pairs_covered",
                                (json_int_t)(b->first_pair + b->batch_size), "pairs_written", (json_int_t)written,
                                "params_bytes", (json_int_t)bytes, "pairs", (json_int_t)r->opt->pairs, "format",
                                ext_name[r->opt->format], "bit_depth", r->bit_depth, "configuration_crc32c",
                                (json_int_t)r->config_crc);
    char *const text = u ? json_dumps(u, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(u);
    if (text == NULL) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    sp_tree *t = NULL;
    sp_status st = sp_pipeline_state_tree(r->sampler, text, &t, err);
    free(text);
    sp_ckpt_save_args a;
    sp_ckpt_save_args_init(&a);
    a.force = 1; /* --checkpoint-every decides, not the manager's interval rule */
    if (st == SP_OK) st = sp_ckpt_save(r->ckpt, (int64_t)batches, t, &a, NULL, err);
    sp_tree_free(t);
    return st;
}

/* Restores the newest step that verifies; damaged newer steps are reported and deleted
 * (their numbers will be saved again). A refusal (another configuration) stops here. */
static int restore_latest(run_ctx *r, char **user)
{
    size_t n = sp_ckpt_all_steps(r->ckpt, NULL, 0);
    int64_t *const steps = (int64_t *)malloc((n ? n : 1) * sizeof *steps);
    if (steps == NULL) return SP_EXIT_RUNTIME;
    n = sp_ckpt_all_steps(r->ckpt, steps, n);
    sp_error e;
    sp_error_clear(&e);
    sp_status st = SP_ERR_NOTFOUND;
    while (n > 0) {
        int64_t const step = steps[--n];
        st = sp_pipeline_restore(r->ckpt, step, r->sampler, NULL, user, &e);
        if (st != SP_ERR_CHECKSUM && st != SP_ERR_CORRUPT) break;
        fprintf(stderr, "synthpix generate: warning: checkpoint step %lld is damaged (%s); trying an older one\n",
                (long long)step, e.message);
        sp_ckpt_delete(r->ckpt, step, NULL);
    }
    free(steps);
    return st == SP_OK ? SP_EXIT_OK : ckpt_fail(r->opt->ckpt_dir, st, &e);
}

static int user_int(const json_t *u, const char *key, uint64_t *out)
{
    const json_t *const v = json_object_get(u, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* The checkpoint must describe this run's dataset: same files, same configuration. */
static int check_progress(run_ctx *r, const json_t *u, uint64_t *written)
{
    uint64_t v[4];
    const char *const fmt = json_string_value(json_object_get(u, "format"));
    if (user_int(u, "pairs_covered", &v[0]) || user_int(u, "pairs_written", &v[1]) ||
        user_int(u, "params_bytes", &v[2]) || user_int(u, "configuration_crc32c", &v[3]) || fmt == NULL ||
        !json_is_integer(json_object_get(u, "bit_depth"))) {
        fprintf(stderr, "synthpix generate: %s: the checkpoint has no generate progress record\n", r->opt->ckpt_dir);
        return SP_EXIT_RUNTIME;
    }
    const char *why = NULL;
    if (strcmp(fmt, ext_name[r->opt->format]) != 0) why = "--format differs";
    else if (json_integer_value(json_object_get(u, "bit_depth")) != r->bit_depth) why = "--bit-depth differs";
    else if (v[3] != r->config_crc) why = "the configuration differs";
    else if (v[0] > r->opt->pairs) why = "--pairs is smaller than the pairs it already covers";
    if (why) {
        fprintf(stderr, "synthpix generate: cannot resume from %s: %s from the run that wrote it\n",
                r->opt->ckpt_dir, why);
        return SP_EXIT_USAGE;
    }
    r->start_pairs = v[0];
    r->params_bytes = v[2];
    *written = v[1];
    return SP_EXIT_OK;
}

/* A killed run leaves the temporaries of the files it was writing (name.tmp-PID). This run
 * holds the checkpoint root's lock, so no other checkpointed run writes here: they are
 * garbage, and removing them keeps the dataset equal to an uninterrupted run's. */
static void remove_stale_temporaries(const char *dir)
{
    DIR *const d = opendir(dir);
    if (d == NULL) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (fnmatch("pair_*.tmp-[0-9]*", e->d_name, 0) != 0 && fnmatch("params.jsonl.tmp-[0-9]*", e->d_name, 0) != 0 &&
            fnmatch("dataset.json.tmp-[0-9]*", e->d_name, 0) != 0 && fnmatch("shard_*.h5.tmp-[0-9]*", e->d_name, 0) != 0)
            continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path) unlink(path);
    }
    closedir(d);
}

static int checkpoint_open(run_ctx *r, uint64_t *written)
{
    sp_ckpt_options co;
    sp_ckpt_options_init(&co);
    co.max_to_keep = r->opt->max_to_keep;
    co.cleanup_tmp_directories = 1; /* a killed save leaves a temporary directory */
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_ckpt_manager_open(&r->ckpt, r->opt->ckpt_dir, &co, &e);
    if (st != SP_OK) return ckpt_fail(r->opt->ckpt_dir, st, &e);
    remove_stale_temporaries(r->opt->out);
    r->config_crc = config_crc(&r->cfg);
    int64_t const latest = sp_ckpt_latest_step(r->ckpt);
    if (latest == SP_CKPT_NONE) return SP_EXIT_OK;
    if (!r->opt->resume) {
        fprintf(stderr, "synthpix generate: %s already holds checkpoints (latest step %lld): pass --resume to "
                "continue from it, or use an empty directory\n", r->opt->ckpt_dir, (long long)latest);
        return SP_EXIT_USAGE;
    }
    char *user = NULL;
    int rc = restore_latest(r, &user);
    json_t *const u = user ? json_loads(user, 0, NULL) : NULL;
    free(user);
    if (rc == SP_EXIT_OK) rc = check_progress(r, u ? u : json_null(), written);
    json_decref(u);
    if (rc == SP_EXIT_OK && !r->opt->quiet)
        fprintf(stderr, "synthpix: resuming after %llu pairs (%s)\n", (unsigned long long)r->start_pairs,
                r->opt->ckpt_dir);
    return rc;
}

/* params.jsonl.partial: created afresh, or cut back to the length the checkpoint vouches
 * for (lines written after it are written again, identically). A crash between the final
 * rename and dataset.json leaves only params.jsonl: it is taken back. */
static sp_status open_partial_params(run_ctx *r, sp_error *err)
{
    snprintf(r->params_tmp, sizeof r->params_tmp, "%s/params.jsonl.partial", r->opt->out);
    if (r->start_pairs == 0) {
        r->params = fopen(r->params_tmp, "wb");
        if (r->params == NULL) return sp_error_set(err, SP_ERR_IO, "%s: cannot create", r->params_tmp);
        return SP_OK;
    }
    struct stat sb;
    if (stat(r->params_tmp, &sb) != 0) {
        char final[4096];
        snprintf(final, sizeof final, "%s/params.jsonl", r->opt->out);
        if (rename(final, r->params_tmp) != 0)
            return sp_error_set(err, SP_ERR_NOTFOUND, "%s: missing; cannot resume", r->params_tmp);
    }
    r->params = fopen(r->params_tmp, "r+b");
    if (r->params == NULL) return sp_error_set(err, SP_ERR_IO, "%s: cannot open", r->params_tmp);
    if (fstat(fileno(r->params), &sb) != 0 || (uint64_t)sb.st_size < r->params_bytes)
        return sp_error_set(err, SP_ERR_CORRUPT, "%s: shorter than the %llu bytes the checkpoint covers",
                            r->params_tmp, (unsigned long long)r->params_bytes);
    if (ftruncate(fileno(r->params), (off_t)r->params_bytes) != 0 || fseek(r->params, 0, SEEK_END) != 0)
        return sp_error_set(err, SP_ERR_IO, "%s: cannot truncate", r->params_tmp);
    return SP_OK;
}

int sp_cmd_generate(int argc, char **argv)
{
    gen_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != SP_EXIT_OK) return rc < 0 ? SP_EXIT_OK : rc;
    run_ctx r;
    memset(&r, 0, sizeof r);
    r.opt = &o;
    rc = setup(&r, &o);
    if (rc == SP_EXIT_OK && make_dir(o.out) != 0) rc = SP_EXIT_RUNTIME;
    sp_error e;
    sp_error_clear(&e);
    uint64_t written = 0;
    if (rc == SP_EXIT_OK && o.ckpt_dir) rc = checkpoint_open(&r, &written);
    double const t0 = sp_cli_now();
    sp_status st = SP_OK;
    if (rc == SP_EXIT_OK) {
        st = open_params(&r, &e);
        if (st == SP_OK) st = run_batches(&r, &written, &e);
        if (st == SP_OK) st = finish_files(&r, &e);
        if (st == SP_OK)
            st = write_dataset_json(&o, &r.cfg, sp_sampler_geometry(r.sampler), written, r.bit_depth, &e);
        if (st != SP_OK) {
            fprintf(stderr, "synthpix generate: %s\n", e.message[0] ? e.message : sp_strerror(st));
            rc = SP_EXIT_RUNTIME;
        }
    }
    double const secs = sp_cli_now() - t0;
    if (rc == SP_EXIT_OK && !o.quiet)
        fprintf(stderr, "synthpix: wrote %llu pairs to %s in %.2f s (%.1f pairs/s, %u threads)\n",
                (unsigned long long)written, o.out, secs, secs > 0 ? (double)written / secs : 0.0, sp_pool_size(r.pool));
    teardown(&r);
    return rc;
}
