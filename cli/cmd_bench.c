/* cmd_bench.c: `synthpix bench`: how close rendering comes to the machine's limit.
 *
 * The physical limit of generation is memory bandwidth: a pair writes two float32 images
 * and a float32 flow (2 H W 4 + Ho Wo 2 4 bytes). In the same run this command measures
 * the write bandwidth of the machine with the same thread count (memset of a 256 MiB
 * buffer, split between the threads, best of several passes after a first touch), renders
 * batches in memory for --seconds, and reports pairs/s, the bandwidth-bound pairs/s and
 * the fraction reached. Nothing is written to disk.
 *
 * The bandwidth probe runs before the timed region (and not at all with --no-bandwidth, so
 * that profiles and instruction counts see only rendering). --breakdown turns on the
 * library's stage timers (sp_sampler_options.stage_timers) and prints the seconds of work
 * per pair in each stage, summed over threads, for the timed batches only.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_common.h"
#include "sp/sp.h"

#define SP_BENCH_BUFFER ((size_t)256 << 20)

typedef struct bench_options {
    const char *config;
    int threads; /* -1 = from the configuration */
    double seconds;
    uint64_t pairs; /* 0 = run for `seconds` */
    int json;
    int no_bandwidth;
    int breakdown;
    int read_flows;
    int prefetch; /* -1 = the default */
} bench_options;

static void bench_usage(FILE *f)
{
    fprintf(f,
            "usage: synthpix bench [-c FILE] [--threads N] [--seconds S | --pairs N] [--json]\n"
            "                      [--no-bandwidth] [--breakdown] [--read-flows] [--prefetch T]\n\n"
            "Renders batches in memory (nothing is written to disk), measures the machine's memory\n"
            "write bandwidth in the same run, and reports pairs/s against the bandwidth bound\n"
            "(bytes a pair writes: two float32 images and the float32 flow).\n\n"
            "  -c, --config FILE   YAML configuration (default: the embedded default)\n"
            "      --threads N     threads, 0 = all cores (default: the configuration's threads)\n"
            "      --seconds S     rendering time to measure (default 3)\n"
            "      --pairs N       render exactly N pairs after a warm-up batch instead (fixed work,\n"
            "                      for instruction counts: perf stat -e instructions:u ...)\n"
            "      --json          print one JSON object instead of text\n"
            "      --no-bandwidth  skip the bandwidth probe (for profiles and instruction counts)\n"
            "      --breakdown     time each stage (load, flow, particles, bins, render, noise, post)\n"
            "                      with the library's timers: work per pair, summed over threads\n"
            "      --read-flows    read .npy/.flo flow files instead of mapping them (as generate)\n"
            "      --prefetch T    load flow records ahead on T extra threads, 0 = none (as generate)\n"
            "  -h, --help          this help\n");
}

