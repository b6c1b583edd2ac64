/* cmd_preview.c: `synthpix preview`: one PNG sheet that shows pair PAIR of a configuration's
 * stream at a glance: both frames, their histograms, the ground-truth flow in Middlebury
 * colours with the colour wheel as its key, and the displacement magnitude with arrows.
 *
 *   options -> configuration (sp_cli_load_config) -> the output path's pre-flight checks
 *   -> a sampler: sp_sampler_skip over the PAIR / B whole batches before the pair (cheap:
 *      nothing is rendered), sp_sampler_next for the batch holding it, pair PAIR mod B
 *   -> the frames quantised as generate writes them (sp_quantize_u8), the flow in pixels
 *   -> sp_cli_preview_draw (cli/preview_draw.c, libcairo) into memory
 *   -> sp_fs_replace_file: a temporary, fsync'd and renamed over the output, so a failure
 *      never leaves a partial PNG, and a symbolic link or anything but a regular file under
 *      the output's name is refused
 *   -> with --layout-json, the panels' rectangles as JSON on stdout (for tests and tools).
 *
 * Exit codes: 0 written; 2 usage, configuration or input error (a bad PAIR, a pair past the
 * end of a finite stream, an output path that cannot be used, a build without libcairo);
 * 1 runtime error. Nothing is written unless the whole sheet was drawn.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_common.h"
#include "sp/sp.h"

#if SP_HAVE_CAIRO
#include <jansson.h>

#include "preview.h"

_Static_assert(SP_PREVIEW_WIDTH == 1240 && SP_PREVIEW_HEIGHT == 860, "the size preview_usage states");
#endif

typedef struct preview_cli {
    const char *config; /* NULL: the embedded default */
    const char *out;
    uint64_t pair;
    int layout_json;
} preview_cli;

static void preview_usage(FILE *f)
{
    fprintf(f,
            "usage: synthpix preview [-c FILE] [-n PAIR] [-o FILE] [--layout-json]\n\n"
            "Renders pair PAIR of the configuration's stream and writes one PNG (%d x %d px) that shows\n"
            "it at a glance: image 1, image 2 (8-bit, as `synthpix generate` writes them), their intensity\n"
            "histograms, the ground-truth flow in the Middlebury colour coding with the colour wheel as its\n"
            "key (its rim is the largest displacement, in pixels), and the displacement magnitude with arrows.\n\n"
            "  -c, --config FILE   YAML configuration (default: the embedded default, as generate)\n"
            "  -n, --pair PAIR     the pair's index in the stream, 0-based (default 0): pair PAIR of\n"
            "                      `synthpix generate -c FILE`, whatever the batch size\n"
            "  -o, --output FILE   the PNG to write (default preview.png); an existing regular file is\n"
            "                      replaced atomically, a symbolic link or anything else is refused\n"
            "      --layout-json   print the panels' rectangles (pixels) and the largest displacement\n"
            "                      as one JSON object on stdout\n"
            "  -h, --help          this help\n\n"
            "Exit status: 0 success, 2 usage, configuration or input error, 1 runtime error.\n",
            1240, 860);
#if !SP_HAVE_CAIRO
    fprintf(f, "\nThis build of synthpix lacks libcairo: the command only says so (Debian: libcairo2-dev).\n");
#endif
}

/* PAIR: a whole number below 2^40 (skipping that many pairs takes seconds, not hours). */
#define PREVIEW_MAX_PAIR ((uint64_t)1 << 40)

