/* generate_opts.c: the options of `synthpix generate`: the usage text, the parsing of
 * every option into a gen_cli (generate_opts.h), and the checks that need no configuration:
 * value ranges, and the options that apply to one format or layout only (--bit-depth 32
 * needs --format h5; --format and --shard-size belong to the synthpix layout, --split to
 * cai and liteflownet, --case to cai). A bad option is one line on stderr naming it, its
 * value and what was expected, and exit status 2. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_common.h"
#include "generate_opts.h"
#include "sp/sp.h"

static void generate_usage(FILE *f)
{
    fprintf(f,
            "usage: synthpix generate [-c FILE] [-o DIR] [-n PAIRS] [--format png|tiff|npy|h5]\n"
            "                         [--layout synthpix|cai|pykitpiv|liteflownet [--split F] [--case NAME]]\n"
            "                         [--bit-depth 8|16] [--threads N] [--quiet]\n"
            "                         [--data-shard I/N|auto] [--prefetch T] [--read-flows] [--overwrite]\n"
            "                         [--checkpoint-dir D [--checkpoint-every K] [--max-to-keep M] [--resume]]\n\n"
            "Renders image pairs and writes them to DIR (default ./synthpix-out):\n"
            "  pair_NNNNNN_img1.png, pair_NNNNNN_img2.png, pair_NNNNNN_flow.flo, params.jsonl, dataset.json\n"
            "  (with `frames: K` in the configuration, img1 .. imgK: docs/realism.md)\n\n"
            "  -c, --config FILE   YAML configuration (default: the embedded default, see `synthpix config default`)\n"
            "  -o, --output DIR    output directory, created if needed (default synthpix-out)\n"
            "  -n, --pairs N       number of pairs (default 64)\n"
            "      --format F      png (default), tiff (8/16-bit images, .flo flows), npy (float32 images and flows)\n"
            "                      or h5 (HDF5 shards shard_NNNNN.h5: images1, images2, flow_fields, params;\n"
            "                      image pairs only, not frames: K > 2)\n"
            "      --bit-depth B   8 or 16 bits per pixel for png/tiff/h5, or 32 (float32) for h5\n"
            "                      (default: the configuration's bit_depth)\n"
            "      --shard-size N  pairs per HDF5 shard with --format h5 (default 256)\n"
            "      --layout L      synthpix (default: the files above), or the files another project reads\n"
            "                      (docs/formats.md): cai (<case>_NNNNN_img1.tif, _img2.tif, _flow.flo,\n"
            "                      FlowData_train.list, FlowData_test.list; Cai et al. 2019), pykitpiv\n"
            "                      (pykitpiv.h5: I, targets) or liteflownet (liteflownet.h5: train/, val/ with\n"
            "                      data1, data2, label); these need two frames, velocities_per_pixel: 1,\n"
            "                      output_units: pixels and one process, and take no --format\n"
            "      --split F       cai, liteflownet: the fraction of pairs in the test (val) part, in [0, 1]\n"
            "                      (default 0.1); each pair's part is drawn from the seed and its index\n"
            "      --case NAME     cai: the <case> of the file names, [A-Za-z0-9_-] (default synthpix)\n"
            "      --threads N     worker threads, 0 = all cores (default: the configuration's threads)\n");
    fputs(/* a second string: each stays under the 4095 characters C99 promises */
            "      --data-shard I/N  write shard I (0-based) of N of the stream: shard I takes the flow\n"
            "                      batches I, I+N, I+2N, ... (F records each) of the one-process stream, so N\n"
            "                      runs (on N machines) write disjoint parts of the one-process dataset, with\n"
            "                      the same pair bytes; pair numbers start at 0 in every shard (default:\n"
            "                      unsharded). auto: I and N from the launcher (torchrun RANK/WORLD_SIZE,\n"
            "                      Open MPI, SLURM or PMI variables)\n"
            "      --prefetch T    load flow records ahead on T extra threads, 0 = none (default: one for\n"
            "                      flow files, none for built-in flows); the output bytes never depend on T\n"
            "      --read-flows    read .npy/.flo flow files into memory; by default a float32 file of\n"
            "                      4 MiB or more in the host's layout is mapped instead (same bytes)\n"
            "  -q, --quiet         no progress bar or summary\n"
            "      --overwrite     replace a dataset found in DIR: its files (pairs, shards, params.jsonl,\n"
            "                      dataset.json, the layouts' files) are removed first, and nothing else;\n"
            "                      without it such a DIR is refused, unless it already holds exactly this\n"
            "                      dataset (nothing to do)\n"
            "      --checkpoint-dir D    save the stream state to D every K batches, once the pairs it covers are on disk\n"
            "      --checkpoint-every K  batches between checkpoints (default 100; with --format h5, the\n"
            "                      first shard boundary after every K batches)\n"
            "      --max-to-keep M       checkpoints kept in D (default 2; the latest is always kept)\n"
            "      --resume              continue from the latest checkpoint in D (start afresh when D has none);\n"
            "                            the finished dataset is byte-identical to an uninterrupted run's\n"
            "  -h, --help          this help\n\n"
            "Exit status: 0 success, 2 usage or configuration error, 1 runtime error.\n",
          f);
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

