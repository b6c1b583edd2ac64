/* cmd_generate.c: `synthpix generate`: write a dataset of image pairs to a directory.
 *
 * This file holds the command's options, its progress display and its exit codes; the job
 * itself (sampler, dataset writer, checkpoints, resume) is the library's sp_generate
 * (sp_dataset.h, docs/durability.md). Exit codes: 0 success, 2 usage, configuration or
 * input error (nothing was written), 1 runtime error (the last checkpoint, if any, is
 * intact and --resume continues from it).
 *
 * Under synthpix-mpi (cli/synthpix_mpi.c) every rank runs this with its group: the ranks
 * agree that all of them launched, rank 0 alone shows notes, progress, errors (the
 * group's agreed failure, naming the rank at fault) and the summary, and every rank
 * returns the same exit code.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "cli_common.h"
#include "sp/sp.h"

typedef struct gen_cli {
    const char *config;
    const char *out;
    int threads; /* -1 = from the configuration */
    int quiet;
    sp_generate_options g;
    double t0;
    int tty;
    const sp_group *group; /* synthpix-mpi: this process's group; NULL = one process */
    unsigned rank;         /* 0 speaks for the group (notes, progress, errors, summary) */
    unsigned node_ranks;   /* ranks sharing this machine: "all cores" is their share */
} gen_cli;

static void generate_usage(FILE *f)
{
    fprintf(f,
            "usage: synthpix generate [-c FILE] [-o DIR] [-n PAIRS] [--format png|tiff|npy|h5]\n"
            "                         [--bit-depth 8|16] [--threads N] [--quiet]\n"
            "                         [--data-shard I/N|auto] [--prefetch T] [--overwrite]\n"
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
            "      --data-shard I/N  write shard I (0-based) of N of the stream: shard I takes the flow\n"
            "                      batches I, I+N, I+2N, ... (F records each) of the one-process stream, so N\n"
            "                      runs (on N machines) write disjoint parts of the one-process dataset, with\n"
            "                      the same pair bytes; pair numbers start at 0 in every shard (default:\n"
            "                      unsharded). auto: I and N from the launcher (torchrun RANK/WORLD_SIZE,\n"
            "                      Open MPI, SLURM or PMI variables)\n"
            "      --prefetch T    load flow records ahead on T extra threads, 0 = none (default: one for\n"
            "                      flow files, none for built-in flows); the output bytes never depend on T\n"
            "  -q, --quiet         no progress bar or summary\n"
            "      --overwrite     replace a dataset found in DIR: its files (pairs, shards, params.jsonl,\n"
            "                      dataset.json) are removed first, and nothing else; without it such a DIR\n"
            "                      is refused, unless it already holds exactly this dataset (nothing to do)\n"
            "      --checkpoint-dir D    save the stream state to D every K batches, once the pairs it covers are on disk\n"
            "      --checkpoint-every K  batches between checkpoints (default 100; with --format h5, the\n"
            "                      first shard boundary after every K batches)\n"
            "      --max-to-keep M       checkpoints kept in D (default 2; the latest is always kept)\n"
            "      --resume              continue from the latest checkpoint in D (start afresh when D has none);\n"
            "                            the finished dataset is byte-identical to an uninterrupted run's\n"
            "  -h, --help          this help\n\n"
            "Exit status: 0 success, 2 usage or configuration error, 1 runtime error.\n");
}

static int usage_error(const char *opt, const char *value, const char *expected)
{
    fprintf(stderr, "synthpix generate: --%s: '%s' is not %s\n", opt, value, expected);
    return SP_EXIT_USAGE;
}

/* Strict integer in [lo, hi]; 0 on success. */
static int parse_range(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    return sp_cli_parse_u64(s, out) != 0 || *out < lo || *out > hi ? -1 : 0;
}