static int parse_options(int argc, char **argv, preview_cli *c)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'}, {"pair", required_argument, NULL, 'n'},
        {"output", required_argument, NULL, 'o'}, {"layout-json", no_argument, NULL, 1001},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:n:o:h", longs, NULL)) != -1) {
        switch (ch) {
        case 'c': c->config = optarg; break;
        case 'o': c->out = optarg; break;
        case 1001: c->layout_json = 1; break;
        case 'h': preview_usage(stdout); return -1;
        case 'n':
            if (sp_cli_parse_u64(optarg, &c->pair) != 0 || c->pair >= PREVIEW_MAX_PAIR) {
                fprintf(stderr, "synthpix preview: --pair: '%s' is not a pair index (a whole number in [0, 2^40))\n",
                        optarg);
                return SP_EXIT_USAGE;
            }
            break;
        default: preview_usage(stderr); return SP_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "synthpix preview: unexpected argument '%s'\n", argv[optind]);
        return SP_EXIT_USAGE;
    }
    if (c->out[0] == '\0') {
        fprintf(stderr, "synthpix preview: --output: empty file name\n");
        return SP_EXIT_USAGE;
    }
    return SP_EXIT_OK;
}

#if SP_HAVE_CAIRO

/* Before any rendering: the output's folder exists, and the output is absent or a regular
 * file (sp_fs_replace_file checks links and folders again when it writes; lstat also sees
 * FIFOs, sockets and devices, which sp_fs cannot tell apart). */
static int check_output(const char *path)
{
    char dir[4096];
    const char *const slash = strrchr(path, '/');
    size_t const n = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir) {
        fprintf(stderr, "synthpix preview: %s: path too long\n", path);
        return SP_EXIT_USAGE;
    }
    memcpy(dir, slash ? path : ".", slash ? n : 1);
    dir[slash ? n : 1] = '\0';
    struct stat st;
    int const found = stat(dir, &st) == 0;
    if (!found || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "synthpix preview: %s: folder %s %s\n", path, dir,
                found ? "is not a folder" : errno == ENOENT ? "does not exist" : strerror(errno));
        return SP_EXIT_USAGE;
    }
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        fprintf(stderr, "synthpix preview: %s: %s (refused: only a regular file is replaced)\n", path,
                S_ISLNK(st.st_mode) ? "is a symbolic link" : S_ISDIR(st.st_mode) ? "is a directory"
                                                                                 : "is not a regular file");
        return SP_EXIT_USAGE;
    }
    return SP_EXIT_OK;
}

/* Skips n whole batches; in episodic mode an episode's end moves on to the next episode, as
 * a reader of the whole stream does. */
static sp_status skip_batches(sp_sampler *s, uint64_t n, sp_error *err)
{
    while (n > 0) {
        uint64_t done = 0;
        sp_status const st = sp_sampler_skip(s, n, &done, err);
        n -= done;
        if (st == SP_ERR_EPISODE_END) {
            sp_status const e = sp_sampler_next_episode(s, err);
            if (e != SP_OK) return e;
        } else if (st != SP_OK) {
            return st;
        }
    }
    return SP_OK;
}

static sp_status next_batch(sp_sampler *s, const sp_batch **b, sp_error *err)
{
    sp_status st = sp_sampler_next(s, b, err);
    if (st == SP_ERR_EPISODE_END) {
        st = sp_sampler_next_episode(s, err);
        if (st == SP_OK) st = sp_sampler_next(s, b, err);
    }
    return st;
}

/* The batch holding pair c->pair and its index k in it. Returns an exit code, having said why. */
static int find_pair(const preview_cli *c, sp_sampler *s, const sp_batch **b, size_t *k)
{
    size_t const bsz = (size_t)sp_sampler_config(s)->batch_size;
    sp_error e;
    sp_error_clear(&e);
    sp_status st = skip_batches(s, c->pair / bsz, &e);
    if (st == SP_OK) st = next_batch(s, b, &e);
    *k = (size_t)(c->pair % bsz);
    if (st == SP_ERR_END || (st == SP_OK && !(*b)->mask[*k])) {
        fprintf(stderr, "synthpix preview: --pair %llu is past the end of the stream of %s (loop: false)\n",
                (unsigned long long)c->pair, c->config ? c->config : "<embedded default>");
        return SP_EXIT_USAGE;
    }
    if (st != SP_OK) {
        fprintf(stderr, "synthpix preview: %s\n", e.message[0] ? e.message : sp_strerror(st));
        return sp_cli_exit_code(st);
    }
    return SP_EXIT_OK;
}