static int parse_bench(int argc, char **argv, bench_options *o)
{
    static const struct option longs[] = {{"config", required_argument, NULL, 'c'},
                                           {"threads", required_argument, NULL, 't'},
                                           {"seconds", required_argument, NULL, 's'},
                                           {"json", no_argument, NULL, 'j'},
                                           {"pairs", required_argument, NULL, 'p'},
                                           {"no-bandwidth", no_argument, NULL, 'n'},
                                           {"breakdown", no_argument, NULL, 'b'},
                                           {"read-flows", no_argument, NULL, 'r'},
                                           {"prefetch", required_argument, NULL, 'f'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->threads = -1;
    o->prefetch = -1;
    o->seconds = 3.0;
    optind = 1;
    int ch;
    uint64_t v;
    while ((ch = getopt_long(argc, argv, "c:h", longs, NULL)) != -1) {
        switch (ch) {
        case 'c': o->config = optarg; break;
        case 't':
            if (sp_cli_parse_u64(optarg, &v) != 0 || v > 1024) {
                fprintf(stderr, "synthpix bench: --threads: '%s' is not an integer in [0, 1024]\n", optarg);
                return SP_EXIT_USAGE;
            }
            o->threads = (int)v;
            break;
        case 's': {
            char *end = NULL;
            o->seconds = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(o->seconds > 0) || o->seconds > 3600) {
                fprintf(stderr, "synthpix bench: --seconds: '%s' is not a number in (0, 3600]\n", optarg);
                return SP_EXIT_USAGE;
            }
            break;
        }
        case 'j': o->json = 1; break;
        case 'n': o->no_bandwidth = 1; break;
        case 'b': o->breakdown = 1; break;
        case 'r': o->read_flows = 1; break;
        case 'f':
            if (sp_cli_parse_u64(optarg, &v) != 0 || v > 64) {
                fprintf(stderr, "synthpix bench: --prefetch: '%s' is not an integer in [0, 64]\n", optarg);
                return SP_EXIT_USAGE;
            }
            o->prefetch = (int)v;
            break;
        case 'p':
            if (sp_cli_parse_u64(optarg, &o->pairs) != 0 || o->pairs == 0) {
                fprintf(stderr, "synthpix bench: --pairs: '%s' is not a positive integer\n", optarg);
                return SP_EXIT_USAGE;
            }
            break;
        case 'h': bench_usage(stdout); return -1;
        default: bench_usage(stderr); return SP_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "synthpix bench: unexpected argument '%s'\n", argv[optind]);
        return SP_EXIT_USAGE;
    }
    return SP_EXIT_OK;
}

typedef struct fill_ctx {
    unsigned char *buf;
    size_t slice;
    int value;
} fill_ctx;

static void fill_item(void *ctx, size_t item, unsigned worker)
{
    fill_ctx *const f = (fill_ctx *)ctx;
    (void)worker;
    memset(f->buf + item * f->slice, f->value, f->slice);
}

/* Best-of-passes write bandwidth in bytes/s with all the pool's threads. */
static double write_bandwidth(sp_pool *pool)
{
    unsigned const n = sp_pool_size(pool);
    size_t const slice = SP_BENCH_BUFFER / n / 4096 * 4096;
    fill_ctx f = {(unsigned char *)malloc(slice * n), slice, 1};
    if (f.buf == NULL) return 0;
    sp_pool_run(pool, n, fill_item, &f); /* first touch: page faults are not bandwidth */
    double best = 0;
    double const start = sp_cli_now();
    for (int pass = 0; pass < 50 && (pass < 5 || sp_cli_now() - start < 0.5); pass++) {
        f.value = pass & 0xff;
        double const t0 = sp_cli_now();
        sp_pool_run(pool, n, fill_item, &f);
        double const dt = sp_cli_now() - t0;
        double const bw = (double)(slice * n) / dt;
        if (bw > best) best = bw;
    }
    volatile unsigned char sink = f.buf[slice * n - 1]; /* keep the stores */
    (void)sink;
    free(f.buf);
    return best;
}

static int render_for(sp_sampler *s, double seconds, uint64_t target, uint64_t *pairs, double *elapsed)
{
    const sp_batch *b = NULL;
    sp_error e;
    sp_status st = sp_sampler_next(s, &b, &e); /* warm-up: allocations, first flows */
    sp_sampler_stage_times_reset(s);
    double const t0 = sp_cli_now();
    *pairs = 0;
    while (st == SP_OK && (target ? *pairs < target : sp_cli_now() - t0 < seconds)) {
        st = sp_sampler_next(s, &b, &e);
        if (st == SP_OK) *pairs += b->batch_size;
    }
    *elapsed = sp_cli_now() - t0;
    if (st == SP_ERR_END) {
        sp_sampler_reset(s);
        st = SP_OK;
    }
    if (st != SP_OK) {
        fprintf(stderr, "synthpix bench: %s\n", e.message);
        return sp_cli_exit_code(st);
    }
    return SP_EXIT_OK;
}

static void report_breakdown(const bench_options *o, const sp_stage_times *t)
{
    double total = 0;
    for (int k = 0; k < SP_STAGE_COUNT; k++) total += t->seconds[k];
    double const per = t->pairs ? 1e3 / (double)t->pairs : 0;
    if (o->json) {
        printf(", \"breakdown_ms_per_pair\": {");
        for (int k = 0; k < SP_STAGE_COUNT; k++)
            printf("%s\"%s\": %.6f", k ? ", " : "", sp_stage_name((sp_stage)k), t->seconds[k] * per);
        printf("}, \"wall_ms_per_pair\": %.6f", t->wall * per);
        return;
    }
    printf("  stage          ms/pair   share   (work summed over threads; %llu pairs)\n",
           (unsigned long long)t->pairs);
    for (int k = 0; k < SP_STAGE_COUNT; k++)
        printf("    %-10s %10.4f %6.1f%%\n", sp_stage_name((sp_stage)k), t->seconds[k] * per,
               total > 0 ? 100.0 * t->seconds[k] / total : 0.0);
    printf("    %-10s %10.4f          (time in sp_sampler_next; work/wall = %.2f threads busy)\n", "wall",
           t->wall * per, t->wall > 0 ? total / t->wall : 0.0);
}

/* bw 0: not measured (--no-bandwidth). */
static void report(const bench_options *o, const sp_geometry *g, size_t B, unsigned threads, double pps,
                   double bw, uint64_t pairs, double secs, const sp_stage_times *t)
{
    double const bytes = 2.0 * (double)(g->height * g->width) * 4.0 + (double)(g->flow_h * g->flow_w) * 8.0;
    double const bound = bw / bytes;
    if (o->json) {
        printf("{\"pairs_per_second\": %.3f, \"threads\": %u, \"image_shape\": [%zu, %zu], \"flow_shape\": [%zu, %zu, 2], "
               "\"batch_size\": %zu, \"bytes_per_pair\": %.0f, \"pairs\": %llu, \"seconds\": %.3f",
               pps, threads, g->height, g->width, g->flow_h, g->flow_w, B, bytes, (unsigned long long)pairs, secs);
        if (bw > 0)
            printf(", \"bandwidth_bound_pairs_per_second\": %.3f, \"fraction_of_bound\": %.6g, "
                   "\"write_bandwidth_bytes_per_second\": %.0f",
                   bound, pps / bound, bw);
        if (o->breakdown) report_breakdown(o, t);
        printf("}\n");
        return;
    }
    printf("synthpix bench: %zux%zu images, batch %zu, %u thread%s\n", g->height, g->width, B, threads, threads == 1 ? "" : "s");
    printf("  rendered          %10.1f pairs/s (%llu pairs in %.2f s)\n", pps, (unsigned long long)pairs, secs);
    if (bw > 0) {
        printf("  write bandwidth   %10.2f GB/s (memset, %u threads)\n", bw / 1e9, threads);
        printf("  bandwidth bound   %10.1f pairs/s (%.0f bytes per pair)\n", bound, bytes);
        printf("  fraction of bound %10.3f\n", pps / bound);
    }
    if (o->breakdown) report_breakdown(o, t);
}

int sp_cmd_bench(int argc, char **argv)
{
    bench_options o;
    int rc = parse_bench(argc, argv, &o);
    if (rc != SP_EXIT_OK) return rc < 0 ? SP_EXIT_OK : rc;
    sp_config cfg;
    rc = sp_cli_load_config(o.config, &cfg);
    if (rc != SP_EXIT_OK) return rc;
    if (o.threads >= 0) cfg.threads = o.threads;
    sp_pool *pool = NULL;
    sp_sampler *s = NULL;
    if (sp_pool_create(&pool, (unsigned)(cfg.threads > 0 ? cfg.threads : 0)) != SP_OK) rc = SP_EXIT_RUNTIME;
    sp_sampler_options so;
    sp_sampler_options_init(&so);
    so.pool = pool;
    so.stage_timers = o.breakdown;
    so.flow_files = o.read_flows ? SP_FLOW_FILES_READ : SP_FLOW_FILES_AUTO;
    if (o.prefetch >= 0) so.prefetch_threads = o.prefetch == 0 ? SP_PREFETCH_OFF : (unsigned)o.prefetch;
    sp_error e;
    if (rc == SP_EXIT_OK && sp_sampler_create(&s, &cfg, &so, &e) != SP_OK) {
        fprintf(stderr, "synthpix bench: %s\n", e.message);
        rc = SP_EXIT_USAGE;
    }
    uint64_t pairs = 0;
    double secs = 0;
    if (rc == SP_EXIT_OK) {
        double const bw = o.no_bandwidth ? 0.0 : write_bandwidth(pool);
        rc = render_for(s, o.seconds, o.pairs, &pairs, &secs);
        sp_stage_times t;
        sp_sampler_stage_times(s, &t);
        if (rc == SP_EXIT_OK)
            report(&o, sp_sampler_geometry(s), (size_t)cfg.batch_size, sp_pool_size(pool), (double)pairs / secs, bw,
                   pairs, secs, &t);
    }
    sp_sampler_free(s);
    sp_pool_free(pool);
    sp_config_free(&cfg);
    return rc;
}