/* "I/N" with 0 <= I < N <= 65536, or "auto" (the launcher's rank and size); 0 on success. */
static int parse_data_shard(const char *text, sp_sampler_options *so)
{
    if (strcmp(text, "auto") == 0) {
        sp_error e;
        if (sp_sampler_options_shard_from_env(so, &e) == SP_OK) return 0;
        fprintf(stderr, "synthpix generate: --data-shard auto: %s\n", e.message);
        return 1;
    }
    const char *const slash = strchr(text, '/');
    if (slash == NULL || slash == text || (size_t)(slash - text) >= 32) return 2;
    char first[32];
    memcpy(first, text, (size_t)(slash - text));
    first[slash - text] = '\0';
    uint64_t i = 0, n = 0;
    if (sp_cli_parse_u64(first, &i) != 0 || parse_range(slash + 1, 1, 65536, &n) != 0 || i >= n) return 2;
    so->shard_index = (unsigned)i;
    so->shard_count = (unsigned)n;
    return 0;
}

/* One option with an argument; returns SP_EXIT_OK or the exit code of a bad value. */
static int take_option(gen_cli *c, int ch, const char *arg)
{
    sp_dataset_options *const d = &c->g.dataset;
    uint64_t v = 0;
    switch (ch) {
    case 'c': c->config = arg; return SP_EXIT_OK;
    case 'o': c->out = arg; return SP_EXIT_OK;
    case 'n': return parse_range(arg, 1, UINT64_MAX, &d->pairs) ? usage_error("pairs", arg, "a positive integer") : 0;
    case 'f': return sp_dataset_format_parse(arg, &d->format) ? 0 : usage_error("format", arg, "one of png, tiff, npy, h5");
    case 'b':
        if (parse_range(arg, 8, 32, &v) || (v != 8 && v != 16 && v != 32)) return usage_error("bit-depth", arg, "8, 16 or 32");
        d->bit_depth = (int)v;
        return SP_EXIT_OK;
    case 't':
        if (parse_range(arg, 0, 1024, &v)) return usage_error("threads", arg, "an integer in [0, 1024]");
        c->threads = (int)v;
        return SP_EXIT_OK;
    case 2001: return parse_range(arg, 1, 1000000, &d->shard_size) ? usage_error("shard-size", arg, "an integer in [1, 1000000]") : 0;
    case 2002:
        v = (uint64_t)parse_data_shard(arg, &c->g.sampler);
        if (v == 1) return SP_EXIT_USAGE; /* auto: the reason is printed */
        return v ? usage_error("data-shard", arg, "I/N with integers 0 <= I < N <= 65536, or auto") : 0;
    case 2003:
        if (parse_range(arg, 0, 64, &v)) return usage_error("prefetch", arg, "an integer in [0, 64]");
        c->g.sampler.prefetch_threads = v == 0 ? SP_PREFETCH_OFF : (unsigned)v;
        return SP_EXIT_OK;
    case 1001: c->g.checkpoint_dir = arg; return SP_EXIT_OK;
    case 1002: return parse_range(arg, 1, (uint64_t)1 << 40, &c->g.checkpoint_every) ? usage_error("checkpoint-every", arg, "an integer in [1, 2^40]") : 0;
    case 1003:
        if (parse_range(arg, 1, (uint64_t)1 << 40, &v)) return usage_error("max-to-keep", arg, "an integer in [1, 2^40]");
        c->g.max_to_keep = (int64_t)v;
        return SP_EXIT_OK;
    default: generate_usage(stderr); return SP_EXIT_USAGE;
    }
}

static int parse_options(int argc, char **argv, gen_cli *c)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},         {"output", required_argument, NULL, 'o'},
        {"pairs", required_argument, NULL, 'n'},          {"format", required_argument, NULL, 'f'},
        {"bit-depth", required_argument, NULL, 'b'},      {"threads", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},                {"help", no_argument, NULL, 'h'},
        {"shard-size", required_argument, NULL, 2001},    {"data-shard", required_argument, NULL, 2002},
        {"prefetch", required_argument, NULL, 2003},      {"checkpoint-dir", required_argument, NULL, 1001},
        {"checkpoint-every", required_argument, NULL, 1002}, {"max-to-keep", required_argument, NULL, 1003},
        {"resume", no_argument, NULL, 1004},              {"overwrite", no_argument, NULL, 1005},
        {NULL, 0, NULL, 0}};
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:o:n:qh", longs, NULL)) != -1) {
        if (ch == 'h') {
            generate_usage(stdout);
            return -1;
        }
        if (ch == 'q') c->quiet = 1;
        else if (ch == 1004) c->g.resume = 1;
        else if (ch == 1005) c->g.dataset.overwrite = 1;
        else if (take_option(c, ch, optarg) != SP_EXIT_OK) return SP_EXIT_USAGE;
    }
    if (c->g.dataset.bit_depth == 32 && c->g.dataset.format != SP_DATASET_H5) {
        fprintf(stderr, "synthpix generate: --bit-depth 32 (float32 images) needs --format h5\n");
        return SP_EXIT_USAGE;
    }
    if (optind != argc) {
        fprintf(stderr, "synthpix generate: unexpected argument '%s'\n", argv[optind]);
        return SP_EXIT_USAGE;
    }
    if (c->g.resume && c->g.checkpoint_dir == NULL) {
        fprintf(stderr, "synthpix generate: --resume needs --checkpoint-dir\n");
        return SP_EXIT_USAGE;
    }
    return SP_EXIT_OK;
}