/* What the sheet shows of pair k: owned buffers, freed by free_sheet. */
typedef struct sheet {
    uint8_t *img1, *img2;
    float *flow_px;
    char title[512], subtitle[512];
    sp_cli_preview_input in;
} sheet;

static void free_sheet(sheet *sh)
{
    free(sh->img1);
    free(sh->img2);
    free(sh->flow_px);
}

/* The configuration's name for the title: the file's last component, or the default's. */
static const char *config_name(const char *path)
{
    if (path == NULL) return "embedded default configuration";
    const char *const slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

static void sheet_texts(sheet *sh, const preview_cli *c, const sp_sampler *s, const sp_batch *b, size_t k)
{
    const sp_config *const cfg = sp_sampler_config(s);
    char particles[64];
    if (cfg->include_images) snprintf(particles, sizeof particles, "recorded image pair");
    else snprintf(particles, sizeof particles, "%lu particles", (unsigned long)b->params[k].particles);
    snprintf(sh->title, sizeof sh->title, "%s  |  pair %llu  |  %zu x %zu px  |  %s", config_name(c->config),
             (unsigned long long)c->pair, b->width, b->height, particles);
    snprintf(sh->subtitle, sizeof sh->subtitle,
             "synthpix %s preview: pair %zu of batch %llu, record %s; flow in pixels per pair "
             "(u right, v down)",
             sp_version_string(), k, (unsigned long long)b->batch_index, b->files[k][0] ? b->files[k] : "-");
}

/* Fills sh from pair k of b: the frames as 8-bit, the flow as pixels per pair. */
static int fill_sheet(sheet *sh, const preview_cli *c, const sp_sampler *s, const sp_batch *b, size_t k)
{
    size_t const npx = b->height * b->width, nfl = b->flow_height * b->flow_width * 2;
    sh->img1 = (uint8_t *)malloc(npx);
    sh->img2 = (uint8_t *)malloc(npx);
    sh->flow_px = (float *)malloc(nfl * sizeof(float));
    if (sh->img1 == NULL || sh->img2 == NULL || sh->flow_px == NULL) {
        fprintf(stderr, "synthpix preview: out of memory\n");
        return SP_EXIT_RUNTIME;
    }
    sp_quantize_u8(b->images1 + k * npx, npx, sh->img1);
    sp_quantize_u8(b->images2 + k * npx, npx, sh->img2);
    /* Output flows are pixels per pair, or units/s: pixels = units/s x resolution x dt
     * (docs/synthpix-compat.md, "Flow adapter"). */
    const sp_config *const cfg = sp_sampler_config(s);
    double const to_px = cfg->output_units == SP_UNITS_PIXELS ? 1.0 : sp_sampler_geometry(s)->resolution * cfg->dt;
    const float *const flow = b->flow_fields + k * nfl;
    for (size_t i = 0; i < nfl; i++) sh->flow_px[i] = (float)((double)flow[i] * to_px);
    sheet_texts(sh, c, s, b, k);
    sp_cli_preview_input const in = {sh->img1, sh->img2, b->height, b->width, sh->flow_px,
                                     b->flow_height, b->flow_width, sh->title, sh->subtitle};
    sh->in = in;
    return SP_EXIT_OK;
}

static json_t *rect_json(sp_cli_rect r)
{
    return json_pack("{s:i, s:i, s:i, s:i}", "x", r.x, "y", r.y, "w", r.w, "h", r.h);
}

/* The layout on stdout: {"width", "height", "pair", "max_displacement_px", "panels": {...}}. */
static int print_layout(const sp_cli_preview_layout *l, uint64_t pair)
{
    json_t *const panels = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "image1", rect_json(l->image1), "image2",
                                     rect_json(l->image2), "flow", rect_json(l->flow), "wheel", rect_json(l->wheel),
                                     "magnitude", rect_json(l->magnitude), "colour_bar", rect_json(l->colour_bar),
                                     "histogram", rect_json(l->histogram));
    json_t *const root = json_pack("{s:i, s:i, s:I, s:f, s:o}", "width", l->width, "height", l->height, "pair",
                                   (json_int_t)pair, "max_displacement_px", l->max_displacement_px, "panels", panels);
    int const rc = root != NULL && json_dumpf(root, stdout, JSON_SORT_KEYS) == 0 ? 0 : -1;
    printf("\n");
    json_decref(root);
    return rc == 0 ? SP_EXIT_OK : SP_EXIT_RUNTIME;
}