/* --layout, --split, --case; returns SP_EXIT_OK or SP_EXIT_USAGE. */
static int take_layout_option(gen_cli *c, int ch, const char *arg)
{
    sp_dataset_options *const d = &c->g.dataset;
    if (ch == 2004)
        return sp_dataset_layout_parse(arg, &d->layout)
                   ? 0
                   : usage_error("layout", arg, "one of synthpix, cai, pykitpiv, liteflownet");
    if (ch == 2006) {
        c->case_given = 1;
        d->case_name = arg; /* the library checks its characters */
        return SP_EXIT_OK;
    }
    c->split_given = 1;
    char *end = NULL;
    double const v = strtod(arg, &end);
    if (*arg == '\0' || *end != '\0' || !(v >= 0.0 && v <= 1.0))
        return usage_error("split", arg, "a number in [0, 1] (the fraction of pairs in the test part)");
    d->split = v;
    return SP_EXIT_OK;
}

/* The options that apply to some layouts only; SP_EXIT_OK or SP_EXIT_USAGE. */
static int check_layout_options(const gen_cli *c)
{
    sp_dataset_layout const l = c->g.dataset.layout;
    const char *const name = sp_dataset_layout_name(l);
    const char *bad = NULL;
    if (l != SP_DATASET_LAYOUT_SYNTHPIX && (c->format_given || c->shard_size_given))
        bad = c->format_given ? "--format" : "--shard-size";
    else if (c->split_given && l != SP_DATASET_LAYOUT_CAI && l != SP_DATASET_LAYOUT_LITEFLOWNET)
        bad = "--split";
    else if (c->case_given && l != SP_DATASET_LAYOUT_CAI)
        bad = "--case";
    if (bad == NULL) return SP_EXIT_OK;
    fprintf(stderr, "synthpix generate: %s does not apply to the %s layout (%s)\n", bad, name,
            strcmp(bad, "--split") == 0 ? "the cai and liteflownet layouts split their pairs"
            : strcmp(bad, "--case") == 0 ? "only the cai layout has a case name"
                                         : "the layout fixes its files; see docs/formats.md");
    return SP_EXIT_USAGE;
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
    case 'f':
        c->format_given = 1;
        return sp_dataset_format_parse(arg, &d->format) ? 0 : usage_error("format", arg, "one of png, tiff, npy, h5");
    case 'b':
        if (parse_range(arg, 8, 32, &v) || (v != 8 && v != 16 && v != 32)) return usage_error("bit-depth", arg, "8, 16 or 32");
        d->bit_depth = (int)v;
        return SP_EXIT_OK;
    case 't':
        if (parse_range(arg, 0, 1024, &v)) return usage_error("threads", arg, "an integer in [0, 1024]");
        c->threads = (int)v;
        return SP_EXIT_OK;
    case 2001:
        c->shard_size_given = 1;
        return parse_range(arg, 1, 1000000, &d->shard_size) ? usage_error("shard-size", arg, "an integer in [1, 1000000]") : 0;
    case 2004: case 2005: case 2006: return take_layout_option(c, ch, arg);
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

int sp_cli_generate_parse(int argc, char **argv, gen_cli *c)
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
        {"layout", required_argument, NULL, 2004},        {"split", required_argument, NULL, 2005},
        {"case", required_argument, NULL, 2006},          {"read-flows", no_argument, NULL, 2007},
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
        else if (ch == 2007) c->g.sampler.flow_files = SP_FLOW_FILES_READ;
        else if (take_option(c, ch, optarg) != SP_EXIT_OK) return SP_EXIT_USAGE;
    }
    if (check_layout_options(c) != SP_EXIT_OK) return SP_EXIT_USAGE;
    if (c->g.dataset.bit_depth == 32 && c->g.dataset.format != SP_DATASET_H5 &&
        c->g.dataset.layout == SP_DATASET_LAYOUT_SYNTHPIX) {
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