/* ---- progress ------------------------------------------------------------------------------ */

static int terminal_width(void)
{
    struct winsize ws;
    return ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

/* One line that fits the terminal: the bar shrinks, then goes; the text is cut, never
 * wrapped (a wrapped line would leave a copy at every redraw). The rate counts this run's
 * pairs only. */
static void progress(void *ctx, uint64_t covered, uint64_t total, uint64_t start)
{
    gen_cli *const c = (gen_cli *)ctx;
    double const elapsed = sp_cli_now() - c->t0;
    double const rate = elapsed > 0 ? (double)(covered - start) / elapsed : 0;
    char eta[32], text[160], bar[64];
    sp_cli_format_duration(rate > 0 ? (double)(total - covered) / rate : 0, eta, sizeof eta);
    int const n = snprintf(text, sizeof text, " %llu/%llu pairs  %.1f pairs/s  ETA %s", (unsigned long long)covered,
                           (unsigned long long)total, rate, eta);
    int const cols = terminal_width() - 1;
    int width = cols - n - 2 < 30 ? cols - n - 2 : 30;
    if (width < 5) width = 0;
    int const filled = (int)((double)width * (double)covered / (double)total);
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[width] = '\0';
    fprintf(stderr, "\r%s%s%s%.*s\033[K", width ? "[" : "", bar, width ? "]" : "", cols - (width ? width + 2 : 0), text);
    fflush(stderr);
}

static void print_note(void *ctx, const char *line)
{
    const gen_cli *const c = (const gen_cli *)ctx;
    if (c->rank != 0) return;
    int const warning = strncmp(line, "warning:", 8) == 0;
    if (!c->quiet || warning) fprintf(stderr, "synthpix%s: %s\n", warning ? " generate" : "", line);
}

/* ---- the run -------------------------------------------------------------------------------- */

static void summary(const gen_cli *c, const sp_generate_result *r, double secs)
{
    double const rate = secs > 0 ? (double)r->pairs_this_run / secs : 0.0;
    char who[64];
    if (c->group && c->group->size > 1) snprintf(who, sizeof who, "%u processes x %u threads", c->group->size, r->threads);
    else snprintf(who, sizeof who, "%u threads", r->threads);
    if (r->start_pairs == 0)
        fprintf(stderr, "synthpix: wrote %llu pairs to %s in %.2f s (%.1f pairs/s, %s)\n",
                (unsigned long long)r->pairs_written, c->out, secs, rate, who);
    else
        fprintf(stderr, "synthpix: wrote %llu pairs to %s: %llu after resuming, in %.2f s (%.1f pairs/s, %s)\n",
                (unsigned long long)r->pairs_written, c->out, (unsigned long long)r->pairs_this_run, secs, rate, who);
}

static int exit_code(sp_status st, const sp_generate_result *r)
{
    if (st == SP_ERR_MISMATCH || st == SP_ERR_EXISTS || st == SP_ERR_LOCKED) return SP_EXIT_USAGE;
    if (st == SP_ERR_UNSUPPORTED && !r->started) return SP_EXIT_USAGE; /* e.g. --format h5 without libhdf5 */
    return r->started ? SP_EXIT_RUNTIME : sp_cli_exit_code(st);
}

static int run(gen_cli *c, const sp_config *cfg)
{
    sp_pool *pool = NULL;
    /* --threads sizes the pool only: the configuration (echoed in dataset.json) stays as
     * loaded, so datasets made with different thread counts are byte-identical. */
    int threads = c->threads >= 0 ? c->threads : cfg->threads;
    if (threads <= 0 && c->node_ranks > 1) { /* ranks on one machine share its cores */
        long const cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > (long)c->node_ranks ? (int)(cores / (long)c->node_ranks) : 1;
    }
    if (sp_pool_create(&pool, (unsigned)(threads > 0 ? threads : 0)) != SP_OK) return SP_EXIT_RUNTIME;
    c->g.sampler.pool = pool;
    c->g.group = c->group;
    c->tty = !c->quiet && c->rank == 0 && isatty(STDERR_FILENO);
    c->g.progress = c->tty ? progress : NULL;
    c->g.progress_ctx = c;
    c->g.note = print_note;
    c->g.note_ctx = c;
    c->t0 = sp_cli_now();
    sp_generate_result r;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_generate(cfg, c->out, &c->g, &r, &e);
    if (c->tty && r.started) fprintf(stderr, "\n");
    int rc = SP_EXIT_OK;
    if (st != SP_OK && c->rank != 0) { /* rank 0 reports the group's agreed failure */
        rc = exit_code(st, &r);
    } else if (st != SP_OK) {
        fprintf(stderr, "synthpix generate: %s\n", e.message[0] ? e.message : sp_strerror(st));
        if (st == SP_ERR_EXISTS)
            fprintf(stderr, "synthpix generate: continue it with --resume and the --checkpoint-dir that wrote it, "
                            "or replace it with --overwrite\n");
        rc = exit_code(st, &r);
    } else if (c->rank != 0) {
        /* rank 0 reports */
    } else if (r.already_complete) {
        if (!c->quiet)
            fprintf(stderr, "synthpix: %s already holds this dataset (%llu pairs, complete): nothing to do\n", c->out,
                    (unsigned long long)r.pairs_written);
    } else if (!c->quiet) {
        summary(c, &r, sp_cli_now() - c->t0);
    }
    sp_pool_free(pool);
    return rc;
}

/* In a group, every rank learns whether every rank parsed its options and loaded its
 * configuration (one may fail alone: a file missing on one node), so all go on or all
 * stop; the failing rank's reason reaches rank 0, which prints it. */
static int agree_launch(const gen_cli *c, int rc)
{
    if (c->group == NULL || c->group->size <= 1) return rc;
    sp_error mine, e;
    sp_error_clear(&mine);
    sp_error_clear(&e);
    sp_status const st = rc == SP_EXIT_OK ? SP_OK : (rc == SP_EXIT_USAGE ? SP_ERR_CONFIG : SP_ERR_IO);
    if (st != SP_OK)
        sp_error_set(&mine, st, "%s: %s", rc == SP_EXIT_USAGE ? "usage or configuration error" : "runtime error",
                     c->config ? c->config : "<embedded default>");
    sp_status const agreed = sp_group_agree(c->group, "launch", st, &mine, &e);
    if (agreed == SP_OK) return SP_EXIT_OK;
    if (c->rank == 0 && st == SP_OK) fprintf(stderr, "synthpix generate: %s\n", e.message);
    return agreed == SP_ERR_CONFIG ? SP_EXIT_USAGE : SP_EXIT_RUNTIME;
}

int sp_cmd_generate_group(int argc, char **argv, const sp_fs *fs, const sp_group *group, unsigned node_ranks)
{
    gen_cli c;
    memset(&c, 0, sizeof c);
    c.out = "synthpix-out";
    c.threads = -1;
    c.group = group;
    c.rank = group ? group->rank : 0;
    c.node_ranks = node_ranks;
    sp_generate_options_init(&c.g);
    c.g.dataset.fs = fs;
    int rc = parse_options(argc, argv, &c);
    if (rc < 0) return SP_EXIT_OK; /* --help */
    sp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (rc == SP_EXIT_OK) rc = sp_cli_load_config(c.config, &cfg);
    rc = agree_launch(&c, rc);
    if (rc == SP_EXIT_OK) rc = run(&c, &cfg);
    sp_config_free(&cfg);
    return rc;
}

int sp_cmd_generate_fs(int argc, char **argv, const sp_fs *fs)
{
    return sp_cmd_generate_group(argc, argv, fs, NULL, 1);
}

int sp_cmd_generate(int argc, char **argv)
{
    return sp_cmd_generate_fs(argc, argv, NULL);
}