/* Draws the sheet and puts it in place atomically. */
static int draw_and_write(const preview_cli *c, const sheet *sh, sp_cli_preview_layout *lay)
{
    sp_membuf png = {0};
    char why[256];
    if (sp_cli_preview_draw(&sh->in, &png, lay, why, sizeof why) != 0) {
        fprintf(stderr, "synthpix preview: %s: %s\n", c->out, why);
        sp_membuf_free(&png);
        return SP_EXIT_RUNTIME;
    }
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_fs_replace_file(NULL, c->out, png.data, png.size, &e);
    sp_membuf_free(&png);
    if (st != SP_OK) {
        fprintf(stderr, "synthpix preview: %s\n", e.message[0] ? e.message : sp_strerror(st));
        return st == SP_ERR_EXISTS || st == SP_ERR_NOTFOUND ? SP_EXIT_USAGE : SP_EXIT_RUNTIME;
    }
    return SP_EXIT_OK;
}

static int render(const preview_cli *c, const sp_config *cfg)
{
    sp_sampler *s = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_sampler_create(&s, cfg, NULL, &e);
    if (st != SP_OK) {
        fprintf(stderr, "synthpix preview: %s\n", e.message[0] ? e.message : sp_strerror(st));
        return sp_cli_exit_code(st);
    }
    const sp_batch *b = NULL;
    size_t k = 0;
    sheet sh = {0};
    sp_cli_preview_layout lay;
    int rc = find_pair(c, s, &b, &k);
    if (rc == SP_EXIT_OK) rc = fill_sheet(&sh, c, s, b, k);
    if (rc == SP_EXIT_OK) rc = draw_and_write(c, &sh, &lay);
    if (rc == SP_EXIT_OK && c->layout_json) rc = print_layout(&lay, c->pair);
    if (rc == SP_EXIT_OK)
        fprintf(stderr, "synthpix preview: wrote %s (pair %llu, %d x %d px)\n", c->out, (unsigned long long)c->pair,
                lay.width, lay.height);
    free_sheet(&sh);
    sp_sampler_free(s);
    return rc;
}

int sp_cmd_preview(int argc, char **argv)
{
    preview_cli c = {NULL, "preview.png", 0, 0};
    int const prc = parse_options(argc, argv, &c);
    if (prc != SP_EXIT_OK) return prc < 0 ? SP_EXIT_OK : prc;
    int rc = check_output(c.out);
    if (rc != SP_EXIT_OK) return rc;
    sp_config cfg;
    rc = sp_cli_load_config(c.config, &cfg);
    if (rc != SP_EXIT_OK) return rc;
    rc = render(&c, &cfg);
    sp_config_free(&cfg);
    return rc;
}

#else /* !SP_HAVE_CAIRO */

int sp_cmd_preview(int argc, char **argv)
{
    preview_cli c = {NULL, "preview.png", 0, 0};
    int const prc = parse_options(argc, argv, &c);
    if (prc != SP_EXIT_OK) return prc < 0 ? SP_EXIT_OK : prc;
    fprintf(stderr, "synthpix preview: this build of synthpix lacks libcairo, which draws the preview.\n"
                    "Install it (Debian: apt-get install libcairo2-dev), then configure and build again\n"
                    "(cmake -S . -B build -DSP_WITH_CAIRO=ON && cmake --build build).\n");
    return SP_EXIT_USAGE;
}

#endif /* SP_HAVE_CAIRO */
